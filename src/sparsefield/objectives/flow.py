"""Conditional flow matching on the straight path, with an x-prediction network.

Time convention: t ∈ [0, 1]; t = 0 is noise, t = 1 is data (Lipman et al. 2023 — the reverse of EDM's σ).

Path (Lipman et al. 2023, eq. 20-23 with σ_min = 0): x_t = (1 − t) z + t x_1, z ~ N(0, I); target velocity
u = x_1 − z. In x0 units x_t/t = x_1 + ((1 − t)/t) z, so α_t = t, σ_t = 1 − t and the network is the
denoiser D(x̃, σ̃) with x̃ = x_t/t, σ̃ = (1 − t)/t. The velocity it implies is
v_θ(x_t, t) = (D − x_t)/(1 − t) (= E[x_1 − z | x_t] when D = E[x_1 | x_t]).

Loss: per element ‖v_θ − u‖² = ‖D − x_1‖²/(1 − t)², with the weight 1/(1 − t)² capped at 1/t_eps² near
t = 1 (as in x-prediction flow models). The cap sits on the weight, not inside v_θ: dividing only v_θ by
max(1 − t, t_eps) would move the minimiser for t > 1 − t_eps away from E[x_1 | x_t]. At the exact
denoiser the mean loss is E_t[σ_d² (1 − t)²/((σ_d² t² + (1 − t)²) max(1 − t, t_eps)²)] for Gaussian data.
D is evaluated at max(t, t_min): its noise level σ̃ = (1 − t)/t is infinite at t = 0.
Samplers (Euler, Heun): `sparsefield.sampling.flow`.
"""

from __future__ import annotations

import torch

from sparsefield.rng import SampleNoise


class FlowMatching:
    """Straight-path conditional flow matching with x-prediction."""

    def __init__(
        self,
        t_eps: float = 0.05,  # Caps the loss weight 1/(1 − t)² at 1/t_eps².
        t_min: float = 1e-3,  # D is evaluated at max(t, t_min) (σ̃ ≤ 999).
    ):
        self.t_eps, self.t_min = t_eps, t_min

    def loss(self, D, x1: torch.Tensor, cond, noise: SampleNoise) -> torch.Tensor:
        """(B, ...) per-element loss ‖v_θ − u‖², t ~ U(0, 1) and z ~ N(0, I) per sample."""
        t = noise.rand()  # (B,)
        z = noise.randn(*x1.shape[1:])  # (B, ...)
        t_ = t.reshape(-1, *([1] * (x1.ndim - 1)))
        x_t = (1 - t_) * z + t_ * x1  # ψ_t(z), Lipman et al. eq. 22
        tc = t.clamp(min=self.t_min)
        x0_hat = D(x_t / tc.reshape(t_.shape), (1 - tc) / tc, cond)  # x̃ = x_t/t, σ̃ = (1 − t)/t
        return ((x0_hat - x1) / (1 - t_).clamp(min=self.t_eps)) ** 2  # v_θ − u = (D − x_1)/(1 − t)
