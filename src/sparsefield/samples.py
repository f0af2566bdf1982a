"""The `samples.h5` contract: every approach's predictions on the test images.

Layout (all arrays in [0, 1], channels last):

    samples  float32 (N, K, H, W, C)  K reconstructions per test image (K = 1 if deterministic)
    mean     float32 (N, H, W, C)     mean over the K samples: the point estimate
    std      float32 (N, H, W, C)     per-pixel standard deviation over the K samples
    index    int64   (N,)             position of each image in the test split
    attrs    approach, kind, dataset, scheme, n_samples, nfe, seconds_per_image

Optional arrays a learned approach adds (`extras`):

    posterior_mean float32 (N, H, W, C)    the model's own estimate of E[x | observed] (x̂0 at the first,
                                           noisiest sampler step, averaged over the K samples' starts)
    query_samples  float32 (N, K, Nq, C)   samples drawn at the query pixels alone (the trained task)
    mean_2x        float32 (N, 2H, 2W, C)  mean prediction on the grid of twice the resolution

A method returns a `Reconstruction` (samples, extras, attrs) of the items it is given; the reconstruct
stage hands it the test split in chunks and appends each chunk's rows to the file (`SamplesWriter`),
and every reader takes the rows a chunk at a time (`iter_samples`, `read_rows`), so no job ever
holds more than a chunk of samples: a job's memory follows its chunk, not the size of the test split.
Datasets are chunked along N (about 1 MB a chunk) and gzip-compressed.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from sparsefield.io import atomic_path, create_rows, open_h5

REQUIRED_ATTRS = ("approach", "kind", "dataset", "scheme", "nfe", "seconds_per_image")


@dataclass
class Samples:
    samples: np.ndarray  # (N, K, H, W, C) float32
    mean: np.ndarray  # (N, H, W, C) float32
    std: np.ndarray  # (N, H, W, C) float32
    index: np.ndarray  # (N,) int64
    attrs: dict
    extras: dict[str, np.ndarray] = field(default_factory=dict)


EXTRAS = ("posterior_mean", "query_samples", "mean_2x")


@dataclass
class Reconstruction:
    """What a method's `reconstruct` returns: the arrays and attrs of samples.h5 (but for index and names)."""

    samples: np.ndarray  # (N, K, H, W, C) in [0, 1]
    attrs: dict  # at least nfe and seconds_per_image
    extras: dict[str, np.ndarray] = field(default_factory=dict)




class SamplesWriter:
    """Append a samples.h5 row block by row block; the file appears (atomically) only once every row is written.

        with SamplesWriter(path, n) as out:
            for chunk in ...:
                out.write(index, samples, extras)   # rows in any grouping, in order
            out.finish(**attrs)
    """

    def __init__(self, path: str | os.PathLike, n: int):
        self.path, self.n, self.rows, self.finished = Path(path), int(n), 0, False

    def __enter__(self) -> SamplesWriter:
        self._stack = contextlib.ExitStack()
        self._file = self._stack.enter_context(h5py.File(self._stack.enter_context(atomic_path(self.path)), "w"))
        return self

    def __exit__(self, *exc):
        if exc[0] is None and not self.finished:
            error = RuntimeError(f"{self.path}: closed before finish(); nothing was written")
            self._stack.__exit__(RuntimeError, error, None)  # the temporary file is removed
            raise error
        return self._stack.__exit__(*exc)

    def _dataset(self, name: str, block: np.ndarray) -> h5py.Dataset:
        if name not in self._file:
            create_rows(self._file, name, self.n, block.shape[1:], block.dtype)
        return self._file[name]

    def write(self, index: np.ndarray, samples: np.ndarray, extras: dict | None = None) -> None:
        """Append rows: index (B,) positions in the test split, samples (B, K, H, W, C), extras (B, ...) each."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 5 or samples.shape[0] != len(index):
            raise ValueError(f"{self.path}: samples must be (B, K, H, W, C) with B = len(index), got {samples.shape}")
        if self.rows + len(index) > self.n:
            raise ValueError(f"{self.path}: {self.rows + len(index)} rows written, {self.n} announced")
        rows = slice(self.rows, self.rows + len(index))
        arrays = {"samples": samples, "mean": samples.mean(axis=1), "std": samples.std(axis=1),
                  "index": np.asarray(index, dtype=np.int64)}
        for name, array in (extras or {}).items():
            if name not in EXTRAS:
                raise ValueError(f"{self.path}: unknown extra array '{name}' (known: {EXTRAS})")
            arrays[name] = np.asarray(array, dtype=np.float32)
        for name, array in arrays.items():
            self._dataset(name, array)[rows] = array
        self.rows += len(index)

    def finish(self, **attrs) -> None:
        """Write the attrs (at least REQUIRED_ATTRS) once every announced row is written."""
        missing = [key for key in REQUIRED_ATTRS if key not in attrs]
        if missing:
            raise ValueError(f"{self.path}: samples.h5 needs attrs {missing}")
        if self.rows != self.n:
            raise ValueError(f"{self.path}: {self.rows} rows written, {self.n} announced")
        n_samples = self._file["samples"].shape[1] if "samples" in self._file else 0
        for key, value in {**attrs, "n_samples": n_samples}.items():
            self._file.attrs[key] = value
        self.finished = True


def write_samples(
    path: str | os.PathLike, samples: np.ndarray, index: np.ndarray, extras: dict | None = None, **attrs
) -> None:
    """Write K samples per test image, their mean and std, atomically (all rows at once: `SamplesWriter`).

    Args:
        path: output `samples.h5`.
        samples: (N, K, H, W, C) reconstructions in [0, 1].
        index: (N,) positions of the images in the test split.
        extras: optional arrays named in EXTRAS.
        **attrs: at least approach, kind, dataset, scheme, nfe, seconds_per_image.
    """
    with SamplesWriter(path, len(index)) as out:
        out.write(index, samples, extras)
        out.finish(**attrs)


def _attrs(f: h5py.File) -> dict:
    return {key: (value.item() if hasattr(value, "item") else value) for key, value in f.attrs.items()}


def read_attrs(path: str | os.PathLike) -> dict:
    """The attrs of a samples.h5 (and its number of rows, `n`), no array read."""
    with open_h5(path, "samples") as f:
        return {**_attrs(f), "n": len(f["index"])}


def read_index(path: str | os.PathLike) -> np.ndarray:
    """(N,) the test-split positions of a samples.h5's rows (8 bytes a row)."""
    with open_h5(path, "samples") as f:
        return f["index"][()]


def _rows(f: h5py.File, rows) -> Samples:
    return Samples(samples=f["samples"][rows], mean=f["mean"][rows], std=f["std"][rows], index=f["index"][rows],
                   attrs=_attrs(f), extras={name: f[name][rows] for name in EXTRAS if name in f})


def read_samples(path: str | os.PathLike) -> Samples:
    """Every row of a samples.h5 (small files and tests; the stages read by chunks: `iter_samples`)."""
    with open_h5(path, "samples") as f:
        return _rows(f, slice(None))


def iter_samples(path: str | os.PathLike, rows: int = 256):
    """The rows of a samples.h5 as `Samples` of at most `rows` rows each, in order."""
    with open_h5(path, "samples") as f:
        for start in range(0, len(f["index"]), rows):
            yield _rows(f, slice(start, start + rows))


def read_rows(path: str | os.PathLike, name: str, positions) -> np.ndarray:
    """The rows at `positions` (rows of the file, not test-split indices) of one array of a samples.h5."""
    positions = np.asarray(positions, dtype=np.int64)
    with open_h5(path, "samples") as f:
        order = np.argsort(positions)
        out = np.empty((len(positions), *f[name].shape[1:]), dtype=f[name].dtype)
        for i in order:  # h5py reads point selections in increasing order only
            out[i] = f[name][positions[i]]
        return out
