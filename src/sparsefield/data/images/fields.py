"""Images and fixed masks as pixel sets: the batch layout of the Perceiver IO fields (and the normconv baseline).

Coordinates are pixel centres in [0, 1]²: pixel (y, x) of an H×W image sits at
((y + 0.5) / H, (x + 0.5) / W), so the same scene at 2H×2W has its pixels at the
same continuous positions. Values are scaled from [0, 1] to [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass
class FieldBatch:
    input_coords: torch.Tensor  # (B, Ni, 2) observed pixel positions, (y, x) in [0, 1]
    input_values: torch.Tensor  # (B, Ni, C) observed values in [-1, 1]
    output_coords: torch.Tensor  # (B, No, 2) positions to predict
    output_values: torch.Tensor  # (B, No, C) targets in [-1, 1] (zeros when unknown)

    def to(self, device: torch.device | str) -> FieldBatch:
        return FieldBatch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def __len__(self) -> int:
        return self.input_coords.shape[0]


def pixel_coords(indices: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pixel-centre coordinates (..., 2) in [0, 1] of flat row-major indices (...)."""
    y = torch.div(indices, width, rounding_mode="floor")
    x = indices - y * width
    return torch.stack([(y + 0.5) / height, (x + 0.5) / width], dim=-1).float()


def grid_coords(height: int, width: int) -> torch.Tensor:
    """(H*W, 2) coordinates of every pixel centre, row-major."""
    return pixel_coords(torch.arange(height * width), height, width)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (..., C) → float values in [-1, 1]."""
    return images.float() / 127.5 - 1.0


def from_unit(values: torch.Tensor) -> torch.Tensor:
    """Values in [-1, 1] → [0, 1] (clipped)."""
    return ((values + 1.0) / 2.0).clamp(0.0, 1.0)


def gather_pixels(images: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Values (B, K, C) of images (B, H, W, C) at flat pixel indices (B, K)."""
    flat = images.reshape(images.shape[0], -1, images.shape[-1])
    return torch.gather(flat, 1, indices.long()[..., None].expand(-1, -1, flat.shape[-1]))


def field_batch(images: torch.Tensor, context: torch.Tensor, query: torch.Tensor) -> FieldBatch:
    """Batch of uint8 images (B, H, W, C) observed at `context` (B, Ni), asked at `query` (B, No)."""
    height, width = images.shape[1:3]
    values = to_unit(images)
    return FieldBatch(
        input_coords=pixel_coords(context.long(), height, width),
        input_values=gather_pixels(values, context),
        output_coords=pixel_coords(query.long(), height, width),
        output_values=gather_pixels(values, query),
    )




def fill_unobserved(images, missing: torch.Tensor, values):
    """Full grids (N, K, H, W, C) in [0, 1]: the observed pixels of uint8 `images` (N, H, W, C), and
    `values` (N, K, Nm, C) in [0, 1] at the flat `missing` indices (N, Nm)."""
    n, height, width, channels = images.shape
    values = torch.as_tensor(values, dtype=torch.float32)
    k = values.shape[1]
    grid = torch.as_tensor(images, dtype=torch.float32).div(255).reshape(n, 1, -1, channels).repeat(1, k, 1, 1)
    grid.scatter_(2, missing[:, None, :, None].expand(-1, k, -1, channels), values)
    return grid.view(n, k, height, width, channels).numpy()
