"""Embeddings of coordinates and of the noise level.

GaussianFourierFeatures: Tancik et al. (2020), "Fourier features let networks learn high
frequency functions in low dimensional domains", §3 with Gaussian B:
    γ(p) = [sin(2π p B), cos(2π p B)],   B ~ N(0, scale²), B of shape (in_dim, n_features / 2).
SinusoidalEmbedding: Vaswani et al. (2017) §3.5, as the time embedding of Ho et al. (2020):
    emb(t) = [cos(t ω_k), sin(t ω_k)],   ω_k = max_period^(-k / (dim / 2)),  k = 0 … dim/2 - 1.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class GaussianFourierFeatures(nn.Module):
    """γ(p) = [sin 2πpB, cos 2πpB] with a fixed random B (a buffer: saved, never trained)."""

    def __init__(
        self,
        in_dim: int = 2,  # Dimension of the coordinates p.
        n_features: int = 256,  # Output dimension (even): n_features / 2 frequencies, a sine and a cosine each.
        scale: float = 10.0,  # Standard deviation of the frequencies, in cycles per unit of p.
        seed: int = 0,  # Seed of the torch.Generator that draws B.
    ):
        super().__init__()
        if n_features % 2:
            raise ValueError(f"GaussianFourierFeatures: n_features must be even, got {n_features}")
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("B", scale * torch.randn(in_dim, n_features // 2, generator=generator))

    def forward(self, p: Tensor) -> Tensor:
        """(..., in_dim) coordinates -> (..., n_features) float32 features in [-1, 1].

        Computed in float32 with autocast off: 2πpB reaches ~100 rad, which bf16 rounds to ±0.5.
        """
        with torch.autocast(p.device.type, enabled=False):
            proj = 2 * math.pi * p.float() @ self.B.float()  # (..., n_features / 2)
        return torch.cat([proj.sin(), proj.cos()], dim=-1)


class SinusoidalEmbedding(nn.Module):
    """Transformer / DDPM embedding of a scalar per sample: (B,) -> (B, dim), values in [-1, 1]."""

    def __init__(self, dim: int, max_period: float = 10000.0):
        super().__init__()
        self.dim, self.max_period = dim, max_period

    def forward(self, t: Tensor) -> Tensor:
        half = self.dim // 2
        k = torch.arange(half, dtype=torch.float32, device=t.device)
        omega = torch.exp(-math.log(self.max_period) * k / half)  # (half,) from 1 down to ~1/max_period
        args = t.float()[:, None] * omega[None]  # (B, half)
        emb = torch.cat([args.cos(), args.sin()], dim=-1)  # (B, 2 * half)
        if self.dim % 2:  # odd dim: one zero column
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return emb
