"""The tiles stage: a raw set's capture tile lists -> results/tiles/{rawset}/metadata.json (`data.raw.demosaic`)."""

from __future__ import annotations

import os

from sparsefield.data.raw.demosaic import write_metadata


def tiles(capture_meta: list[str | os.PathLike], out_path: str | os.PathLike, *, rawset: str) -> None:
    """One record per tile of every capture, checked (pairs, splits), written atomically."""
    write_metadata(capture_meta, out_path, rawset=rawset)
