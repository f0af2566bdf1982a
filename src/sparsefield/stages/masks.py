"""The masks stage: a dataset and a `schemes:` entry -> results/masks/{dataset}/{scheme}.h5 (`data.images.masks`)."""

from __future__ import annotations

import os

from sparsefield.data.images.masks import build_masks


def masks(data_path: str | os.PathLike, out_path: str | os.PathLike, *, scheme: str, entry: dict) -> None:
    """The fixed context and query masks of every train and test image of `data_path` under scheme `entry`."""
    build_masks(data_path, out_path, scheme=scheme, **entry)
