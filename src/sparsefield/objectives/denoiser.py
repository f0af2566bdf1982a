"""x0-prediction ("neural field as denoiser") on a discrete cosine schedule.

Time convention: integer t = 0..T; t = 0 is data, t = T is noise.

Forward process (Ho et al. 2020, eq. 4): x_t = sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε with the cosine ᾱ_t of
Nichol & Dhariwal 2021 (eq. 17; `sampling.schedules.cosine_alpha_bar`). The network predicts the clean
values, x̂_0 = D(x̃, σ̃) with x̃ = x_t/sqrt(ᾱ_t) and σ̃ = sqrt((1 − ᾱ_t)/ᾱ_t). Loss: per element
‖x̂_0 − x_0‖² at t ~ U{1, …, T}; at the exact denoiser its mean is (1/T) Σ_t σ_d² σ̃_t²/(σ_d² + σ̃_t²)
for Gaussian data of std σ_d. Samplers (DDPM ancestral, DDIM): `sparsefield.sampling.ddpm`.
"""

from __future__ import annotations

import torch

from sparsefield.rng import SampleNoise
from sparsefield.sampling.schedules import cosine_alpha_bar


class X0Denoiser:
    """Predict x_0 from x_t on a T-step cosine schedule."""

    def __init__(
        self,
        steps: int = 100,  # T, the number of diffusion steps trained on.
        s: float = 0.008,  # Cosine schedule offset (Nichol & Dhariwal 2021, eq. 17).
    ):
        self.steps, self.s = steps, s
        self.alpha_bar = cosine_alpha_bar(steps, s)  # (T+1,) float64, ᾱ_0 = 1

    def loss(self, D, x0: torch.Tensor, cond, noise: SampleNoise) -> torch.Tensor:
        """(B, ...) per-element loss ‖x̂_0 − x_0‖², t ~ U{1..T} and ε ~ N(0, I) per sample."""
        t = (noise.rand() * self.steps).long().clamp(max=self.steps - 1) + 1  # (B,) in 1..T
        eps = noise.randn(*x0.shape[1:])  # (B, ...)
        abar = self.alpha_bar.to(x0.device)[t].to(x0.dtype)  # (B,)
        a = abar.reshape(-1, *([1] * (x0.ndim - 1)))
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps  # Ho et al. eq. 4
        x0_hat = D(x_t / a.sqrt(), ((1 - abar) / abar).sqrt(), cond)  # D in x0 units
        return (x0_hat - x0) ** 2
