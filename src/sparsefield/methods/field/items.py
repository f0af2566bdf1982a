"""The Perceiver IO fields' training items: each image with its fixed masks as (input, output) pixel sets."""

from __future__ import annotations

import torch

from sparsefield.data.images.fields import FieldBatch, field_batch


class FieldDataset(torch.utils.data.Dataset):
    """Images with their fixed masks, as (input, output) pixel sets.

    Item i: input = image i's context pixels, output = its query pixels (the
    supervised set: the query-only loss). Everything is precomputed once,
    so a batch is one fancy-indexing step (`__getitems__`): loading never limits
    training speed.

    Args:
        images: (N, H, W, C) uint8.
        context, query: (N, Ni) and (N, No) flat pixel indices (the fixed masks).
    """

    def __init__(self, images, context, query):
        self.images = torch.as_tensor(images)
        self.context = torch.as_tensor(context).long()
        self.query = torch.as_tensor(query).long()

    def __len__(self) -> int:
        return len(self.images)

    def __getitems__(self, indices: list[int]) -> FieldBatch:
        index = torch.as_tensor(indices)
        return field_batch(self.images[index], self.context[index], self.query[index])

    def __getitem__(self, i: int) -> FieldBatch:
        return self.__getitems__([i])

    @staticmethod
    def collate(batch: FieldBatch) -> FieldBatch:
        return batch  # __getitems__ already returns the whole batch
