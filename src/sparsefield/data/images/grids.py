"""Images and fixed masks on the dense H×W grid: the batch layout of conditional DDO and the EDM posteriors.

A batch holds whole images channels-first in [−1, 1], the context and query pixels as dense
masks, and optionally a classical estimate from the context pixels (`prior`, [−1, 1]). The
context image is the image with every non-context pixel zero (the zero-filled input).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from sparsefield.data.images.masks import dense_masks


@dataclass
class GridBatch:
    images: torch.Tensor  # (B, C, H, W) in [−1, 1] (zeros where unknown, e.g. at sampling time)
    context: torch.Tensor  # (B, 1, H, W) float, 1 at the observed pixels
    query: torch.Tensor  # (B, 1, H, W) float, 1 at the held-out supervised pixels
    prior: torch.Tensor | None = None  # (B, C, H, W) in [−1, 1]

    def to(self, device) -> GridBatch:
        return GridBatch(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name).to(device)
                            for f in fields(self)})

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def context_image(self) -> torch.Tensor:
        return self.images * self.context


def grid_batch(images, context, query, prior=None) -> GridBatch:
    """uint8 images (B, H, W, C), flat context / query indices (B, K), prior (B, H, W, C) in [0, 1] or None."""
    height, width = images.shape[1:3]
    images = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    prior = None if prior is None else torch.as_tensor(prior).permute(0, 3, 1, 2).float() * 2.0 - 1.0
    return GridBatch(images, dense_masks(torch.as_tensor(context), height, width).float(),
                     dense_masks(torch.as_tensor(query), height, width).float(), prior)


