"""What an approach reads, by its kind's `reads` (the registry): the rules hand over the same named inputs.

reads "images"  inputs data (results/data/{dataset}.h5) and masks (results/masks/{dataset}/{scheme}.h5)
                -> `data.sets.MaskedImages` of a split; with input estimate (results/estimates/{dataset}/{scheme}/
                {method}.h5, an approach's `estimate:`) its classical estimate too
reads "tiles"   input metadata (results/tiles/{rawset}/metadata.json)
                -> train: the clean tiles (`TileDataset`); test: the validated noisy/clean pairs
reads "spectral" input data (results/data/{dataset}.h5 of a multispectral source)
                -> `data.spectral.SpectralImages` of a split: reflectance images and their leaf masks
"""

from __future__ import annotations


def read_split(reads: str, inputs, split: str):
    """The `split` ("train" or "test") of what an approach of this `reads` sees."""
    if reads == "images":
        from sparsefield.data.sets import read_masked

        data = read_masked(inputs["data"], inputs["masks"], split)
        if "estimate" in inputs.keys():
            from sparsefield.data.estimates import read_estimate

            data.estimate = read_estimate(inputs["estimate"], split, len(data.images))
        return data
    if reads == "tiles":
        from sparsefield.data.tiles import TileDataset, paired_test_tiles

        return paired_test_tiles(inputs["metadata"]) if split == "test" else TileDataset(
            inputs["metadata"], split=split, data_type="clean")  # fmt: skip
    if reads == "spectral":
        from sparsefield.data.spectral import read_spectral

        return read_spectral(inputs["data"], split)
    raise ValueError(f"unknown reads {reads!r}; the registry's kinds read 'images', 'tiles' or 'spectral'")
