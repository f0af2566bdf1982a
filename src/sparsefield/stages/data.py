"""What an approach reads, by its kind's `reads` (the registry's READERS): the rules hand over the same named
inputs, and each reader module's `read_split(inputs, split)` turns them into a split.

reads "images"  inputs data (results/data/{dataset}.h5) and masks (results/masks/{dataset}/{scheme}.h5)
                -> `data.sets.MaskedImages` of a split; with input estimate (results/estimates/{dataset}/{scheme}/
                {method}.h5, an approach's `estimate:`) its classical estimate too
reads "tiles"   input metadata (results/tiles/{rawset}/metadata.json)
                -> train: the clean tiles (`TileDataset`); test: the validated noisy/clean pairs
reads "spectral" input data (results/data/{dataset}.h5 of a multispectral source)
                -> `data.spectral.SpectralImages` of a split: reflectance images and their leaf masks
"""

from __future__ import annotations

from sparsefield.registry import READERS, load


def read_split(reads: str, inputs, split: str):
    """The `split` ("train" or "test") of what an approach of this `reads` sees: its reader's `read_split`,
    loaded by name (`registry.READERS`) so each kind's code fingerprint follows only its own reader."""
    if reads not in READERS:
        raise ValueError(f"unknown reads {reads!r}; the registry's kinds read {', '.join(map(repr, READERS))}")
    return load(READERS[reads]).read_split(inputs, split)
