"""The `imagefolder` source: a folder of PNG / JPEG / TIFF images, as patches or one resized image per file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from sparsefield.data.images.patches import DEFAULT_FACTORS, DEFAULT_MIN_STD, ImageSet, patch_set
from sparsefield.io import sha256_arrays


def image_files(folder: str | os.PathLike) -> list[Path]:
    """PNG/JPEG/TIFF files under `folder` (recursive, any case, not hidden), sorted by relative path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"imagefolder: {folder} is not a folder")
    files = sorted(
        (p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")),
        key=lambda p: p.relative_to(folder).as_posix(),
    )
    files = [p for p in files if p.is_file()]
    if not files:
        raise FileNotFoundError(f"imagefolder: no PNG/JPEG/TIFF files under {folder}")
    return files

def read_rgb(file: str | os.PathLike) -> np.ndarray:
    """One image file as uint8 (H, W, 3): EXIF rotation applied, alpha dropped, gray repeated to 3
    channels, 16-bit gray scaled to 8 bits. Any failure is a ValueError naming the file."""

    try:
        with Image.open(file) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode.startswith("I"):  # 16-bit (or 32-bit integer) grayscale
                gray = np.clip(np.rint(np.asarray(img, dtype=np.float64) / 257), 0, 255).astype(np.uint8)
                return np.repeat(gray[:, :, None], 3, axis=2)
            return np.asarray(img.convert("RGB"))
    except Exception as err:  # PIL raises OSError, ValueError, SyntaxError, ... for bad files
        raise ValueError(f"imagefolder: cannot read {file} ({err})".replace("\n", " ")) from None

def _square(photo: np.ndarray, size: int) -> np.ndarray:
    """Central square crop of (H, W, 3), resized (antialiased Lanczos) to uint8 (size, size, 3)."""

    h, w = photo.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = Image.fromarray(photo[top : top + side, left : left + side])
    return np.asarray(crop.resize((size, size), Image.Resampling.LANCZOS))

def imagefolder_images(
    path: str | os.PathLike,
    *,
    size: int = 32,
    mode: str = "patches",
    n_train: int | None = None,
    n_test: int | None = None,
    test_fraction: float = 0.3,
    seed: int = 0,
    factors: tuple[int, ...] = DEFAULT_FACTORS,
    min_std: float = DEFAULT_MIN_STD,
    where: str | None = None,
) -> ImageSet:
    """Images from any folder of PNG/JPEG/TIFF files (see `read_rgb` for colour handling).

    Args:
        path: the folder, searched recursively.
        size: side H = W of the output images.
        mode: 'patches' cuts patches like `builtin_images` from disjoint regions of every file;
            'resize' turns each file into one image (central square, resized) and splits by file.
        n_train, n_test: number of images per split; required for 'patches', None = all for 'resize'.
        test_fraction: share of every file ('patches') or of the files ('resize') that is test.
        seed: seed of the window sampling ('patches') or of the file permutation ('resize').
        factors, min_std: as in `builtin_images` ('patches' only).
        where: what the error messages call this set; "imagefolder {path}" when None.

    Returns:
        ImageSet of uint8 (n, size, size, 3); test_2x (n_test, 2*size, 2*size, 3) in 'patches' mode.
    """
    if mode not in ("patches", "resize"):
        raise ValueError(f"imagefolder: mode must be 'patches' or 'resize', got {mode!r}")
    if mode == "patches" and (n_train is None or n_test is None):
        raise ValueError("imagefolder: mode 'patches' needs n_train and n_test")
    photos = [read_rgb(file) for file in image_files(path)]
    if mode == "patches":
        return patch_set(
            photos, "imagefolder", n_train=n_train, n_test=n_test, size=size, factors=factors,
            test_fraction=test_fraction, min_std=min_std, seed=seed, where=where or f"imagefolder {path}",
            fix="lower size or factors, use mode: resize, or add larger images to the folder",
        )
    if len(photos) < 2:
        raise ValueError(f"imagefolder: mode 'resize' needs at least 2 files in {path}, found {len(photos)}")
    images = np.stack([_square(photo, size) for photo in photos])
    order = np.random.default_rng(seed).permutation(len(images))
    n_test_files = min(max(round(test_fraction * len(images)), 1), len(images) - 1)
    train, test = images[order[:-n_test_files]], images[order[-n_test_files:]]
    train, test = _first(train, n_train, "train"), _first(test, n_test, "test")
    return ImageSet(train, test, None, "imagefolder", sha256_arrays(*photos))


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

def _first(images: np.ndarray, n: int | None, what: str) -> np.ndarray:
    if n is not None and n > len(images):
        raise ValueError(f"imagefolder: asked for {n} {what} images but the folder gives only {len(images)}")
    return images[:n]
