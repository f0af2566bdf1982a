"""The calibrate stage: a raw set's tiles (and raw captures) -> results/tiles/{rawset}/noise.json: the
Poisson-Gaussian noise levels the low-light likelihood uses (`data.raw.calibration`), with the raw-domain check
of the captures themselves (`data.raw.raw_check`) where the raw set's files are at hand.
"""

from __future__ import annotations

import json
import os

from sparsefield.data.raw.calibration import calibrate_tiles
from sparsefield.data.raw.raw_check import calibrate_raw
from sparsefield.io import atomic_path


def write_calibration(metadata_path: str | os.PathLike, out_path: str | os.PathLike, *,
                      root: str | os.PathLike | None = None, camera: str | None = None) -> None:
    """Write `calibrate_tiles(metadata_path)` (+ "raw_check": `calibrate_raw(root, camera)` when root is given)
    as JSON, atomically."""
    document = calibrate_tiles(metadata_path)
    if root is not None:
        document["raw_check"] = calibrate_raw(root, camera or "Sony")
    with atomic_path(out_path) as tmp:
        tmp.write_text(json.dumps(document, indent=1) + "\n")


def calibrate(metadata_path: str | os.PathLike, out_path: str | os.PathLike, *, layout: dict) -> None:
    """Calibrate on the tiles of `metadata_path`, with the raw-domain check on the captures under `layout`."""
    write_calibration(metadata_path, out_path, root=layout["root"], camera=layout["camera"])
