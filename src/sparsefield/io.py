"""File helpers shared by every stage: atomic writes and reproducible HDF5.

Nothing half-written may look complete: every output is written to a temporary
name in the same folder and renamed into place only when it is whole (a killed
job's temporary file is removed by the next write of the same path). HDF5
datasets are written without timestamps so that rebuilding a file from the same
inputs gives the same bytes.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np


def _running(pid: int) -> bool:
    """Whether a process `pid` exists (signal 0 checks without signalling; another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # alive but not ours / not a PID this system has: leave its file alone
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the `.{name}.tmp-PID` files beside `path` whose PID is no running process.

    A job killed inside `atomic_path` (SIGKILL, out of memory, a cluster's time limit) never
    reaches its cleanup, so its temporary file would stay forever. A live process's file (a
    concurrent writer), this process's own and any other name are left alone. POSIX only:
    elsewhere `os.kill` would end the process instead of probing it. Returns the files removed.
    """
    path = Path(path)
    prefix = f".{path.name}.tmp-"
    removed = []
    if os.name != "posix" or not path.parent.is_dir():
        return removed
    for stale in path.parent.glob(f"{glob.escape(prefix)}*"):
        pid = stale.name[len(prefix) :]
        if not pid.isdigit() or int(pid) in (0, os.getpid()) or _running(int(pid)):
            continue
        with contextlib.suppress(FileNotFoundError):  # another run may have removed it first
            _remove(stale)
            removed.append(stale)
    return removed


def _remove(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path` (an empty folder when `directory`); rename it to `path` on success.

    On any exception the temporary file or folder is removed and `path` is left untouched; a folder
    `path` is replaced as a whole. Temporaries of `path` left by killed processes are removed first
    (`remove_stale_temporaries`). The one atomic writer of the package.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if tmp.exists():
        _remove(tmp)
    if directory:
        tmp.mkdir()
    try:
        yield tmp
        if directory and path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            _remove(tmp)


def write_array(group: h5py.Group, name: str, array: np.ndarray) -> h5py.Dataset:
    """Write `array` as `group[name]`, gzip-compressed and without timestamps."""
    array = np.ascontiguousarray(array)
    kwargs = {}
    if array.size >= 4096:  # compression only pays off (and only chunks) for real arrays
        kwargs = dict(compression="gzip", compression_opts=4, shuffle=True)
    return group.create_dataset(name, data=array, track_times=False, **kwargs)


CHUNK_BYTES = 2**20  # an HDF5 chunk of a dataset written in rows: whole rows, about this many bytes


def create_rows(group: h5py.Group, name: str, n: int, row: tuple, dtype) -> h5py.Dataset:
    """An (n, *row) dataset to be filled a block of rows at a time: chunks of whole rows (~CHUNK_BYTES),
    gzip-compressed, without timestamps (the same bytes for the same rows, whatever the blocks)."""
    rows = max(1, min(n, CHUNK_BYTES // max(1, int(np.prod(row)) * np.dtype(dtype).itemsize)))
    return group.create_dataset(name, shape=(n, *row), dtype=dtype, chunks=(rows, *row), compression="gzip",
                                compression_opts=4, shuffle=True, track_times=False)


def open_h5(path: str | os.PathLike, what: str) -> h5py.File:
    """Open an HDF5 file for reading, or fail with one line naming it and the fix."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} file not found; build it with snakemake {path}")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise OSError(f"{path}: not a readable HDF5 {what} file ({err}); delete it and rebuild it") from None


def load_model(path: str | os.PathLike, device, rebuild):
    """A trained model.pt (state_dict + the JSON config it was built from) as `rebuild(config)`, on `device`.

    `rebuild` is the family's (`methods.<family>.rebuild`): the stages read the file, a family never does.

    Raises:
        ValueError: a truncated or foreign file, or one from other code (one line naming it and the fix).
    """
    import torch  # the workflow imports io at start-up; torch only where a model is read

    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
        model = rebuild(checkpoint["config"])
        model.load_state_dict(checkpoint["state_dict"])
    except Exception as err:  # truncated, foreign or from other code: torch raises many types
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path}: not a model.pt of this family ({message}); delete it and retrain") from None
    return model.to(device).eval()


def sha256_arrays(*arrays: np.ndarray) -> str:
    """SHA-256 over the raw bytes (and shapes) of the given arrays."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(str((array.dtype.str, array.shape)).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
