"""Training windows of an EDM prior, read as a batch draws them: crops of a dataset's uint8 images
(`CropDataset`) or of a raw set's clean train captures over their overlapping tiles (`CaptureCrops`).

A job holds the windows a batch draws, never the training set in x units.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from sparsefield.data.raw.tiles import TileDataset


class Windows(torch.utils.data.Dataset):
    """Every `crop` x `crop` window at `stride` of images of the given sizes (H_i, W_i): item k is one fixed window,
    the k-th in (image, y, x) order, read by `window(i, y, x)`.

    The positions are arithmetic (a count per image), never listed: a SID-size set has millions of windows. The
    training loop's seeded epoch permutation picks the windows, so crops are random and still a pure function of
    (seed, step); flips are drawn per example by the loss from its noise stream.
    """

    def __init__(self, sizes: list[tuple[int, int]], crop: int, stride: int):
        if len(sizes) == 0:
            raise ValueError(f"{type(self).__name__}: no images")
        small = [size for size in sizes if min(size) < crop]
        if small:
            raise ValueError(f"{type(self).__name__}: crop {crop} exceeds an image of size {small[0]}; lower the crop")
        self.crop, self.stride = crop, stride
        self.columns = [(w - crop) // stride + 1 for _, w in sizes]
        counts = [((h - crop) // stride + 1) * n for (h, _), n in zip(sizes, self.columns, strict=True)]
        self.starts = np.concatenate([[0], np.cumsum(counts)])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def position(self, k: int) -> tuple[int, int, int]:
        """(image, y, x) of window k."""
        i = int(np.searchsorted(self.starts, k, side="right")) - 1
        row, column = divmod(k - int(self.starts[i]), self.columns[i])
        return i, row * self.stride, column * self.stride

    def __getitem__(self, k: int) -> torch.Tensor:
        return self.window(*self.position(k))

class CropDataset(Windows):
    """The windows of images held in memory: a list of (C, H, W) tensors, or uint8 (N, H, W, C) images read as
    v = x / 127.5 − 1 in [−1, 1] window by window (a data set of uint8 images stays uint8 in memory)."""

    def __init__(self, images, crop: int, stride: int):
        self.images, self.uint8 = images, isinstance(images, np.ndarray) and images.dtype == np.uint8
        super().__init__([image.shape[:2] if self.uint8 else tuple(image.shape[1:]) for image in images], crop,
                         stride)

    def window(self, i: int, y: int, x: int) -> torch.Tensor:
        if self.uint8:
            return torch.as_tensor(self.images[i]).permute(2, 0, 1)[:, y : y + self.crop, x : x + self.crop] \
                .float() / 127.5 - 1.0
        return self.images[i][:, y : y + self.crop, x : x + self.crop]

class CaptureCrops(Windows):
    """The windows of a raw set's captures, each capture the area its tiles cover, put together from the tiles a
    window overlaps as it is read (a capture is never in memory whole: a SID capture's tiles are 140 MB).

    A capture's area is (max y + T) x (max x + T) of its tiles, zero where no tile lies, a later tile (in tile id
    order: row by row) over an earlier one where they overlap. Decoded tiles are kept in a cache of at most
    `cache_bytes` (a small set's tiles all stay; a SID-size set's rarely meet twice). Every tile is validated
    first (`TileDataset.validate`: one line naming a bad one).
    """

    def __init__(self, metadata, *, split: str, crop: int, stride: int, data_type: str = "clean",
                 cache_bytes: int = 2**28):
        self.tiles = TileDataset(metadata, split=split, data_type=data_type)
        self.tiles.validate()
        size = self.tiles.tile_size
        by_capture: dict[str, list[dict]] = {}
        for record in self.tiles.records:
            by_capture.setdefault(record["capture"], []).append(record)
        self.captures = [by_capture[name] for name in sorted(by_capture)]
        self.origins = [(np.array([r["y"] for r in rs]), np.array([r["x"] for r in rs])) for rs in self.captures]
        sizes = [(int(ys.max()) + size, int(xs.max()) + size) for ys, xs in self.origins]
        super().__init__(sizes, crop, stride)
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cache_tiles = max(1, cache_bytes // (3 * size * size * 4))

    def _tile(self, record: dict) -> torch.Tensor:
        key = record["tile_id"]
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        tile = self._cache[key] = self.tiles.load(record)
        if len(self._cache) > self._cache_tiles:
            self._cache.popitem(last=False)
        return tile

    def window(self, i: int, y: int, x: int) -> torch.Tensor:
        size, crop, (ys, xs) = self.tiles.tile_size, self.crop, self.origins[i]
        out = torch.zeros(3, crop, crop)
        overlapping = np.nonzero((ys < y + crop) & (ys + size > y) & (xs < x + crop) & (xs + size > x))[0]
        for j in overlapping:  # in tile id order, as the capture was cut
            ty, tx = int(ys[j]), int(xs[j])
            top, left, bottom, right = max(y, ty), max(x, tx), min(y + crop, ty + size), min(x + crop, tx + size)
            out[:, top - y : bottom - y, left - x : right - x] = self._tile(self.captures[i][j])[
                :, top - ty : bottom - ty, left - tx : right - tx]
        return out
