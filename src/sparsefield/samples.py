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

A method returns a `Reconstruction` (samples, extras, attrs); the reconstruct stage writes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import h5py
import numpy as np

from sparsefield.io import atomic_path, open_h5, write_array

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


def write_samples(
    path: str | os.PathLike, samples: np.ndarray, index: np.ndarray, extras: dict | None = None, **attrs
) -> None:
    """Write K samples per test image, their mean and std, atomically.

    Args:
        path: output `samples.h5`.
        samples: (N, K, H, W, C) reconstructions in [0, 1].
        index: (N,) positions of the images in the test split.
        extras: optional arrays named in EXTRAS.
        **attrs: at least approach, kind, dataset, scheme, nfe, seconds_per_image.
    """
    missing = [key for key in REQUIRED_ATTRS if key not in attrs]
    if missing:
        raise ValueError(f"{path}: write_samples needs attrs {missing}")
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 5 or samples.shape[0] != len(index):
        raise ValueError(f"{path}: samples must be (N, K, H, W, C) with N = len(index), got {samples.shape}")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        write_array(f, "samples", samples)
        write_array(f, "mean", samples.mean(axis=1))
        write_array(f, "std", samples.std(axis=1))
        write_array(f, "index", np.asarray(index, dtype=np.int64))
        for name, array in (extras or {}).items():
            if name not in EXTRAS:
                raise ValueError(f"{path}: unknown extra array '{name}' (known: {EXTRAS})")
            write_array(f, name, np.asarray(array, dtype=np.float32))
        for key, value in {**attrs, "n_samples": samples.shape[1]}.items():
            f.attrs[key] = value


def read_samples(path: str | os.PathLike) -> Samples:
    """Read a `samples.h5` written by :func:`write_samples`."""
    with open_h5(path, "samples") as f:
        return Samples(
            samples=f["samples"][()],
            mean=f["mean"][()],
            std=f["std"][()],
            index=f["index"][()],
            attrs={key: (value.item() if hasattr(value, "item") else value) for key, value in f.attrs.items()},
            extras={name: f[name][()] for name in EXTRAS if name in f},
        )
