"""The file of a multispectral dataset with leaf masks, `results/data/{dataset}.h5`, and its reader (`reads: spectral`).

Layout (the contract the vae and pca approaches read):

    train/images   float32 (N, H, W, C)   reflectance in [0, 1]
    train/masks    uint8   (N, H, W)      1 leaf, 0 background
    test/images, test/masks               the same for the test split
    attrs          kind "spectral", source, H, W, C, bands (names), wavelengths (nm, when known), sha256,
                   and every parameter used

Written atomically and without timestamps: the same inputs give the same bytes. The writers of its
sources are `data.spectral.leaves` (the builtin leaves) and `data.spectral.sources` (folders of stacks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import h5py
import numpy as np

from sparsefield.io import atomic_path, open_h5, write_array

SPLITS = ("train", "test")


CHUNK = 256  # test images per chunk of a reconstruct or evaluate job


@dataclass
class SpectralImages:
    images: np.ndarray  # float32 (N, H, W, C) reflectance in [0, 1]
    masks: np.ndarray  # uint8 (N, H, W): 1 leaf, 0 background
    bands: tuple[str, ...]  # C band names, in channel order
    index: np.ndarray | None = None  # (N,) positions in the split (None: 0..N-1)

    def __post_init__(self):
        if self.index is None:
            self.index = np.arange(len(self.images))

    def __len__(self) -> int:
        return len(self.images)

    def take(self, rows) -> SpectralImages:
        """The images at `rows` (a slice or positions), keeping their positions in the split."""
        return SpectralImages(self.images[rows], self.masks[rows], self.bands, self.index[rows])

    def first(self, n: int | None) -> SpectralImages:
        """The first n images (all when n is None)."""
        return self.take(slice(n))

    subset = first  # the n images an evaluation scores: the first n


@dataclass
class SpectralSet:
    train: SpectralImages
    test: SpectralImages
    source: str  # 'leaves' | 'multispectral_folder'
    sha256: str  # digest of the inputs
    wavelengths: tuple[float, ...] | None = None  # band centres in nm, when known


def coverage(masks: np.ndarray) -> np.ndarray:
    """(N,) leaf share of each image's pixels."""
    return np.asarray(masks, dtype=np.float64).reshape(len(masks), -1).mean(1)


def write_spectral(path: str | os.PathLike, dataset: SpectralSet, /, **attrs) -> None:
    """Write `dataset` to HDF5 atomically (layout: module docstring); attrs: numbers, strings, lists (None skipped)."""
    _, height, width, channels = dataset.test.images.shape
    header = dict(kind="spectral", source=dataset.source, H=height, W=width, C=channels,
                  bands=list(dataset.train.bands), sha256=dataset.sha256)
    if dataset.wavelengths is not None:
        header["wavelengths"] = list(dataset.wavelengths)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for split in SPLITS:
            part = getattr(dataset, split)
            group = f.create_group(split)
            write_array(group, "images", np.asarray(part.images, dtype=np.float32))
            write_array(group, "masks", np.asarray(part.masks, dtype=np.uint8))
        for key, value in {**header, **attrs}.items():
            if value is None:
                continue
            f.attrs[key] = os.fspath(value) if isinstance(value, os.PathLike) else (
                list(value) if isinstance(value, tuple) else value)


def read_spectral(path: str | os.PathLike, split: str, rows=None, *, images: bool = True) -> SpectralImages:
    """One split ('train' or 'test') of a multispectral dataset file: its images at `rows` (positions in the split,
    any order; None: all), or only their masks (`images=False`: images is then an empty (N, 0, 0, 0) array)."""
    if split not in SPLITS:
        raise ValueError(f"read_spectral: split must be one of {SPLITS}, got {split!r}")
    with open_h5(path, "multispectral dataset") as f:
        if f.attrs.get("kind") != "spectral" or f"{split}/images" not in f:
            raise ValueError(f"{path}: not a multispectral dataset file (no {split}/images and masks); rebuild it")
        stored, masks = f[f"{split}/images"], f[f"{split}/masks"]
        index = np.arange(len(masks)) if rows is None else np.asarray(rows, dtype=np.int64)
        order, back = np.unique(index, return_inverse=True)  # h5py reads increasing positions
        pick = slice(None) if rows is None else order
        masks = masks[pick][back] if rows is not None else masks[()]
        if images:
            images = stored[pick][back] if rows is not None else stored[()]
        else:
            images = np.zeros((len(masks), 0, 0, 0), dtype=np.float32)
        if stored.dtype != np.float32 or stored.ndim != 4 or masks.shape[1:] != stored.shape[1:3] \
                or masks.dtype != np.uint8:
            raise ValueError(f"{path}: {split} holds images {stored.dtype} {stored.shape} and masks {masks.dtype} "
                             f"{masks.shape}, not float32 (N, H, W, C) and uint8 (N, H, W); rebuild it")
        bands = tuple(str(b) for b in f.attrs["bands"])
    return SpectralImages(images, masks, bands, index)


def read_split(inputs, split: str) -> SpectralImages:
    """reads "spectral" (`registry.read_split`): the images and leaf masks of `split` of the dataset file."""
    return read_spectral(inputs["data"], split)
