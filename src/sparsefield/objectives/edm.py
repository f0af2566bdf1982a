"""The EDM training objective (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based
Generative Models", §5 and Table 1).

Time convention: the noise level σ itself; x̃ = x0 + σ n, n ~ N(0, I) ("x0 units", as
`sparsefield.nn.precond`); σ → ∞ is noise, σ = 0 is data. Samplers: `sparsefield.sampling.karras`.

Per sample ln σ ~ N(P_mean, P_std²) (the training noise distribution p_train), and per element

    loss = λ(σ) (D(x̃, σ, cond) − x0)²,   λ(σ) = (σ² + σ_d²)/(σ σ_d)²          (eq. 8, Table 1).

λ(σ) = 1/c_out(σ)², so the loss is the unit-weighted error of the raw network F against its own target
(x0 − c_skip x̃)/c_out. At the exact denoiser of Gaussian data N(0, σ_d²), E(D* − x0)² = σ² σ_d²/(σ² + σ_d²)
and the expected loss is 1 at every σ; the denoiser's `sigma_data` should be this objective's σ_d.
"""

from __future__ import annotations

import torch

from sparsefield.rng import SampleNoise


class EDM:
    """Denoising loss with EDM's log-normal σ and weighting λ(σ)."""

    def __init__(
        self,
        P_mean: float = -1.2,  # Mean of ln σ in training, chosen for σ_d = 0.5 (σ_d: P_mean + ln(σ_d/0.5)).
        P_std: float = 1.2,  # Standard deviation of ln σ during training.
        sigma_data: float = 0.5,  # Expected std of the training data σ_d (as the denoiser's).
    ):
        if P_std < 0 or sigma_data <= 0:
            raise ValueError(f"EDM: need P_std >= 0 and sigma_data > 0, got {P_std}, {sigma_data}")
        self.P_mean, self.P_std, self.sigma_data = P_mean, P_std, sigma_data

    def loss(self, D, x0: torch.Tensor, cond, noise: SampleNoise) -> torch.Tensor:
        """(B, ...) per-element loss λ(σ) (D(x̃, σ, cond) − x0)², ln σ and n drawn per sample from `noise`."""
        sigma = (noise.randn() * self.P_std + self.P_mean).exp().to(x0.dtype)  # (B,)
        n = noise.randn(*x0.shape[1:]).to(x0.dtype)  # (B, ...)
        s = sigma.reshape(-1, *([1] * (x0.ndim - 1)))  # (B, 1, ...)
        weight = (s**2 + self.sigma_data**2) / (s * self.sigma_data) ** 2  # λ(σ)
        return weight * (D(x0 + s * n, sigma, cond) - x0) ** 2
