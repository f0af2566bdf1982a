"""Multispectral leaf datasets (sources `leaves` and `multispectral_folder`) -> `results/data/{dataset}.h5`.

Layout of the file (the contract the vae and pca approaches read):

    train/images   float32 (N, H, W, C)   reflectance in [0, 1]
    train/masks    uint8   (N, H, W)      1 leaf, 0 background
    test/images    float32 (M, H, W, C)
    test/masks     uint8   (M, H, W)
    attrs          kind "spectral", source, H, W, C, bands (C names, channel order), wavelengths (band
                   centres in nm, when known), sha256 (of the inputs), and every parameter used

Files are written atomically and without timestamps: the same inputs give the same bytes.

multispectral_folder: every *.tif / *.tiff under `path` (any case, recursive, not hidden, its stem not
ending in mask_suffix) is one multi-band stack, (C, H, W) or (H, W, C) with C = len(bands); its mask is
`{stem}{mask_suffix}` .tif / .tiff / .png beside it (nonzero = leaf). Integer stacks are divided by
max_value (default: the dtype's maximum), float stacks by max_value (default 1); the result must lie in
[0, 1]. Each file is cut into non-overlapping size × size tiles, row-major (the remainder dropped). The
split is by file: of a seeded permutation of the files the last max(1, round(test_fraction · files)) are
test; n_train / n_test keep the first tiles of each split.
"""

from __future__ import annotations

import glob
import inspect
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from sparsefield.data.leaves import BANDS, leaves_images  # noqa: F401 (BANDS: the builtin leaves' band names)
from sparsefield.io import atomic_path, open_h5, sha256_arrays, write_array

SPLITS = ("train", "test")
STACK_SUFFIXES = (".tif", ".tiff")
MASK_SUFFIXES = (".tif", ".tiff", ".png")


@dataclass
class SpectralImages:
    """One split: what every stage of the vae and pca approaches sees."""

    images: np.ndarray  # float32 (N, H, W, C) reflectance in [0, 1]
    masks: np.ndarray  # uint8 (N, H, W): 1 leaf, 0 background
    bands: tuple[str, ...]  # C band names, in channel order

    def __len__(self) -> int:
        return len(self.images)

    def first(self, n: int | None) -> SpectralImages:
        """The first n images (all when n is None)."""
        return SpectralImages(self.images[:n], self.masks[:n], self.bands)


@dataclass
class SpectralSet:
    train: SpectralImages
    test: SpectralImages
    source: str  # 'leaves' | 'multispectral_folder'
    sha256: str  # digest of the inputs: the generated arrays (leaves) or the files' arrays (folder)
    wavelengths: tuple[float, ...] | None = None  # band centres in nm, when known


def coverage(masks: np.ndarray) -> np.ndarray:
    """(N,) leaf fraction Σ_p mask_p / (H W) of each of masks (N, H, W), float64."""
    masks = np.asarray(masks)
    return (masks != 0).reshape(len(masks), -1).mean(1, dtype=np.float64)


def write_spectral(path: str | os.PathLike, dataset: SpectralSet, /, **attrs) -> None:
    """Write `dataset` to an HDF5 file atomically (layout in the module docstring).

    Args:
        path: output `.h5` file.
        dataset: the SpectralSet.
        **attrs: parameters to record (numbers, strings, bools or lists of them; None is skipped).
    """
    _, height, width, channels = dataset.test.images.shape
    header = dict(kind="spectral", source=dataset.source, H=height, W=width, C=channels,
                  bands=list(dataset.train.bands), wavelengths=dataset.wavelengths, sha256=dataset.sha256)  # fmt: skip
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for split in SPLITS:
            part = getattr(dataset, split)
            group = f.create_group(split)
            write_array(group, "images", np.asarray(part.images, dtype=np.float32))
            write_array(group, "masks", np.asarray(part.masks, dtype=np.uint8))
        for key, value in {**header, **attrs}.items():
            if value is None:
                continue
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            if isinstance(value, (tuple, list)):
                value = list(value)
            if not isinstance(value, (str, bool, int, float, list, np.integer, np.floating)):
                raise TypeError(f"write_spectral: attribute {key}={value!r} is not a number, string or list")
            f.attrs[key] = value


def is_spectral(path: str | os.PathLike) -> bool:
    """Whether a dataset file is multispectral (attrs kind == "spectral") rather than RGB images."""
    with open_h5(path, "dataset") as f:
        return f.attrs.get("kind") == "spectral"


def read_spectral(path: str | os.PathLike, split: str) -> SpectralImages:
    """Read one split ('train' or 'test') of a multispectral dataset file, its dtypes and shapes checked."""
    if split not in SPLITS:
        raise ValueError(f"read_spectral: split must be one of {list(SPLITS)}, got {split!r}")
    with open_h5(path, "multispectral dataset") as f:
        if f.attrs.get("kind") != "spectral" or f"{split}/images" not in f or f"{split}/masks" not in f:
            raise ValueError(f"{path}: not a multispectral dataset file (no kind spectral, {split}/images and "
                             f"{split}/masks); rebuild it")  # fmt: skip
        images, masks = f[f"{split}/images"][()], f[f"{split}/masks"][()]
        bands = tuple(str(band) for band in f.attrs.get("bands", ()))
    if images.dtype != np.float32 or images.ndim != 4 or masks.dtype != np.uint8 or masks.shape != images.shape[:3]:
        raise ValueError(f"{path}: {split} holds images {images.dtype} {images.shape} and masks {masks.dtype} "
                         f"{masks.shape}, not float32 (N, H, W, C) and uint8 (N, H, W); rebuild it")  # fmt: skip
    if len(bands) != images.shape[3]:
        raise ValueError(f"{path}: {len(bands)} band names for {images.shape[3]} channels; rebuild it")
    return SpectralImages(images, masks, bands)


def stack_files(folder: str | os.PathLike, mask_suffix: str = "_mask") -> list[Path]:
    """The stacks under `folder` (module docstring), sorted by relative path; FileNotFoundError when none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"multispectral_folder: {folder} is not a folder")
    files = sorted(
        (p for p in folder.rglob("*") if p.suffix.lower() in STACK_SUFFIXES and not p.name.startswith(".")
         and not p.stem.endswith(mask_suffix) and p.is_file()),
        key=lambda p: p.relative_to(folder).as_posix(),
    )  # fmt: skip
    if not files:
        raise FileNotFoundError(f"multispectral_folder: no .tif / .tiff stacks under {folder}")
    return files


def _read_stack(file: Path, n_bands: int, max_value: float | None, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(raw (H, W, C) as stored, reflectance (H, W, C) float32 = raw / max_value) of one stack."""
    import tifffile

    try:
        raw = tifffile.imread(file)
    except Exception as err:  # tifffile raises TiffFileError, ValueError, struct.error, ... for bad files
        raise ValueError(f"{where}: cannot read {file} ({err}); replace or remove it".replace("\n", " ")) from None
    if raw.ndim != 3 or (raw.shape[0] == n_bands) == (raw.shape[2] == n_bands):
        raise ValueError(f"{where}: {file} has shape {raw.shape}; need (C, H, W) or (H, W, C) with exactly one axis "
                         f"of C = {n_bands} (the bands: list), or fix bands:")  # fmt: skip
    raw = np.moveaxis(raw, 0, -1) if raw.shape[0] == n_bands else raw
    if max_value is None:
        max_value = float(np.iinfo(raw.dtype).max) if np.issubdtype(raw.dtype, np.integer) else 1.0
    values = raw.astype(np.float64) / max_value
    if not np.isfinite(values).all():
        raise ValueError(f"{where}: {file} holds NaN or infinite values; mask them out of the stack")
    if values.min() < 0 or values.max() > 1:
        raise ValueError(f"{where}: {file} holds values in [{raw.min()}, {raw.max()}], outside [0, {max_value:g}]; "
                         "set max_value to the value of reflectance 1")  # fmt: skip
    return raw, values.astype(np.float32)


def _read_mask(file: Path, mask_suffix: str, shape: tuple[int, int], where: str) -> np.ndarray:
    """The uint8 (H, W) leaf mask (1 where the mask file is nonzero) beside the stack `file`."""
    pattern = f"{glob.escape(file.stem + mask_suffix)}.*"
    found = sorted(p for p in file.parent.glob(pattern) if p.suffix.lower() in MASK_SUFFIXES and p.is_file())
    if not found:
        name = f"{file.stem}{mask_suffix}"
        raise ValueError(f"{where}: {file} has no mask {name}.tif (or .tiff / .png) beside it; add one")
    mask_file = found[0]
    try:
        if mask_file.suffix.lower() == ".png":
            from PIL import Image

            with Image.open(mask_file) as img:
                mask = np.asarray(img)
        else:
            import tifffile

            mask = tifffile.imread(mask_file)
    except Exception as err:  # PIL / tifffile raise many types for bad files
        raise ValueError(f"{where}: cannot read {mask_file} ({err}); replace it".replace("\n", " ")) from None
    mask = mask[..., 0] if mask.ndim == 3 else mask  # RGB(A) / gray-alpha: the first channel
    if mask.shape != shape:
        raise ValueError(f"{where}: mask {mask_file} is {mask.shape}, its stack {file.name} is {shape}; fix the mask")
    return (mask != 0).astype(np.uint8)


def _tiles(array: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping size × size tiles (T, size, size, ...) of array (H, W, ...), row-major, remainder dropped."""
    rows, cols = array.shape[0] // size, array.shape[1] // size
    cut = array[: rows * size, : cols * size].reshape(rows, size, cols, size, *array.shape[2:])
    return np.swapaxes(cut, 1, 2).reshape(rows * cols, size, size, *array.shape[2:])


def folder_images(
    path: str | os.PathLike,
    *,
    bands: list[str],
    size: int = 64,
    n_train: int | None = None,
    n_test: int | None = None,
    test_fraction: float = 0.3,
    seed: int = 0,
    max_value: float | None = None,
    mask_suffix: str = "_mask",
    where: str | None = None,
) -> SpectralSet:
    """Tiles of the multi-band TIFF stacks under `path` and of their leaf masks (layout: module docstring).

    Args:
        path: the folder, searched recursively.
        bands: the stacks' band names, in stored order.
        size: tile side H = W.
        n_train, n_test: the first n tiles of each split; None = all.
        test_fraction: share of the files that is test.
        seed: seed of the file permutation.
        max_value: the stored value of reflectance 1 (default: the dtype's maximum, 1 for floats).
        mask_suffix: a stack X.tif's mask is X{mask_suffix}.tif / .tiff / .png.
        where: what the error messages call this set; "multispectral_folder {path}" when None.

    Returns:
        SpectralSet of float32 (n, size, size, len(bands)) reflectance and uint8 masks, without wavelengths;
        sha256 of the stacks as stored and of the masks.
    """
    where = where or f"multispectral_folder {path}"
    files = stack_files(path, mask_suffix)
    if len(files) < 2:
        raise ValueError(f"{where}: {files[0]} is the only stack; a train/test split by file needs 2 or more")
    raws, stacks, masks = [], [], []
    for file in files:
        raw, stack = _read_stack(file, len(bands), max_value, where)
        if min(stack.shape[:2]) < size:
            raise ValueError(f"{where}: {file} is {stack.shape[0]} x {stack.shape[1]}, smaller than size {size}; "
                             "lower size or remove the file")  # fmt: skip
        mask = _read_mask(file, mask_suffix, stack.shape[:2], where)
        raws.append(raw)
        masks.append(mask)
        stacks.append(stack)
    order = np.random.default_rng(seed).permutation(len(files))
    n_test_files = min(max(1, round(test_fraction * len(files))), len(files) - 1)
    parts = []
    for chosen, n, split in ((order[:-n_test_files], n_train, "train"), (order[-n_test_files:], n_test, "test")):
        images = np.concatenate([_tiles(stacks[i], size) for i in chosen])
        leaf = np.concatenate([_tiles(masks[i], size) for i in chosen])
        if n is not None and n > len(images):
            raise ValueError(f"{where}: asked for {n} {split} tiles, but its "
                             f"{len(chosen)} files give {len(images)}; lower n_{split} or size")  # fmt: skip
        parts.append(SpectralImages(images[:n], leaf[:n], tuple(bands)))
    return SpectralSet(parts[0], parts[1], "multispectral_folder", sha256_arrays(*raws, *masks))


SOURCES = {"leaves": leaves_images, "multispectral_folder": folder_images}


def build_spectral(out_path: str | os.PathLike, *, source: str, **params) -> None:
    """Build the multispectral dataset file `out_path` from `source` ('leaves' or 'multispectral_folder').

    `params` are the keyword arguments of that source's function; all of them, defaults included, are
    recorded as attributes of the file. Errors name the dataset (the file's stem) and, for a folder, the folder.
    """
    if source not in SOURCES:
        raise ValueError(f"images: unknown multispectral source {source!r}; choose one of {sorted(SOURCES)}")
    make = SOURCES[source]
    signature = inspect.signature(make)
    public = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != "where"])
    try:
        bound = public.bind(**params)
    except TypeError as err:
        raise TypeError(f"images: source {source!r}: {err}") from None
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    folder = f" {arguments['path']}" if "path" in arguments else ""
    dataset = make(**arguments, where=f"dataset {Path(out_path).stem!r} ({source}{folder})")
    write_spectral(out_path, dataset, **arguments)
