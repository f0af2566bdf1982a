"""Per-sample random streams: results independent of batch size and order.

Every sample (a test image and sample number, or a training example and step)
owns a `torch.Generator` seeded from a tuple of integers, so drawing its noise
in a batch of 1 or of 500 gives the same numbers.
"""

from __future__ import annotations

import hashlib

import torch


def seed_of(*parts: int) -> int:
    """A 63-bit seed from a tuple of integers (stable across runs and platforms)."""
    digest = hashlib.blake2b(repr(tuple(int(p) for p in parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class SampleNoise:
    """Gaussian (and uniform) draws from one generator per sample.

    Args:
        seeds: one integer seed per sample in the batch (e.g. `seed_of(seed, image, k)`).
        device: where the draws are returned (generators live on the CPU, so a run
            gives the same numbers on any device).
    """

    def __init__(self, seeds: list[int], device: torch.device | str = "cpu"):
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.device = torch.device(device)

    def __len__(self) -> int:
        return len(self.generators)

    def randn(self, *shape: int) -> torch.Tensor:
        """(B, *shape) standard normal; row b from sample b's own stream."""
        rows = [torch.randn(shape, generator=g) for g in self.generators]
        return torch.stack(rows).to(self.device)

    def rand(self, *shape: int) -> torch.Tensor:
        """(B, *shape) uniform on [0, 1)."""
        rows = [torch.rand(shape, generator=g) for g in self.generators]
        return torch.stack(rows).to(self.device)
