"""The images stage: a `datasets:` entry -> results/data/{dataset}.h5, by its source's writer.

RGB sources (builtin, cifar10, imagefolder) are written by `data.images.sources.build_images`, multispectral ones
(leaves, multispectral_folder) by `data.spectral.sources.build_spectral` (`config.writer_of`). The rule names the
writer and the stage loads it by name, so a dataset's code fingerprint follows its own writer only.
"""

from __future__ import annotations

import os

from sparsefield.registry import load


def build_dataset(out_path: str | os.PathLike, entry: dict, *, writer: str) -> None:
    """Write the dataset `entry` (its source and the source's parameters, defaults filled) to `out_path` with
    `writer` ("module:function")."""
    load(writer)(out_path, **entry)
