"""Conditional DDO's training items: each image with its fixed masks (and classical estimate) on the dense grid."""

from __future__ import annotations

import torch

from sparsefield.data.images.grids import GridBatch, grid_batch


class GridDataset(torch.utils.data.Dataset):
    """`data.images.sets.MaskedImages` as GridBatches; one fancy-indexing step per batch (`__getitems__`)."""

    def __init__(self, data):
        self.images = torch.as_tensor(data.images)
        self.context, self.query = torch.as_tensor(data.context).long(), torch.as_tensor(data.query).long()
        self.prior = None if data.estimate is None else torch.as_tensor(data.estimate)

    def __len__(self) -> int:
        return len(self.images)

    def __getitems__(self, indices: list[int]) -> GridBatch:
        index = torch.as_tensor(indices)
        prior = None if self.prior is None else self.prior[index]
        return grid_batch(self.images[index], self.context[index], self.query[index], prior)

    def __getitem__(self, i: int) -> GridBatch:
        return self.__getitems__([i])

    @staticmethod
    def collate(batch: GridBatch) -> GridBatch:
        return batch
