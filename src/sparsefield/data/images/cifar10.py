"""CIFAR-10's python version (the `cifar-10-batches-py` folder or its tarball) → uint8 arrays.

Batches are read straight from the folder or, in one pass, from the tarball (nothing is
extracted to disk), through an unpickler that accepts numpy arrays and plain data only.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from sparsefield.io import sha256_arrays

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"

_PICKLE_GLOBALS = {  # all that pickled numpy arrays need (_codecs: bytes in Python 3 protocol 2)
    (module, name)
    for module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "ndarray", "dtype", "scalar")
} | {("_codecs", "encode"), ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches (dicts, lists, bytes, numpy arrays) and refuses any other global."""

    def find_class(self, module: str, name: str):
        if (module, name) in _PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")


def _locate_cifar(path: Path) -> Path | None:
    """The cifar-10-batches-py folder or cifar-10-python.tar.gz at or inside `path`, if any."""
    for candidate in (path, path / "cifar-10-batches-py", path / "cifar-10-python.tar.gz"):
        if candidate.is_dir() and (candidate / "test_batch").is_file():
            return candidate
        if candidate.is_file() and candidate.name.endswith((".tar.gz", ".tgz")):
            return candidate
    return None


def _read_members(location: Path, names: list[str]) -> dict[str, bytes]:
    """Raw bytes of the batch files `names` from a folder or (in one pass) from the tarball."""
    if location.is_dir():
        return {name: (location / name).read_bytes() for name in names if (location / name).is_file()}
    found = {}
    try:
        with tarfile.open(location, "r:*") as tar:
            for member in tar:
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and name in names:
                    found[name] = tar.extractfile(member).read()
                    if len(found) == len(names):
                        break
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ValueError(f"cifar10: {location} is not a readable tarball ({err}); download it again") from None
    return found


def _cifar_split(
    location: Path, members: dict[str, bytes], names: list[str], n: int | None
) -> tuple[np.ndarray, list[bytes]]:
    """The first n images (all if None) of the batches `names`, uint8 (n, 32, 32, 3), and their bytes."""
    images, raw, count = [], [], 0
    for name in names:
        if n is not None and count >= n:
            break
        data = members.get(name)
        if data is None:
            raise FileNotFoundError(f"cifar10: {location} has no {name}; download it again from {CIFAR_URL}")
        try:
            batch = _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
            rows = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)  # CHW-flattened rows
        except Exception as err:  # a damaged pickle raises anything
            raise ValueError(f"cifar10: {location}/{name} is not a CIFAR-10 batch ({err})") from None
        images.append(rows.transpose(0, 2, 3, 1))
        raw.append(data)
        count += len(rows)
    if n is not None and count < n:
        raise ValueError(f"cifar10: asked for {n} images but {location} holds only {count} in {names}")
    return np.concatenate(images)[:n], raw


def load_cifar10(
    path: str | os.PathLike, *, n_train: int | None = None, n_test: int | None = None, download: bool = False
) -> tuple[np.ndarray, np.ndarray, str]:
    """Train (n_train, 32, 32, 3) and test (n_test, 32, 32, 3) uint8 images and the sha256 of the batches.

    See `sparsefield.data.images.sources.cifar10_images` for the arguments.
    """
    path = Path(path)
    location = _locate_cifar(path)
    if location is None and download:
        import torchvision

        torchvision.datasets.CIFAR10(root=str(path), download=True)
        location = _locate_cifar(path)
    if location is None:
        raise FileNotFoundError(
            f"cifar10: no cifar-10-batches-py folder or cifar-10-python.tar.gz at {path}; "
            f"download it from {CIFAR_URL} and put it there, or set download: true"
        )
    train_names = [f"data_batch_{i}" for i in range(1, 6)]
    members = _read_members(location, [*train_names, "test_batch"])
    train, raw_train = _cifar_split(location, members, train_names, n_train)
    test, raw_test = _cifar_split(location, members, ["test_batch"], n_test)
    digest = sha256_arrays(*(np.frombuffer(raw, np.uint8) for raw in raw_train + raw_test))
    return train, test, digest
