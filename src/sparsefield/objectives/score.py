"""Score-based objective on the VP SDE (Song et al. 2021, "Score-Based Generative Modeling through SDEs").

Time convention: t ∈ [t_min, 1]; t = 0 is data, t = 1 is noise.

Forward SDE (eq. 11, continuous): dx = −½ β(t) x dt + sqrt(β(t)) dw, so x_t = α_t x_0 + σ_t ε with
α_t = exp(−½ ∫_0^t β), σ_t = sqrt(1 − α_t²) (`sampling.schedules.vp_alpha_sigma`).

The score is read from the x0-denoiser D (in x0 units: x̃ = x_t/α_t, σ̃ = σ_t/α_t) by Tweedie's formula,
s_θ(x_t, t) = (α_t D(x̃, σ̃) − x_t)/σ_t². Loss: denoising score matching (eq. 7) with λ(t) = σ_t²,
per element ‖σ_t s_θ + ε‖² (= ‖D − x_0‖²/σ̃²). At the exact denoiser its mean is E_t[σ_d²/(σ_d² + σ̃_t²)]
for Gaussian data of std σ_d.

Sampling: the reverse SDE (eq. 6) dx = [−½β x − β s_θ] dt + sqrt(β) dw̄ by Euler–Maruyama on a uniform
grid from t = 1 to t_min (`steps − 1` predictor steps), optionally with a Langevin corrector after each
(predictor–corrector, Alg. 2 + Alg. 4), then one denoising step x_0 = D(x_{t_min}) (Tweedie).
x_1 ~ N(0, σ_1² I) for every approach, residual or not: the true x_1 = α_1 x_0 + σ_1 ε differs only by
α_1 x_0 (α_1 ≈ 0.0066 for the default β), and starting around α_1·prior would tie the sampler to a
prior that only D knows about.
"""

from __future__ import annotations

import math

import torch

from sparsefield.data.fields import FieldBatch
from sparsefield.precond import Denoiser, bind
from sparsefield.rng import SampleNoise
from sparsefield.sampling.schedules import uniform_grid, vp_alpha_sigma, vp_beta
from sparsefield.sampling.solvers import CountCalls, euler_maruyama, langevin_corrector


class VPScore:
    """Denoising score matching on the VP SDE, sampled by the reverse SDE (± Langevin corrector)."""

    SAMPLERS = ("euler_maruyama", "pc")

    def __init__(
        self,
        beta_min: float = 0.1,  # β(0) of the linear VP schedule.
        beta_max: float = 20.0,  # β(1).
        t_min: float = 1e-3,  # Smallest time trained and integrated to (Song et al.'s ε).
        snr: float = 0.16,  # Langevin corrector signal-to-noise ratio r (Song et al.'s CIFAR-10 value).
        corrector_steps: int = 1,  # Corrector steps M per predictor step ("pc" only).
    ):
        self.beta_min, self.beta_max, self.t_min = beta_min, beta_max, t_min
        self.snr, self.corrector_steps = snr, corrector_steps

    def alpha_sigma(self, t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        return vp_alpha_sigma(t, self.beta_min, self.beta_max)

    def loss(self, denoiser: Denoiser, batch: FieldBatch, noise: SampleNoise) -> torch.Tensor:
        """(B, No, C) per-element DSM loss ‖σ_t s_θ(x_t, t) + ε‖², t ~ U(t_min, 1) and ε ~ N(0, I) per sample."""
        x0 = batch.output_values  # (B, No, C)
        t = self.t_min + (1 - self.t_min) * noise.rand()  # (B,)
        eps = noise.randn(*x0.shape[1:])  # (B, No, C)
        alpha, sigma = self.alpha_sigma(t)
        a, s = alpha.reshape(-1, 1, 1), sigma.reshape(-1, 1, 1)
        x_t = a * x0 + s * eps  # eq. 33
        score = (a * denoiser(x_t / a, sigma / alpha, batch) - x_t) / s**2  # Tweedie: s_θ = (α D − x_t)/σ²
        return (s * score + eps) ** 2  # λ(t) ‖s_θ − ∇log p(x_t|x_0)‖² with λ = σ², eq. 7

    def steps_for_nfe(self, nfe: int, sampler: str) -> int:
        """Steps whose NFE is at most `nfe` (Euler–Maruyama: N; pc: N + (N − 1) M corrector calls)."""
        per_step = 1 if sampler == "euler_maruyama" else 1 + self.corrector_steps
        return max(2, (nfe + per_step - 1) // per_step)

    @torch.no_grad()
    def sample(
        self, denoiser: Denoiser, batch: FieldBatch, noise: SampleNoise, *, steps: int, sampler: str
    ) -> tuple[torch.Tensor, int]:
        """(B, No, C) samples at the output coordinates and the NFE (`steps` + (steps − 1) M for "pc")."""
        if sampler not in self.SAMPLERS:
            raise ValueError(f"VPScore sampler must be one of {self.SAMPLERS}, got {sampler!r}")
        if steps < 2:
            raise ValueError("VPScore needs steps >= 2 (one reverse-SDE step and the final denoising)")
        D = CountCalls(bind(denoiser, batch))
        shape = batch.output_values.shape[1:]

        def randn() -> torch.Tensor:
            return noise.randn(*shape)

        def score(x: torch.Tensor, t: float) -> torch.Tensor:
            alpha, sigma = (float(v) for v in self.alpha_sigma(t))
            return (alpha * D(x / alpha, sigma / alpha) - x) / sigma**2  # Tweedie

        def drift(x: torch.Tensor, t: float) -> torch.Tensor:
            beta = float(vp_beta(t, self.beta_min, self.beta_max))
            return -0.5 * beta * x - beta * score(x, t)  # f − g² s_θ, reverse SDE eq. 6

        def diffusion(t: float) -> float:
            return math.sqrt(float(vp_beta(t, self.beta_min, self.beta_max)))

        ts = uniform_grid(1.0, self.t_min, steps - 1)
        h = (1.0 - self.t_min) / (steps - 1)

        def corrector(x: torch.Tensor, t: float) -> torch.Tensor:
            alpha_i = math.exp(-float(vp_beta(t, self.beta_min, self.beta_max)) * h)  # α_i = 1 − β_i, discrete VP
            return langevin_corrector(score, x, t, randn, snr=self.snr, alpha=alpha_i, steps=self.corrector_steps)

        x = float(self.alpha_sigma(1.0)[1]) * randn()  # x_1 ~ N(0, σ_1² I)
        x = euler_maruyama(drift, diffusion, x, ts, randn, corrector=corrector if sampler == "pc" else None)
        alpha, sigma = (float(v) for v in self.alpha_sigma(self.t_min))
        x0 = D(x / alpha, sigma / alpha)  # Final denoising step: x_0 = E[x_0 | x_{t_min}]
        return x0, D.calls
