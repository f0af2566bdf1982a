"""The demosaic stage: one raw capture -> results/tiles/{rawset}/{capture}.pt and .json (`data.raw.demosaic`)."""

from __future__ import annotations

import os

from sparsefield.data.raw.demosaic import demosaic_capture


def demosaic(raw_path: str | os.PathLike, out_tiles: str | os.PathLike, out_meta: str | os.PathLike, *,
             layout: dict, entry: dict) -> None:
    """Demosaic `raw_path` of the raw set laid out as `layout` (root, camera) into tiles of `entry`'s size,
    stride and algorithm."""
    demosaic_capture(raw_path, out_tiles, out_meta, root=layout["root"], camera=layout["camera"],
                     tile_size=entry["tile_size"], stride=entry["stride"], algorithm=entry["algorithm"])
