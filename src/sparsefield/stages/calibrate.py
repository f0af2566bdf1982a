"""The calibrate stage: a raw set's tiles (and raw captures) -> results/tiles/{rawset}/noise.json
(`data.raw.calibration`): the Poisson-Gaussian noise levels the low-light likelihood uses."""

from __future__ import annotations

import os

from sparsefield.data.raw.calibration import write_calibration


def calibrate(metadata_path: str | os.PathLike, out_path: str | os.PathLike, *, layout: dict) -> None:
    """Calibrate on the tiles of `metadata_path`, with the raw-domain check on the captures under `layout`."""
    write_calibration(metadata_path, out_path, root=layout["root"], camera=layout["camera"])
