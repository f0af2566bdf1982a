"""x0-prediction ("neural field as denoiser") on a discrete cosine schedule.

Time convention: integer t = 0..T; t = 0 is data, t = T is noise.

Forward process (Ho et al. 2020, eq. 4): x_t = sqrt(ᾱ_t) x_0 + sqrt(1 − ᾱ_t) ε with the cosine ᾱ_t of
Nichol & Dhariwal 2021 (eq. 17; `sampling.schedules.cosine_alpha_bar`). The network predicts the clean
values, x̂_0 = D(x̃, σ̃) with x̃ = x_t/sqrt(ᾱ_t) and σ̃ = sqrt((1 − ᾱ_t)/ᾱ_t). Loss: per element
‖x̂_0 − x_0‖² at t ~ U{1, …, T}; at the exact denoiser its mean is (1/T) Σ_t σ_d² σ̃_t²/(σ_d² + σ̃_t²)
for Gaussian data of std σ_d.

Samplers, on the strided sub-sequence τ of 1..T when fewer than T steps are asked (DDIM §4.2):
"ddpm" — ancestral sampling from the posterior q(x_{τ_{i−1}} | x_{τ_i}, x̂_0) (Ho et al. eq. 6-7);
"ddim" — the deterministic update with η = 0 (Song et al. 2021, eq. 12). Both end exactly on x̂_0
(ᾱ_0 = 1), one evaluation per step. x_T ~ N(0, (1 − ᾱ_T) I) for every approach: the true x_T also
holds sqrt(ᾱ_T) x_0 ≈ 5e-4 x_0, far below the data's 8-bit resolution, so starting around the prior
would change nothing measurable and would tie the sampler to a prior only D knows about.
"""

from __future__ import annotations

import math

import torch

from sparsefield.data.fields import FieldBatch
from sparsefield.precond import Denoiser, bind
from sparsefield.rng import SampleNoise
from sparsefield.sampling.schedules import cosine_alpha_bar, strided_timesteps
from sparsefield.sampling.solvers import CountCalls, ancestral, ddim


class X0Denoiser:
    """Predict x_0 from x_t on a T-step cosine schedule; DDPM ancestral or DDIM (η = 0) sampling."""

    SAMPLERS = ("ddpm", "ddim")

    def __init__(
        self,
        steps: int = 100,  # T, the number of diffusion steps trained on.
        s: float = 0.008,  # Cosine schedule offset (Nichol & Dhariwal 2021, eq. 17).
    ):
        self.steps, self.s = steps, s
        self.alpha_bar = cosine_alpha_bar(steps, s)  # (T+1,) float64, ᾱ_0 = 1

    def loss(self, denoiser: Denoiser, batch: FieldBatch, noise: SampleNoise) -> torch.Tensor:
        """(B, No, C) per-element loss ‖x̂_0 − x_0‖², t ~ U{1..T} and ε ~ N(0, I) per sample."""
        x0 = batch.output_values  # (B, No, C)
        t = (noise.rand() * self.steps).long().clamp(max=self.steps - 1) + 1  # (B,) in 1..T
        eps = noise.randn(*x0.shape[1:])  # (B, No, C)
        abar = self.alpha_bar.to(x0.device)[t].to(x0.dtype)  # (B,)
        a = abar.reshape(-1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps  # Ho et al. eq. 4
        x0_hat = denoiser(x_t / a.sqrt(), ((1 - abar) / abar).sqrt(), batch)  # D in x0 units
        return (x0_hat - x0) ** 2

    def steps_for_nfe(self, nfe: int, sampler: str) -> int:
        """Sampling steps whose NFE is `nfe` (one D call per step), at most the T training steps."""
        return max(1, min(nfe, self.steps))

    @torch.no_grad()
    def sample(
        self, denoiser: Denoiser, batch: FieldBatch, noise: SampleNoise, *, steps: int, sampler: str
    ) -> tuple[torch.Tensor, int]:
        """(B, No, C) samples at the output coordinates and the NFE (= steps, 1 ≤ steps ≤ T)."""
        if sampler not in self.SAMPLERS:
            raise ValueError(f"X0Denoiser sampler must be one of {self.SAMPLERS}, got {sampler!r}")
        D = CountCalls(bind(denoiser, batch))
        shape = batch.output_values.shape[1:]

        def randn() -> torch.Tensor:
            return noise.randn(*shape)

        def x0_model(x: torch.Tensor, abar: float) -> torch.Tensor:
            return D(x / math.sqrt(abar), math.sqrt((1 - abar) / abar))

        abars = self.alpha_bar[strided_timesteps(self.steps, steps)].tolist()  # ᾱ_{τ_S}, …, ᾱ_{τ_1}, ᾱ_0 = 1
        x = math.sqrt(1 - abars[0]) * randn()  # x_T ~ N(0, (1 − ᾱ_T) I)
        x = ancestral(x0_model, x, abars, randn) if sampler == "ddpm" else ddim(x0_model, x, abars)
        return x, D.calls
