"""Score-based objective on the VP SDE (Song et al. 2021, "Score-Based Generative Modeling through SDEs").

Time convention: t ∈ [t_min, 1]; t = 0 is data, t = 1 is noise.

Forward SDE (eq. 11, continuous): dx = −½ β(t) x dt + sqrt(β(t)) dw, so x_t = α_t x_0 + σ_t ε with
α_t = exp(−½ ∫_0^t β), σ_t = sqrt(1 − α_t²) (`sampling.schedules.vp_alpha_sigma`).

The score is read from the x0-denoiser D (in x0 units: x̃ = x_t/α_t, σ̃ = σ_t/α_t) by Tweedie's formula,
s_θ(x_t, t) = (α_t D(x̃, σ̃) − x_t)/σ_t². Loss: denoising score matching (eq. 7) with λ(t) = σ_t²,
per element ‖σ_t s_θ + ε‖² (= ‖D − x_0‖²/σ̃²). At the exact denoiser its mean is E_t[σ_d²/(σ_d² + σ̃_t²)]
for Gaussian data of std σ_d. Samplers (reverse-SDE Euler–Maruyama, predictor–corrector):
`sparsefield.sampling.vp`.
"""

from __future__ import annotations

import torch

from sparsefield.rng import SampleNoise
from sparsefield.sampling.schedules import vp_alpha_sigma


class VPScore:
    """Denoising score matching on the VP SDE."""

    def __init__(
        self,
        beta_min: float = 0.1,  # β(0) of the linear VP schedule.
        beta_max: float = 20.0,  # β(1).
        t_min: float = 1e-3,  # Smallest time trained and integrated to (Song et al.'s ε).
        snr: float = 0.16,  # Langevin corrector signal-to-noise ratio r (Song et al.'s CIFAR-10 value).
        corrector_steps: int = 1,  # Corrector steps M per predictor step ("pc" sampling only).
    ):
        self.beta_min, self.beta_max, self.t_min = beta_min, beta_max, t_min
        self.snr, self.corrector_steps = snr, corrector_steps

    def alpha_sigma(self, t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        return vp_alpha_sigma(t, self.beta_min, self.beta_max)

    def loss(self, D, x0: torch.Tensor, cond, noise: SampleNoise) -> torch.Tensor:
        """(B, ...) per-element DSM loss ‖σ_t s_θ(x_t, t) + ε‖², t ~ U(t_min, 1) and ε ~ N(0, I) per sample."""
        t = self.t_min + (1 - self.t_min) * noise.rand()  # (B,)
        eps = noise.randn(*x0.shape[1:])  # (B, ...)
        alpha, sigma = self.alpha_sigma(t)
        shape = (-1, *([1] * (x0.ndim - 1)))
        a, s = alpha.reshape(shape), sigma.reshape(shape)
        x_t = a * x0 + s * eps  # eq. 33
        score = (a * D(x_t / a, sigma / alpha, cond) - x_t) / s**2  # Tweedie: s_θ = (α D − x_t)/σ²
        return (s * score + eps) ** 2  # λ(t) ‖s_θ − ∇log p(x_t|x_0)‖² with λ = σ², eq. 7
