"""The rawset stage: a builtin `rawsets:` entry -> its DNG captures and list files (`data.raw.synth`)."""

from __future__ import annotations

import os

from sparsefield.data.raw.synth import build_builtin

DEMOSAIC_KEYS = ("kind", "tile_size", "stride", "algorithm")  # the demosaic stage's, not the writer's


def rawset(root: str | os.PathLike, entry: dict) -> None:
    """Write the builtin raw set `entry` under `root` ({camera}/ and the {camera}_{split}_list.txt files)."""
    build_builtin(root, **{key: value for key, value in entry.items() if key not in DEMOSAIC_KEYS})
