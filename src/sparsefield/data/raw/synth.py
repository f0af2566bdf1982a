"""The builtin raw set: SID-like DNG captures written from scikit-image's photographs.

Inverse camera pipeline (Brooks et al. 2019, "Unprocessing images for learned raw
denoising", Sec. 3.1) of a scene, a crop of a photograph in sRGB y in [0, 1]:

    inverse tone map   x = 0.5 - sin(asin(1 - 2y) / 3)            (inverse smoothstep)
    inverse gamma      x = max(x, 1e-8)^2.2
    inverse colour     x = rgb2cam x,  rgb2cam = xyz2cam rgb2xyz with rows normalised to 1
    inverse gains      x = x (1/g_r, 1, 1/g_b) / g_rgb               (eased to 1 near white: highlights kept)
    mosaic             RGGB, clipped to [0, 1]: the mean signal of the long exposure

One camera per raw set: xyz2cam is a random convex combination of the paper's four
XYZ -> camera matrices. Per scene, as in the paper: g_rgb = 1 / N(0.8, 0.1),
g_r ~ U(1.9, 2.4), g_b ~ U(1.5, 1.9) (white balance, written as AsShotNeutral).

Sensor noise (Sec. 3.2), Poisson-Gaussian on the normalised raw value, for an exposure
r times shorter than the long one (r = 1 for the long exposure):

    y = lambda_s Poisson(x / (r lambda_s)) + N(0, lambda_r):   E y = x / r,  Var y = lambda_s E y + lambda_r
    DN = round(black + (white - black) y), clipped to [0, white]   (14 bits: black 512, white 16383)

Noise levels per scene, as in the paper: log lambda_shot ~ U(log 1e-4, log 0.012),
log lambda_read ~ N(2.18 log lambda_shot + 1.20, 0.26). The paper's levels are those of a
normally exposed image; here they are the noise of the short exposure at `reference_ratio`
(100) once amplified by that ratio, so the sensor's own levels are lambda_s = lambda_shot / 100,
lambda_r = lambda_read / 100^2. All captures of a scene share them (one camera, one ISO, as in
SID's lists): x250 and x300 gather less light and come out noisier, and the long exposure has
100x less shot-noise variance than the amplified x100 one. ISO = lambda_shot * 1e6 (100 at the
paper's lowest level). The DNG's NoiseProfile tag holds (lambda_s, lambda_r).

Scenes are square crops at full resolution from disjoint regions: test scenes inside each
photograph's test band (`patches.band_mask`, as for the image datasets), train and val scenes
outside it, no two scenes overlapping, near-flat crops rejected. Scenes are numbered like SID's
(train 00001..., test 10001..., val 20001...); the long exposure is 10 s, the i-th ratio r
gives the short `{scene}_{i:02d}_{10/r}s.dng`. The files follow SID's Sony layout (`sid`).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sparsefield.data.images.patches import LUMA, _window_sum, band_mask
from sparsefield.data.images.sources import DEFAULT_MIN_STD, builtin_photos
from sparsefield.data.raw.dng import write_dng
from sparsefield.data.raw.sid import SPLITS, Pair, exposure_ratio, list_file, parse_name
from sparsefield.io import atomic_path

CAMERA, EXTENSION = "Sony", ".dng"  # the Bayer part of SID's layout
BLACK, WHITE = 512, 16383
LONG_S = 10.0
FNUMBER = 8.0
SCENE_OFFSET = {"train": 0, "test": 10000, "val": 20000}  # SID numbers its scenes the same way
STRIP_ROWS = 256  # rows unprocessed at a time (even: whole Bayer rows): a Sony-size scene never holds (H, W, 3) float64
XYZ2CAMS = np.array([  # Brooks et al. 2019, random_ccm()
    [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
    [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
    [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
    [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
])
RGB2XYZ = np.array(  # linear sRGB (D65) -> XYZ
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)


@dataclasses.dataclass(frozen=True)
class Gains:
    rgb: float  # brightening g_rgb
    red: float  # white balance g_r
    blue: float  # white balance g_b


def random_xyz2cam(rng: np.random.Generator) -> np.ndarray:
    """(3, 3) XYZ -> camera matrix: a random convex combination of XYZ2CAMS."""
    weights = rng.uniform(1e-8, 1e8, size=len(XYZ2CAMS))
    return np.tensordot(weights, XYZ2CAMS, axes=1) / weights.sum()


def rgb2cam_of(xyz2cam: np.ndarray) -> np.ndarray:
    """(3, 3) linear sRGB -> camera matrix with rows summing to 1 (white stays white)."""
    rgb2cam = xyz2cam @ RGB2XYZ
    return rgb2cam / rgb2cam.sum(axis=1, keepdims=True)


def random_gains(rng: np.random.Generator) -> Gains:
    return Gains(rgb=1.0 / rng.normal(0.8, 0.1), red=rng.uniform(1.9, 2.4), blue=rng.uniform(1.5, 1.9))


def random_noise_levels(rng: np.random.Generator) -> tuple[float, float]:
    """(lambda_shot, lambda_read) of a normally exposed image (Brooks et al. 2019, Sec. 3.2)."""
    log_shot = rng.uniform(np.log(1e-4), np.log(0.012))
    log_read = 2.18 * log_shot + 1.20 + rng.normal(0.0, 0.26)
    return float(np.exp(log_shot)), float(np.exp(log_read))


def unprocess(srgb: np.ndarray, rgb2cam: np.ndarray, gains: Gains) -> np.ndarray:
    """sRGB float (H, W, 3) in [0, 1] -> linear camera RGB (H, W, 3) in [0, 1] (module docstring)."""
    x = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * np.clip(srgb, 0.0, 1.0)) / 3.0)  # inverse smoothstep
    x = np.maximum(x, 1e-8) ** 2.2  # inverse gamma
    x = x @ rgb2cam.T  # inverse colour correction
    g = np.array([1.0 / gains.red, 1.0, 1.0 / gains.blue]) / gains.rgb
    mask = (np.maximum(x.mean(-1, keepdims=True) - 0.9, 0.0) / 0.1) ** 2  # 1 at white: keep highlights
    x = x * np.maximum(mask + (1.0 - mask) * g, g)  # inverse white balance and brightening
    return np.clip(x, 0.0, 1.0)


def mosaic_rggb(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) RGGB Bayer mosaic (R at (0, 0), B at (1, 1))."""
    out = image[..., 1].copy()
    out[0::2, 0::2] = image[0::2, 0::2, 0]
    out[1::2, 1::2] = image[1::2, 1::2, 2]
    return out


def expose(x: np.ndarray, *, ratio: float, shot: float, read: float, rng: np.random.Generator,
           black: int = BLACK, white: int = WHITE) -> np.ndarray:
    """Raw values uint16 of an exposure `ratio` times shorter than the one whose mean signal is x.

    Args:
        x: (H, W) mean normalised signal of the long exposure, in [0, 1].
        ratio: r >= 1; the capture's mean signal is x / r.
        shot, read: lambda_s and lambda_r: Var y = shot E y + read (normalised units).
    """
    electrons = rng.poisson(np.asarray(x, dtype=np.float64) / (ratio * shot))
    y = shot * electrons + rng.normal(0.0, np.sqrt(read), size=np.shape(x))
    return np.clip(np.rint(black + (white - black) * y), 0, white).astype(np.uint16)


def exposure_name(seconds: float) -> str:
    """SID's spelling of an exposure time: 10 -> '10', 0.1 -> '0.1', 1/30 -> '0.033'."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def builtin_pairs(*, n_train: int, n_val: int, n_test: int, ratios: list[float],
                  extension: str = EXTENSION) -> dict[str, list[Pair]]:
    """The pairs (file names only) of a builtin raw set, per split, as its lists will name them.

    `extension` ends every file name (".dng"; the paper rehearsal writes the same DNG files as ".ARW").

    Raises:
        ValueError: a ratio that SID's naming cannot spell (10 s / the named short time, capped at 300).
    """
    for ratio in ratios:
        named = exposure_ratio(LONG_S, float(exposure_name(LONG_S / ratio)))
        if abs(named - ratio) > 1e-9 * ratio:  # the ratio every reader of the files will see
            raise ValueError(
                f"ratio {ratio:g} reads back as {named:g} from SID's file name ({exposure_name(LONG_S / ratio)}s, "
                "10 s long, capped at 300); use ratios such as 100, 250, 300"
            )
    pairs = {}
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        pairs[split] = []
        for k in range(n):
            scene = f"{SCENE_OFFSET[split] + k + 1:05d}"
            long = f"{CAMERA}/long/{scene}_00_{exposure_name(LONG_S)}s{extension}"
            for i, ratio in enumerate(ratios):
                short = f"{CAMERA}/short/{scene}_{i:02d}_{exposure_name(LONG_S / ratio)}s{extension}"
                pairs[split].append(Pair(short=short, long=long))
    return pairs


def place_scenes(photos: list[np.ndarray], counts: dict[str, int], size: int, test_fraction: float,
                 min_std: float, rng: np.random.Generator) -> dict[str, list[tuple[int, int, int]]]:
    """Non-overlapping size x size crops (photo, y, x) per split, round-robin over the photos."""
    test_masks = [band_mask(photo, test_fraction) for photo in photos]
    gray = [photo @ LUMA / 255.0 for photo in photos]
    n = size * size
    contrast = []
    for g in gray:
        mean = _window_sum(g, size) / n
        contrast.append(np.sqrt(np.maximum(_window_sum(g * g, size) / n - mean * mean, 0.0)) >= min_std)
    taken = [np.zeros(m.shape, dtype=bool) for m in test_masks]
    order = rng.permutation(len(photos))
    scenes: dict[str, list[tuple[int, int, int]]] = {}
    for split in ("test", "train", "val"):
        scenes[split] = []
        for k in range(counts[split]):
            for j in range(len(photos)):
                p = int(order[(k + j) % len(photos)])
                outside = (~test_masks[p] if split == "test" else test_masks[p]) | taken[p]
                if min(outside.shape) < size:
                    continue
                ys, xs = np.nonzero((_window_sum(outside.astype(np.float64), size) == 0) & contrast[p])
                if len(ys):
                    break
            else:
                raise ValueError(
                    f"no room for {counts[split]} {split} scenes of {size} px in the builtin photographs "
                    f"(placed {k}); lower n_{split} or size"
                )
            pick = rng.integers(len(ys))
            y, x = int(ys[pick]), int(xs[pick])
            taken[p][y : y + size, x : x + size] = True
            scenes[split].append((p, y, x))
    return scenes


def build_builtin(
    root: str | os.PathLike,
    *,
    n_train: int,
    n_val: int = 0,
    n_test: int,
    size: int = 128,
    ratios: list[float] = (100, 250, 300),
    test_fraction: float = 0.3,
    min_std: float = DEFAULT_MIN_STD,
    reference_ratio: float = 100.0,
    seed: int = 0,
) -> None:
    """Write the builtin raw set under `root`: `Sony/{long,short}/*.dng` and `Sony_{split}_list.txt`.

    Args:
        n_train, n_val, n_test: number of scenes per split (each: one long exposure + one short per ratio).
        size: scene side in pixels (even).
        ratios: exposure ratios of the short captures.
        test_fraction, min_std: test band share and contrast floor of the scene crops.
        reference_ratio: the ratio whose amplified short carries Brooks et al.'s noise levels.
        seed: everything random derives from it; the same arguments give the same bytes.
    """
    if size % 2:
        raise ValueError(f"builtin raw set: size must be even (a Bayer mosaic), got {size}")
    pairs = builtin_pairs(n_train=n_train, n_val=n_val, n_test=n_test, ratios=list(ratios))
    photos = builtin_photos()
    counts = {"train": n_train, "val": n_val, "test": n_test}
    scenes = place_scenes(photos, counts, size, test_fraction, min_std, np.random.default_rng([seed, 0]))

    def crop(split: str, k: int) -> np.ndarray:
        p, y, x = scenes[split][k]
        return photos[p][y : y + size, x : x + size]

    write_rawset(root, pairs, crop, reference_ratio=reference_ratio, seed=seed)


def write_scene(folder: Path, scene: np.ndarray, pairs: list[Pair], *, xyz2cam: np.ndarray, reference_ratio: float,
                seed: int, key: tuple[int, int]) -> list[Pair]:
    """Write one scene's captures into the camera folder `folder`: its long exposure and the short of every pair.

    Args:
        folder: the camera's folder (`{root}/Sony` or its temporary twin); the pairs' paths start with `Sony/`.
        scene: uint8 (H, W, 3) sRGB, H and W even; unprocessed `STRIP_ROWS` rows at a time.
        pairs: the scene's pairs (one per ratio, one long exposure), as `builtin_pairs` names them.
        xyz2cam: (3, 3) the raw set's camera (`random_xyz2cam`).
        reference_ratio: the ratio whose amplified short carries Brooks et al.'s noise levels.
        seed, key: (split index, scene index); the scene draws from [seed, 2, *key] (gains, noise levels) and
            capture c from [seed, 3, *key, c].

    Returns:
        The pairs with the scene's ISO and F-number, as the lists write them.
    """
    rng = np.random.default_rng([seed, 2, *key])
    gains = random_gains(rng)
    lambda_shot, lambda_read = random_noise_levels(rng)
    shot, read = lambda_shot / reference_ratio, lambda_read / reference_ratio**2
    iso = int(round(lambda_shot * 1e6))
    rgb2cam = rgb2cam_of(xyz2cam)
    signal = np.empty(scene.shape[:2])  # (H, W) mean normalised signal of the long exposure
    for top in range(0, len(scene), STRIP_ROWS):
        strip = scene[top : top + STRIP_ROWS].astype(np.float64) / 255.0
        signal[top : top + STRIP_ROWS] = mosaic_rggb(unprocess(strip, rgb2cam, gains))
    files = [pairs[0].long] + [pair.short for pair in pairs]
    for c, name in enumerate(files):
        _, exposure_s = parse_name(name)
        raw = expose(signal, ratio=exposure_ratio(LONG_S, exposure_s), shot=shot, read=read,
                     rng=np.random.default_rng([seed, 3, *key, c]))
        write_dng(folder / Path(name).relative_to(CAMERA), raw, black=BLACK, white=WHITE,
                  xyz2cam=xyz2cam, as_shot_neutral=(1.0 / gains.red, 1.0, 1.0 / gains.blue),
                  exposure_s=exposure_s, iso=iso, fnumber=FNUMBER, noise_profile=(shot, read))
    return [dataclasses.replace(pair, iso=iso, fnumber=FNUMBER) for pair in pairs]


def write_rawset(root: str | os.PathLike, pairs: dict[str, list[Pair]], scene: Callable[[str, int], np.ndarray], *,
                 reference_ratio: float, seed: int) -> None:
    """Write a raw set under `root`: `Sony/{long,short}/*` (one folder, atomically) and `Sony_{split}_list.txt`.

    Args:
        pairs: per split, the pairs `builtin_pairs` names; consecutive pairs with one long exposure are a scene.
        scene: (split, k) -> uint8 (H, W, 3) sRGB scene of the split's k-th scene, asked for one at a time.
        reference_ratio, seed: as in `write_scene`; the camera draws from [seed, 1].
    """
    root = Path(root)
    xyz2cam = random_xyz2cam(np.random.default_rng([seed, 1]))
    written: dict[str, list[Pair]] = {split: [] for split in SPLITS}
    with atomic_path(root / CAMERA, directory=True) as folder:
        (folder / "long").mkdir()
        (folder / "short").mkdir()
        for s, split in enumerate(SPLITS):
            for k, (_, group) in enumerate(itertools.groupby(pairs[split], key=lambda pair: pair.long)):  # a scene
                written[split] += write_scene(folder, scene(split, k), list(group), xyz2cam=xyz2cam,
                                              reference_ratio=reference_ratio, seed=seed, key=(s, k))
    for split in SPLITS:
        lines = [f"./{pair.short} ./{pair.long} ISO{pair.iso} F{pair.fnumber:g}\n" for pair in written[split]]
        with atomic_path(list_file(root, CAMERA, split)) as tmp:
            tmp.write_text("".join(lines))
