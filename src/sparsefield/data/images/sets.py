"""One split of a dataset with its fixed masks, as every stage of an `images`-reading approach sees it."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from sparsefield.data.images.estimates import read_estimate
from sparsefield.data.images.masks import read_masks
from sparsefield.data.images.sources import has_split, read_images
from sparsefield.io import open_h5

CHUNK = 1024  # test images per chunk of a reconstruct or evaluate job (its memory, not the split's)


@dataclass
class MaskedImages:
    images: np.ndarray  # uint8 (N, H, W, C)
    context: np.ndarray  # (N, Kc) flat pixel indices the approach observes
    query: np.ndarray  # (N, Kq) held-out flat pixel indices (supervision of learned approaches)
    images_2x: np.ndarray | None = None  # uint8 (N, 2H, 2W, C) the same scenes at twice the resolution
    estimate: np.ndarray | None = None  # float32 (N, H, W, C) in [0, 1]: a classical estimate from the context
    index: np.ndarray | None = None  # (N,) positions in the split (None: 0..N-1); seeds and samples.h5 follow it

    def __post_init__(self):
        if self.index is None:
            self.index = np.arange(len(self.images))

    def __len__(self) -> int:
        return len(self.images)

    def take(self, rows) -> MaskedImages:
        """The images at `rows` (a slice or positions), keeping their positions in the split."""
        twice = None if self.images_2x is None else self.images_2x[rows]
        estimate = None if self.estimate is None else self.estimate[rows]
        return MaskedImages(self.images[rows], self.context[rows], self.query[rows], twice, estimate,
                            self.index[rows])

    def first(self, n: int | None) -> MaskedImages:
        """The first n images (all when n is None)."""
        return self.take(slice(None if n is None else n))

    subset = first  # the n images an evaluation scores, the same for every approach: the first n


def read_masked(data_path: str | os.PathLike, masks_path: str | os.PathLike, split: str) -> MaskedImages:
    """Images and fixed masks of `split` ("train" or "test"; test also reads test_2x when present).

    Raises:
        ValueError: the masks were built for another image size or another number of images (one line).
    """
    images = read_images(data_path, split)
    context, query = read_masks(masks_path, split)
    with open_h5(masks_path, "masks") as f:
        mask_hw = (int(f.attrs["H"]), int(f.attrs["W"]))
    if mask_hw != images.shape[1:3]:
        raise ValueError(f"{masks_path} is for {mask_hw[0]}x{mask_hw[1]} images but {data_path} holds "
                         f"{images.shape[1]}x{images.shape[2]}; rebuild the masks")
    if len(context) != len(images):
        raise ValueError(f"{masks_path} has {len(context)} {split} masks but {data_path} {len(images)} images")
    twice = read_images(data_path, "test_2x") if split == "test" and has_split(data_path, "test_2x") else None
    return MaskedImages(images, context, query, twice)


def read_split(inputs, split: str) -> MaskedImages:
    """reads "images" (`stages.data`): images and fixed masks of `split`, with the classical estimate when the
    inputs name one (an approach's `estimate:`)."""

    data = read_masked(inputs["data"], inputs["masks"], split)
    if "estimate" in inputs.keys():
        data.estimate = read_estimate(inputs["estimate"], split, len(data.images))
    return data
