"""Cut train and test patches from disjoint regions of a few large photographs.

Every photograph is split once into two regions (`band_mask`): a band spanning its
shorter side and covering `test_fraction` of its longer side is test, the rest is
train. A patch is a window that lies entirely inside one region, so no pixel of a
test patch is ever inside a train patch's footprint, while both splits see every
photograph (with seven photos a split *by photograph* is a domain shift).
Photographers centre their subject, so where the band sits matters: measured with
linear interpolation from 10% of the pixels on the builtin photos, a band at the
right edge made test 1.7 dB easier than train, a centred one 1.5 dB harder, a
random offset anywhere from -0.8 to +1.8 dB depending on the seed. The band is
therefore placed where the photograph's detail (mean log gradient energy) inside it
matches the detail outside it, which kept test within 0.5 dB of train.

Scales: a patch at integer factor f is the f x f block mean of a (size*f) x (size*f)
full-resolution window whose corner lies on multiples of f:

    patch[i, j]    = mean(photo[y + f*i : y + f*(i+1), x + f*j : x + f*(j+1)])     (size, size)
    patch_2x[i, j] = the same with f/2 over the same window                       (2*size, 2*size)

so the patch is the 2 x 2 block mean of its 2x version up to rounding; both are
rounded to uint8 only at the end. Windows whose grayscale (BT.601 luma, [0, 1])
standard deviation is below `min_std` are rejected (sky, flat background).

Sampling: a split's count is shared equally over the factors, and a factor's over
the photographs, as far as each has distinct valid windows (`_share`); within a
photograph the windows are drawn uniformly without replacement (with replacement
only when a split asks for more windows than all photographs hold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sparsefield.io import sha256_arrays

SPLITS = ("train", "test")
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luma weights


@dataclass
class PatchSplit:
    train: np.ndarray  # uint8 (N, size, size, C)
    test: np.ndarray  # uint8 (M, size, size, C)
    test_2x: np.ndarray | None  # uint8 (M, 2*size, 2*size, C); None when a factor is odd
    footprints: dict  # split -> int64 (n, 4) rows (photo, y, x, f): full-res window [y, y+size*f) x [x, ..)
    test_masks: list  # per photo, bool (H_p, W_p): True on its test region


def band_mask(photo: np.ndarray, test_fraction: float) -> np.ndarray:
    """bool (H, W), True on the test band of a (H, W, C) photograph.

    The band spans the shorter side and covers `round(test_fraction * longer side)` of the
    longer one, at the offset where its mean log gradient energy (grayscale at 1/2 scale,
    which damps sensor noise) is closest to that of the rest of the photograph.
    """
    height, width = photo.shape[:2]
    length = max(height, width)
    band = min(max(round(test_fraction * length), 1), length - 1)
    gray = block_mean(photo, 2) @ LUMA / 255.0
    gray = gray if width >= height else gray.T  # (short // 2, long // 2)
    start = length - band  # photographs too small to measure: the far edge
    if min(gray.shape) >= 2:
        gy, gx = np.gradient(gray)
        profile = np.repeat(np.log(gx**2 + gy**2 + 1e-6).mean(axis=0), 2)  # per full-res column
        profile = np.pad(profile, (0, length - len(profile)), mode="edge")
        total = np.concatenate([[0.0], np.cumsum(profile)])
        inside = total[band:] - total[:-band]  # (length - band + 1,) one sum per band offset
        start = int(np.argmin(np.abs(inside / band - (total[-1] - inside) / (length - band))))
    mask = np.zeros((height, width), dtype=bool)
    if width >= height:
        mask[:, start : start + band] = True
    else:
        mask[start : start + band, :] = True
    return mask


def block_mean(photo: np.ndarray, f: int) -> np.ndarray:
    """(H, W, C) -> float64 (H // f, W // f, C): means of the aligned f x f blocks."""
    h, w, c = photo.shape[0] // f, photo.shape[1] // f, photo.shape[2]
    return photo[: h * f, : w * f].reshape(h, f, w, f, c).mean(axis=(1, 3), dtype=np.float64)


def _window_sum(a: np.ndarray, size: int) -> np.ndarray:
    """(h, w) -> (h - size + 1, w - size + 1): sum over every size x size window (integral image)."""
    s = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
    s[1:, 1:] = a.cumsum(0).cumsum(1)
    return s[size:, size:] - s[:-size, size:] - s[size:, :-size] + s[:-size, :-size]


def _valid_corners(level: np.ndarray, inside: np.ndarray, size: int, min_std: float):
    """Corners (yf, xf), (k,) each, of the level-f windows that lie inside and have enough contrast.

    Args:
        level: float (h, w, C) block means at factor f.
        inside: bool (h, w), True on the blocks that belong wholly to the split's region.
    """
    if min(inside.shape) < size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    n = size * size
    gray = level @ LUMA / 255.0
    mean = _window_sum(gray, size) / n
    std = np.sqrt(np.maximum(_window_sum(gray * gray, size) / n - mean * mean, 0.0))
    return np.nonzero((_window_sum(inside.astype(np.float64), size) == n) & (std >= min_std))


def _crop(level: np.ndarray, yf: np.ndarray, xf: np.ndarray, size: int) -> np.ndarray:
    """(h, w, C) level, (k,) corners -> uint8 (k, size, size, C) rounded windows."""
    rows = yf[:, None] + np.arange(size)  # (k, size)
    cols = xf[:, None] + np.arange(size)
    return np.rint(level[rows[:, :, None], cols[:, None, :]]).astype(np.uint8)


def _share(n: int, capacity: np.ndarray) -> np.ndarray:
    """Split n as evenly as possible over the slots with capacity > 0 without exceeding any
    capacity (water-filling); beyond the total capacity, the rest is split evenly again."""
    capacity = np.asarray(capacity, np.int64)
    if n >= capacity.sum():
        counts, slots, left = capacity.copy(), np.flatnonzero(capacity), n - capacity.sum()
        if left > 0:
            counts[slots] += left // len(slots) + (np.arange(len(slots)) < left % len(slots))
        return counts
    low, high = 0, int(capacity.max())  # the highest level L with sum(min(capacity, L)) <= n
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if np.minimum(capacity, mid).sum() <= n else (low, mid - 1)
    counts = np.minimum(capacity, low)
    counts[np.flatnonzero(capacity > low)[: n - counts.sum()]] += 1
    return counts


def _draw(split: str, n: int, corners: dict, capacity: np.ndarray, levels: dict, size: int, with_2x: bool,
          rng: np.random.Generator) -> dict:
    """Draw `n` of the split's valid windows (module docstring: Sampling), shuffled.

    Returns:
        {split: uint8 (n, size, size, C), split_footprints: int64 (n, 4)} and, for test with
        even factors, test_2x.
    """
    images, images_2x, rows = [], [], []
    for i, (f, k_f) in enumerate(zip(corners, _share(n, capacity.sum(1)), strict=True)):
        for p, k in enumerate(_share(k_f, capacity[i])):
            if k == 0:
                continue
            yf, xf = corners[f][p]
            pick = np.sort(rng.choice(len(yf), k, replace=k > len(yf)))
            images.append(_crop(levels[f][p], yf[pick], xf[pick], size))
            if split == "test" and with_2x:
                images_2x.append(_crop(levels[f // 2][p], 2 * yf[pick], 2 * xf[pick], 2 * size))
            rows.append(np.stack([np.full(k, p), yf[pick] * f, xf[pick] * f, np.full(k, f)], 1))
    order = rng.permutation(n)  # mix factors and photographs
    cut = {split: np.concatenate(images)[order], split + "_footprints": np.concatenate(rows).astype(np.int64)[order]}
    if images_2x:
        cut["test_2x"] = np.concatenate(images_2x)[order]
    return cut


def _no_window(split: str, photos: list[np.ndarray], fits_without_std: bool, *, size: int, factors: tuple[int, ...],
               test_fraction: float, min_std: float, where: str, fix: str) -> ValueError:
    """The one-line error for a split without any valid window: too flat, or the images too small."""
    if fits_without_std:
        return ValueError(
            f"{where}: every {split} window of {size} px at factors {factors} is flatter than min_std {min_std:.4g} "
            f"(grayscale std on [0, 1]); lower min_std or add images with more detail"
        )
    window = size * min(factors)
    share = test_fraction if split == "test" else 1.0 - test_fraction
    longer = int(np.ceil(window / share))
    region = "test band" if split == "test" else "train region (the image outside its test band)"
    sizes = sorted((int(p.shape[0]) * int(p.shape[1]), f"{p.shape[0]}x{p.shape[1]}") for p in photos)
    return ValueError(
        f"{where}: no {split} patch fits: a {size} px patch at factor {min(factors)} (factors {factors}) is cut from "
        f"a {window}x{window} px window that must lie inside one image's {region}, {share:.2g} of its longer side, "
        f"so an image needs at least {window} px on its shorter side and about {longer} px on its "
        f"longer one; the smallest image is {sizes[0][1]} px, the largest {sizes[-1][1]} px; {fix}"
    )


def region_patches(
    photos: list[np.ndarray],
    *,
    n_train: int,
    n_test: int,
    size: int,
    factors: tuple[int, ...],
    test_fraction: float,
    min_std: float,
    seed: int,
    where: str = "patches",
    fix: str = "lower size or factors, or add larger images",
) -> PatchSplit:
    """Cut `n_train` train and `n_test` test patches from disjoint regions of `photos`.

    Args:
        photos: uint8 (H_p, W_p, C) photographs, any sizes, the same C.
        n_train, n_test: number of patches per split.
        size: patch side in pixels.
        factors: integer downscaling factors; all even for a `test_2x`.
        test_fraction: share of each photograph's longer side given to test.
        min_std: minimum grayscale std ([0, 1] scale) of a patch.
        seed: seed of numpy's default_rng for the window draws (the regions do not depend on it).
        where, fix: what the photos are (the dataset, its folder) and how to repair a set too small
            for any patch, both for the error messages.

    Returns:
        PatchSplit with shuffled patches, their full-resolution footprints and the test masks.
    """
    factors = tuple(int(f) for f in factors)
    if not factors or min(factors) < 1:
        raise ValueError(f"{where}: factors must be positive integers, got {factors}")
    if min(n_train, n_test) < 1:
        raise ValueError(f"{where}: n_train and n_test must be >= 1, got {n_train} and {n_test}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"{where}: test_fraction must be in (0, 1), got {test_fraction}")
    with_2x = all(f % 2 == 0 for f in factors)
    scales = set(factors) | ({f // 2 for f in factors} if with_2x else set())
    levels = {f: [block_mean(photo, f) for photo in photos] for f in sorted(scales)}
    masks = [band_mask(photo, test_fraction) for photo in photos]
    test_share = {f: [block_mean(m[:, :, None], f)[:, :, 0] for m in masks] for f in factors}  # in [0, 1]
    cut = {}
    for s, (split, n) in enumerate(zip(SPLITS, (n_train, n_test), strict=True)):
        inside = {f: [share == 1 if split == "test" else share == 0 for share in test_share[f]] for f in factors}
        corners = {  # factor -> photo -> level-f corners (yf, xf) of every valid window
            f: [_valid_corners(levels[f][p], region, size, min_std) for p, region in enumerate(inside[f])]
            for f in factors
        }
        capacity = np.array([[len(yf) for yf, _ in corners[f]] for f in factors])  # (factors, photos)
        if not capacity.any():
            fits = any(len(_valid_corners(levels[f][p], region, size, 0.0)[0])
                       for f in factors for p, region in enumerate(inside[f]))
            raise _no_window(split, photos, fits, size=size, factors=factors, test_fraction=test_fraction,
                             min_std=min_std, where=where, fix=fix)
        rng = np.random.default_rng([seed, s])  # independent streams: n_test never changes train
        cut.update(_draw(split, n, corners, capacity, levels, size, with_2x, rng))
    footprints = {split: cut[split + "_footprints"] for split in SPLITS}
    return PatchSplit(cut["train"], cut["test"], cut.get("test_2x"), footprints, masks)


# Crops at 1/2 and 1/4 scale: linear interpolation from 10% random pixels then scores about
# 22-23 dB on missing pixels, near CIFAR-10's 20-22 dB (tests/test_images.py checks it). 1/8
# scale is harder still, but its 256-px windows fit the test band of hubble_deep_field alone,
# which would then supply 43% of the test patches; at (2, 4) every photo supplies 1/7.
DEFAULT_FACTORS = (2, 4)

# Grayscale std on [0, 1]: rejects most of rocket's sky at 1/2 - 1/4 scale (56% / 39% of its
# windows) and hubble's darkest background (6% at 1/2); almost nothing elsewhere. 4/255 kept the sky.
DEFAULT_MIN_STD = 8 / 255

@dataclass
class ImageSet:
    train: np.ndarray  # uint8 (N, H, W, C)
    test: np.ndarray  # uint8 (M, H, W, C)
    test_2x: np.ndarray | None  # uint8 (M, 2H, 2W, C): test[i]'s scene at twice the resolution
    source: str  # 'builtin' | 'cifar10' | 'imagefolder'
    sha256: str  # digest of the inputs (photos / files) the set was cut from

def patch_set(photos: list[np.ndarray], source: str, **params) -> ImageSet:
    """Patches of `photos` from disjoint train/test regions (`patches.region_patches`)."""
    cut = region_patches(photos, **params)
    return ImageSet(cut.train, cut.test, cut.test_2x, source, sha256_arrays(*photos))
