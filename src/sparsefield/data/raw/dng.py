"""Write one CFA mosaic as a DNG file that rawpy (LibRaw) reads back exactly (pidng).

What LibRaw needs, measured with rawpy 0.28 / LibRaw 0.22 / pidng 4.0.9: without the CFA
tags (CFARepeatPatternDim, CFAPattern) it demosaics garbage; without AsShotNeutral it
reports no as-shot white balance (camera_whitebalance [0, 1, 0, 0]) and `use_camera_wb`
falls back to its per-image automatic balance; BlackLevel(+RepeatDim) and WhiteLevel give
its levels.
pidng's 14-bit packer and its LJ92 compressor both crash on Python 3.11, so 14-bit
values are stored in a 16-bit container, uncompressed. The file carries no timestamp:
the same mosaic and tags give the same bytes.

NoiseProfile (DNG 1.3) records the sensor noise the way cameras do: per CFA plane a
pair (S, O) with variance S x + O for the signal x normalised to [0, 1] between the
black and the white level.

Two variants exist for testing what a user's camera may hand over: `as_shot_neutral=None`
leaves out AsShotNeutral (a camera that records no as-shot white balance), and a
(H, W, 3) array is written as a LinearRaw DNG (PhotometricInterpretation 34892, three
samples per pixel, no CFA tags: what Adobe's converter writes for demosaiced, sRAW or
Foveon data), which LibRaw opens without a CFA pattern.
"""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np

# CFA colour codes of the DNG spec: 0 red, 1 green, 2 blue
CFA_CODES = {"R": 0, "G": 1, "B": 2}
MAKE, MODEL = "sparsefield", "builtin"


def _rational(value: float, denominator: int = 1_000_000) -> list[int]:
    f = Fraction(float(value)).limit_denominator(denominator)
    return [f.numerator, f.denominator]


def _check(mosaic: np.ndarray, cfa: str, black: int, white: int) -> None:
    period = int(round(len(cfa) ** 0.5))
    linear = mosaic.ndim == 3 and mosaic.shape[2] == 3
    if mosaic.dtype != np.uint16 or not (mosaic.ndim == 2 or linear):
        raise ValueError(f"write_dng: mosaic must be uint16 (H, W) or (H, W, 3), got {mosaic.dtype} {mosaic.shape}")
    if period * period != len(cfa) or set(cfa) - set(CFA_CODES):
        raise ValueError(f"write_dng: cfa must be 4 or 36 letters of R, G, B, got {cfa!r}")
    height, width = mosaic.shape[:2]
    if not linear and (height % period or width % period):
        raise ValueError(f"write_dng: {height}x{width} is not a multiple of the CFA period {period}")
    if not 0 <= black < white <= 65535:
        raise ValueError(f"write_dng: need 0 <= black < white <= 65535, got {black} and {white}")


def _image_tags(mosaic: np.ndarray, cfa: str, black: int, white: int):
    """pidng tags of the image layout: size, one tile, CFA or LinearRaw, levels."""
    from pidng.core import DNGTags, Tag
    from pidng.defs import Orientation, PhotometricInterpretation

    height, width = mosaic.shape[:2]
    tags = DNGTags()
    tags.set(Tag.ImageWidth, width)
    tags.set(Tag.ImageLength, height)
    tags.set(Tag.TileWidth, width)
    tags.set(Tag.TileLength, height)
    tags.set(Tag.Orientation, Orientation.Horizontal)
    if mosaic.ndim == 3:  # LinearRaw: interleaved RGB samples (PlanarConfiguration 1, the default)
        tags.set(Tag.PhotometricInterpretation, PhotometricInterpretation.Linear_Raw)
        tags.set(Tag.SamplesPerPixel, 3)
        tags.set(Tag.BitsPerSample, [16, 16, 16])
        tags.set(Tag.BlackLevelRepeatDim, [1, 1])
        tags.set(Tag.BlackLevel, [int(black)] * 3)
    else:
        period = int(round(len(cfa) ** 0.5))
        tags.set(Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array)
        tags.set(Tag.SamplesPerPixel, 1)
        tags.set(Tag.BitsPerSample, 16)  # 14-bit values in a 16-bit container (module docstring)
        tags.set(Tag.CFARepeatPatternDim, [period, period])
        tags.set(Tag.CFAPattern, [CFA_CODES[c] for c in cfa])
        tags.set(Tag.BlackLevelRepeatDim, [2, 2])
        tags.set(Tag.BlackLevel, [int(black)] * 4)
    tags.set(Tag.WhiteLevel, int(white))
    return tags


def write_dng(
    path: str | os.PathLike,
    mosaic: np.ndarray,
    *,
    cfa: str = "RGGB",
    black: int = 512,
    white: int = 16383,
    xyz2cam: np.ndarray | None = None,
    as_shot_neutral: tuple[float, float, float] | None = (1.0, 1.0, 1.0),
    exposure_s: float | None = None,
    iso: int | None = None,
    fnumber: float | None = None,
    noise_profile: tuple[float, float] | None = None,
) -> None:
    """Write `mosaic` as an uncompressed single-tile DNG at `path`.

    Args:
        mosaic: uint16 (H, W) raw values (black level included), H and W multiples of the
            CFA period; or uint16 (H, W, 3) camera RGB, written as a LinearRaw DNG (`cfa` unused).
        cfa: the CFA colours row by row, 4 letters (2x2 Bayer) or 36 (6x6 X-Trans).
        black, white: black and white level, the same for every channel.
        xyz2cam: (3, 3) XYZ (D65) -> camera matrix (DNG ColorMatrix1); identity when None.
        as_shot_neutral: camera-space values of a neutral grey (the white balance is their inverse);
            None leaves the tag out.
        exposure_s, iso, fnumber: exposure time, ISO and F-number tags, when given.
        noise_profile: (S, O) of the signal-dependent noise variance S x + O, when given.
    """
    from pidng.core import RAW2DNG, Tag
    from pidng.defs import CalibrationIlluminant

    mosaic = np.ascontiguousarray(mosaic)
    _check(mosaic, cfa, black, white)
    xyz2cam = np.eye(3) if xyz2cam is None else np.asarray(xyz2cam, dtype=np.float64)
    tags = _image_tags(mosaic, cfa, black, white)
    tags.set(Tag.ColorMatrix1, [_rational(v) for v in xyz2cam.ravel()])
    tags.set(Tag.CalibrationIlluminant1, CalibrationIlluminant.D65)
    if as_shot_neutral is not None:
        tags.set(Tag.AsShotNeutral, [_rational(v) for v in as_shot_neutral])
    tags.set(Tag.Make, MAKE)
    tags.set(Tag.Model, MODEL)
    tags.set(Tag.UniqueCameraModel, f"{MAKE} {MODEL}")
    if exposure_s is not None:
        tags.set(Tag.ExposureTime, [_rational(exposure_s)])
    if iso is not None:
        tags.set(Tag.PhotographicSensitivity, [int(iso)])
    if fnumber is not None:
        tags.set(Tag.FNumber, [_rational(fnumber, 100)])
    if noise_profile is not None:
        tags.set(Tag.NoiseProfile, [float(v) for v in noise_profile])
    writer = RAW2DNG()
    writer.options(tags, path="", compress=False)
    data = writer.convert(mosaic)  # bytes of the whole file (no filename: nothing written yet)
    with open(path, "wb") as f:
        f.write(data)
