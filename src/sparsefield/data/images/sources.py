"""The images stage: builtin / CIFAR-10 / image-folder data -> `results/data/{dataset}.h5`.

Layout of the file (the contract every later stage reads):

    train/images      uint8 (N, H, W, C)
    test/images       uint8 (M, H, W, C)
    test/images_2x    uint8 (M, 2H, 2W, C)  the same scenes at twice the resolution (when available)
    attrs             source, H, W, C, sha256 (of the inputs), and every parameter used

Files are written atomically and without timestamps: the same inputs give the same bytes.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import h5py
import numpy as np
import skimage.data

from sparsefield.data.images.cifar10 import CIFAR_URL, load_cifar10  # noqa: F401 (CIFAR_URL: part of this API)
from sparsefield.data.images.folder import imagefolder_images
from sparsefield.data.images.patches import DEFAULT_FACTORS, DEFAULT_MIN_STD, ImageSet, patch_set
from sparsefield.io import atomic_path, open_h5, write_array

# Colour photographs inside scikit-image that load offline. Left out: retina, colorwheel and
# logo (synthetic or mostly flat); stereo_motorcycle contributes its LEFT view only.
BUILTIN_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "hubble_deep_field",
    "immunohistochemistry",
    "rocket",
    "stereo_motorcycle",
)
DATASETS = {"train": "train/images", "test": "test/images", "test_2x": "test/images_2x"}




def builtin_photos() -> list[np.ndarray]:
    """The scikit-image photographs of `BUILTIN_PHOTOS`, uint8 (H_p, W_p, 3) each."""

    photos = []
    for name in BUILTIN_PHOTOS:
        photo = getattr(skimage.data, name)()
        if name == "stereo_motorcycle":
            # (left, right, disparity): the right view shows the same scene as the left one, so
            # it would put the same content on both sides of the train/test split. Never use it.
            photo = photo[0]
        photos.append(photo)
    return photos


def builtin_images(
    *,
    n_train: int,
    n_test: int,
    size: int = 32,
    factors: tuple[int, ...] = DEFAULT_FACTORS,
    test_fraction: float = 0.3,
    min_std: float = DEFAULT_MIN_STD,
    seed: int = 0,
    where: str = "builtin",
) -> ImageSet:
    """Natural-image patches cut from disjoint regions of scikit-image's photographs.

    Args:
        n_train, n_test: number of patches per split.
        size: patch side H = W.
        factors: even downscaling factors; a patch is the f x f block mean of a (size*f)^2 window.
        test_fraction: share of every photograph (a band along its longer side) that is test.
        min_std: windows whose grayscale std ([0, 1] scale) is below this are rejected.
        seed: seed of the window sampling.
        where: what the error messages call this set (`build_images` passes the dataset name).

    Returns:
        ImageSet with train (n_train, size, size, 3), test (n_test, size, size, 3) and
        test_2x (n_test, 2*size, 2*size, 3).
    """
    return patch_set(
        builtin_photos(), "builtin", n_train=n_train, n_test=n_test, size=size, factors=factors,
        test_fraction=test_fraction, min_std=min_std, seed=seed, where=where,
        fix="lower size or factors, or use source: imagefolder with larger photographs",
    )




def cifar10_images(
    path: str | os.PathLike, *, n_train: int | None = None, n_test: int | None = None, download: bool = False
) -> ImageSet:
    """CIFAR-10 from the standard python-version folder or tarball.

    Args:
        path: the `cifar-10-batches-py` folder, the `cifar-10-python.tar.gz` tarball, or a
            folder holding either (where torchvision downloads to with `download`).
        n_train, n_test: the first n images of data_batch_1..5 / test_batch; None = all.
        download: fetch it with torchvision into `path` when it is not there.

    Returns:
        ImageSet with train (n_train, 32, 32, 3), test (n_test, 32, 32, 3), no test_2x.
    """
    train, test, digest = load_cifar10(path, n_train=n_train, n_test=n_test, download=download)
    return ImageSet(train, test, None, "cifar10", digest)












def write_images(path: str | os.PathLike, images: ImageSet, /, **attrs) -> None:
    """Write `images` to an HDF5 file atomically (layout in the module docstring).

    Args:
        path: output `.h5` file.
        images: the ImageSet.
        **attrs: parameters to record (numbers, strings, bools or lists of them; None is skipped).
    """
    _, height, width, channels = images.test.shape
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        write_array(f.create_group("train"), "images", images.train)
        test = f.create_group("test")
        write_array(test, "images", images.test)
        if images.test_2x is not None:
            write_array(test, "images_2x", images.test_2x)
        header = dict(source=images.source, H=height, W=width, C=channels, sha256=images.sha256)
        for key, value in {**header, **attrs}.items():
            if value is None:
                continue
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            if isinstance(value, (tuple, list)):
                value = list(value)
            if not isinstance(value, (str, bool, int, float, list, np.integer, np.floating)):
                raise TypeError(f"write_images: attribute {key}={value!r} is not a number, string or list")
            f.attrs[key] = value


def read_images(path: str | os.PathLike, split: str, rows: slice = slice(None)) -> np.ndarray:
    """Read one split ('train', 'test' or 'test_2x') of an images file as uint8 (N, H, W, C) (its `rows` only)."""
    if split not in DATASETS:
        raise ValueError(f"read_images: split must be one of {list(DATASETS)}, got {split!r}")
    with open_h5(path, "images") as f:
        if DATASETS[split] not in f:
            raise ValueError(f"{path}: no {DATASETS[split]} in this images file; rebuild it")
        images = f[DATASETS[split]][rows]
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"{path}: {DATASETS[split]} is {images.dtype} {images.shape}, not uint8 (N, H, W, C)")
    return images


def has_split(path: str | os.PathLike, split: str) -> bool:
    """Whether an images file holds `split` (e.g. 'test_2x', which CIFAR-10 lacks)."""
    with open_h5(path, "images") as f:
        return DATASETS[split] in f


SOURCES = {"builtin": builtin_images, "cifar10": cifar10_images, "imagefolder": imagefolder_images}


def _bind(make, source: str, params: dict) -> dict:
    """`params` bound to `make`'s signature with its defaults; `where` is not a parameter (not recorded)."""
    signature = inspect.signature(make)
    public = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != "where"])
    try:
        bound = public.bind(**params)
    except TypeError as err:
        raise TypeError(f"images: source {source!r}: {err}") from None
    bound.apply_defaults()
    return dict(bound.arguments)


def build_images(out_path: str | os.PathLike, *, source: str, **params) -> None:
    """Build the images file `out_path` from `source` ('builtin', 'cifar10' or 'imagefolder').

    `params` are the keyword arguments of that source's function; all of them, defaults
    included, are recorded as attributes of the file. Errors name the dataset (the file's stem,
    `results/data/{dataset}.h5`) and, for an image folder, the folder.
    """
    if source not in SOURCES:
        raise ValueError(f"images: unknown source {source!r}; choose one of {sorted(SOURCES)}")
    make = SOURCES[source]
    arguments = _bind(make, source, params)
    extra = {}
    if "where" in inspect.signature(make).parameters:
        folder = f" {arguments['path']}" if "path" in arguments else ""
        extra["where"] = f"dataset {Path(out_path).stem!r} ({source}{folder})"
    write_images(out_path, make(**arguments, **extra), **arguments)
