"""Multispectral datasets with leaf masks -> `results/data/{dataset}.h5` (the images rule, source leaves or
multispectral_folder), in the layout of `data.spectral.sets`.

multispectral_folder: every *.tif / *.tiff under `path` (recursive, not hidden, not a mask) is one
stack, (C, H, W) or (H, W, C) with C = len(bands); its mask is `{stem}{mask_suffix}` .tif/.tiff/.png
beside it (nonzero = leaf). Integer stacks are divided by max_value (default: the dtype's maximum),
float stacks by max_value (default 1). Each file is cut into size x size tiles (the remainder dropped)
and the files are split by a seeded permutation: the last max(1, round(test_fraction · files)) are test.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from sparsefield.data.images.sources import _bind
from sparsefield.data.spectral.leaves import leaves_images
from sparsefield.data.spectral.sets import SpectralImages, SpectralSet, write_spectral
from sparsefield.io import sha256_arrays


def _read_stack(file: Path, n_bands: int, max_value: float | None) -> np.ndarray:
    import tifffile

    try:
        stack = tifffile.imread(file)
    except Exception as err:  # tifffile raises many types for a bad file
        raise ValueError(f"multispectral_folder: cannot read {file} ({err})".replace("\n", " ")) from None
    if stack.ndim != 3 or (stack.shape[0] == n_bands) == (stack.shape[-1] == n_bands):
        raise ValueError(f"multispectral_folder: {file} is {stack.shape}; need (C, H, W) or (H, W, C) with "
                         f"C = {n_bands} bands (the config's bands:)")
    stack = np.moveaxis(stack, 0, -1) if stack.shape[0] == n_bands else stack
    if max_value is None:
        max_value = float(np.iinfo(stack.dtype).max) if np.issubdtype(stack.dtype, np.integer) else 1.0
    values = stack.astype(np.float64) / max_value
    bad = ~np.isfinite(values).all(-1)  # (H, W): a pixel with a NaN (or infinite) value in any band
    if bad.any():
        raise ValueError(f"multispectral_folder: {file} has {int(bad.sum())} pixels (of {bad.size}) with NaN or "
                         "infinite values; fill them in the file (e.g. 0, and 0 in its mask: no leaf) or crop them "
                         "away: every pixel needs a reflectance in every band")
    if values.min() < 0 or values.max() > 1:
        raise ValueError(f"multispectral_folder: {file} has values outside [0, {max_value:g}]; set "
                         "max_value to the value of reflectance 1")
    return values.astype(np.float32)


def _read_mask(file: Path, suffix: str, shape: tuple[int, int]) -> np.ndarray:
    candidates = [file.with_name(file.stem + suffix + ext) for ext in (".tif", ".tiff", ".png")]
    found = [c for c in candidates if c.exists()]
    if not found:
        raise ValueError(f"multispectral_folder: {file} has no mask {candidates[0].name} (or .tiff / .png) beside it")
    try:
        if found[0].suffix == ".png":
            with Image.open(found[0]) as img:
                mask = np.asarray(img)
        else:
            import tifffile

            mask = tifffile.imread(found[0])
    except Exception as err:
        raise ValueError(f"multispectral_folder: cannot read {found[0]} ({err})".replace("\n", " ")) from None
    mask = mask[..., 0] if mask.ndim == 3 else mask
    if mask.shape != shape:
        raise ValueError(f"multispectral_folder: {found[0]} is {mask.shape}, its stack {file.name} {shape}")
    return (mask != 0).astype(np.uint8)


def _tiles(array: np.ndarray, size: int) -> np.ndarray:
    rows, cols = array.shape[0] // size, array.shape[1] // size
    cut = array[: rows * size, : cols * size].reshape(rows, size, cols, size, *array.shape[2:])
    return np.moveaxis(cut, 2, 1).reshape(rows * cols, size, size, *array.shape[2:])


def folder_images(path, *, bands: list[str], size: int = 64, n_train: int | None = None, n_test: int | None = None,
                  test_fraction: float = 0.3, seed: int = 0, max_value: float | None = None,
                  mask_suffix: str = "_mask", where: str | None = None) -> SpectralSet:
    """Tiles of every multi-band TIFF stack under `path` with their leaf masks (module docstring)."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"multispectral_folder: {folder} is not a folder")
    files = sorted((p for p in folder.rglob("*") if p.suffix.lower() in (".tif", ".tiff") and p.is_file()
                    and not p.name.startswith(".") and not p.stem.endswith(mask_suffix)),
                   key=lambda p: p.relative_to(folder).as_posix())
    if len(files) < 2:
        raise FileNotFoundError(f"multispectral_folder: {folder} holds {len(files)} TIFF stacks; need 2 or more")
    stacks, masks = [], []
    for file in files:
        stack = _read_stack(file, len(bands), max_value)
        if min(stack.shape[:2]) < size:
            raise ValueError(f"multispectral_folder: {file} is {stack.shape[0]}x{stack.shape[1]}, below size {size}")
        stacks.append(_tiles(stack, size))
        masks.append(_tiles(_read_mask(file, mask_suffix, stack.shape[:2]), size))
    order = np.random.default_rng(seed).permutation(len(files))
    n_test_files = min(max(1, round(test_fraction * len(files))), len(files) - 1)
    parts = []
    for chosen, n, what in ((order[:-n_test_files], n_train, "train"), (order[-n_test_files:], n_test, "test")):
        images, leaf = np.concatenate([stacks[i] for i in chosen]), np.concatenate([masks[i] for i in chosen])
        if n is not None and n > len(images):
            raise ValueError(f"{where or folder}: asked for {n} {what} tiles, the files give {len(images)}")
        parts.append(SpectralImages(images[:n], leaf[:n], tuple(bands)))
    return SpectralSet(parts[0], parts[1], "multispectral_folder", sha256_arrays(*stacks, *masks))


SOURCES = {"leaves": leaves_images, "multispectral_folder": folder_images}  # source -> its writer


def build_spectral(out_path: str | os.PathLike, *, source: str, **params) -> None:
    """Build `out_path` from `source`; every parameter (defaults included) is recorded as an attribute."""
    make = SOURCES.get(source)
    if make is None:
        raise ValueError(f"images: unknown multispectral source {source!r}; choose leaves or multispectral_folder")
    arguments = _bind(make, source, params)  # the RGB sources' binding: defaults filled, `where` not recorded
    folder = f" {arguments['path']}" if "path" in arguments else ""
    write_spectral(out_path, make(**arguments, where=f"dataset {Path(out_path).stem!r} ({source}{folder})"),
                   **arguments)
