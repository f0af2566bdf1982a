"""Reading a classical estimate computed once per dataset and scheme (`sparsefield.stages.estimate` writes it).

Kept apart from the stage, so that reading an estimate never makes a job depend on the interpolation code.
"""

from __future__ import annotations

import os

import numpy as np

from sparsefield.io import open_h5


def read_estimate(path: str | os.PathLike, split: str, n_images: int) -> np.ndarray:
    """(N, H, W, C) float32 estimate of `split`; checks it covers the split's `n_images` images."""
    with open_h5(path, "estimate") as f:
        if split not in f:
            raise KeyError(f"{path}: no split '{split}' (has {sorted(f)}); rebuild the estimate")
        estimate = f[split]["estimate"][()].astype(np.float32)
    if len(estimate) != n_images:
        raise ValueError(f"{path} holds {len(estimate)} {split} estimates for {n_images} images; rebuild it")
    return estimate
