"""The raw-domain check of a raw set's noise calibration: the noise of its captures themselves (a pair's long
and short exposure in DN, black-subtracted, per CFA site), fitted the way the tiles are, beside the DNG's
NoiseProfile where the file carries one.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import rawpy

from sparsefield.data.raw.calibration import HIGHLIGHT, MAX_PIXELS, _fit
from sparsefield.data.raw.sid import captures, read_lists

NOISE_PROFILE_TAG = 51041  # DNG 1.3 NoiseProfile: (S, O) per CFA plane, Var = S x + O

def read_noise_profile(path: str | os.PathLike) -> tuple[float, ...] | None:
    """The NoiseProfile tag (51041, DOUBLE) of a DNG's first IFD, or None when it has none."""
    data = Path(path).read_bytes()
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or struct.unpack(order + "H", data[2:4])[0] != 42:
        raise ValueError(f"{path}: not a TIFF/DNG file")
    ifd = struct.unpack(order + "I", data[4:8])[0]
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    for i in range(count):
        tag, kind, n, offset = struct.unpack(order + "HHII", data[ifd + 2 + 12 * i : ifd + 14 + 12 * i])
        if tag == NOISE_PROFILE_TAG and kind == 12:  # DOUBLE: always stored at the offset (8 bytes each)
            return struct.unpack(order + f"{n}d", data[offset : offset + 8 * n])
    return None

def _normalised(path: Path, step: int = 1) -> tuple[np.ndarray, float, int]:
    """(DN - black) / (white - black) of every `step`-th value of a raw file's visible mosaic (black per CFA site),
    float64 (flat); white - black; and the number of those values clipped at 0 DN."""

    with rawpy.imread(os.fspath(path)) as raw:
        dn = raw.raw_image_visible.ravel()[::step].astype(np.float64)
        black = np.asarray(raw.black_level_per_channel, np.float64)[raw.raw_colors_visible.ravel()[::step]]
        white = float(raw.white_level)
    return (dn - black) / (white - black), float(white - black.mean()), int((dn <= 0).sum())

def _mosaic_size(path: Path) -> int:

    with rawpy.imread(os.fspath(path)) as raw:
        return int(raw.raw_image_visible.size)

def calibrate_raw(root: str | os.PathLike, camera: str, split: str = "train") -> list[dict]:
    """Eq. (1) on the raw mosaic per scene (CFA sites pooled) against the DNG's NoiseProfile (module docstring).

    Returns:
        One row per scene: scene, iso, shot, read (fitted), shot_se, read_se, tag_shot, tag_read (the
        NoiseProfile written, None when absent), shot_rel_error, read_rel_error, quantisation (1/12 DN^2,
        subtracted from the fitted floor to give read), n_pixels (used), clipped_at_0 (short values at 0 DN:
        0 for the builtin set, else the fit is biased low).
    """
    root = Path(root)
    known = captures(read_lists(root, camera))
    rows = []
    for scene in sorted({c.scene for c in known.values() if c.split == split and c.data_type == "noisy"}):
        shorts = [c for c in known.values() if c.scene == scene and c.data_type == "noisy"]
        size = _mosaic_size(root / shorts[0].path)
        step = -(-len(shorts) * size // MAX_PIXELS)  # ceil: every value of a scene below the bound
        longs = {c.partner: _normalised(root / known[c.partner].path, step) for c in shorts}
        means, values, signals, clipped = [], [], [], 0
        for c in shorts:
            x, span, _ = longs[c.partner]
            y, _, zeros = _normalised(root / c.path, step)
            keep = x <= HIGHLIGHT  # the long exposure clips at white
            means.append(x[keep] / c.ratio)
            values.append(y[keep])
            signals.append(x[keep] / c.ratio * (1.0 + 1.0 / c.ratio))  # its own noise (module docstring)
            clipped += zeros
        fit = _fit(np.concatenate(means), np.concatenate(values), signal=np.concatenate(signals),
                   quantum=1.0 / span)
        quantisation = 1.0 / (12.0 * span**2)  # rounding to whole DN, in normalised units
        read = fit["b"] - quantisation
        profile = read_noise_profile(root / shorts[0].path)
        tag_shot, tag_read = (None, None) if profile is None else (float(profile[0]), float(profile[1]))
        rows.append({
            "scene": scene, "iso": shorts[0].iso, "shot": fit["a"], "read": read, "shot_se": fit["a_se"],
            "read_se": fit["b_se"], "tag_shot": tag_shot, "tag_read": tag_read,
            "shot_rel_error": None if profile is None else fit["a"] / tag_shot - 1.0,
            "read_rel_error": None if profile is None else read / tag_read - 1.0,
            "quantisation": quantisation, "n_pixels": fit["n"], "clipped_at_0": clipped,
        })
    if not rows:
        raise ValueError(f"{root}: the {camera} {split} list names no short exposures; calibrate on another split")
    return rows
