"""Generic samplers: pure functions of (model closure, x_init, time grid, randn closure).

They know nothing about networks, batches or objectives: an objective's sampler module
(`sparsefield.sampling.vp`, `ddpm`, `flow`) turns a denoiser into the closure a solver needs (a
velocity, a reverse-SDE drift, a score, an x0-prediction) and picks the grid from
`sparsefield.sampling.schedules`. Guidance wraps the denoiser, never the solver. Times are
Python floats shared by the batch; `randn()` returns a fresh standard-normal tensor shaped like
x (from per-sample generators, so results do not depend on the batch). `sampling.common.draw`
counts the network evaluations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

Tensor = torch.Tensor


def euler(velocity: Callable[[Tensor, float], Tensor], x: Tensor, ts: Sequence[float]) -> Tensor:
    """Explicit Euler for dx/dt = v(x, t) along the grid ts (len(ts) − 1 evaluations)."""
    for t, t_next in zip(ts[:-1], ts[1:], strict=True):
        x = x + (t_next - t) * velocity(x, t)  # Euler step: x_{i+1} = x_i + h_i v(x_i, t_i)
    return x


def heun(velocity: Callable[[Tensor, float], Tensor], x: Tensor, ts: Sequence[float]) -> Tensor:
    """Heun's 2nd-order method (Karras et al. 2022, Alg. 1) for dx/dt = v(x, t) along ts.

    The last step is a plain Euler step, as in Alg. 1 line 9: at the grid's end (σ = 0, or t = 1 in
    flow matching) an x-prediction velocity is 0/0, and the Euler step lands exactly on D.
    Evaluations: 2 (len(ts) − 1) − 1.
    """
    n = len(ts) - 1
    for i, (t, t_next) in enumerate(zip(ts[:-1], ts[1:], strict=True)):
        x = heun_step(velocity, x, t, t_next, correct=i < n - 1)
    return x


def heun_step(velocity: Callable[[Tensor, float], Tensor], x: Tensor, t: float, t_next: float, *,
              correct: bool = True) -> Tensor:
    """One step of Heun's method from t to t_next (Alg. 1 lines 7-11); `correct` False: the Euler step alone."""
    h = t_next - t
    d = velocity(x, t)  # Evaluate dx/dt at t_i (Alg. 1 line 7).
    x_next = x + h * d  # Take Euler step from t_i to t_{i+1} (line 8).
    if correct:  # Apply 2nd order correction (lines 9-11).
        x_next = x + h * 0.5 * (d + velocity(x_next, t_next))
    return x_next


def euler_maruyama(
    drift: Callable[[Tensor, float], Tensor],
    diffusion: Callable[[float], float],
    x: Tensor,
    ts: Sequence[float],
    randn: Callable[[], Tensor],
    *,
    corrector: Callable[[Tensor, float], Tensor] | None = None,
) -> Tensor:
    """Euler–Maruyama for dx = f(x, t) dt + g(t) dw along ts (increasing or decreasing).

    For the reverse-time SDE (Song et al. 2021, eq. 6) pass drift = f − g² ∇log p_t and a
    decreasing grid: dw̄ then has variance |h|. With `corrector` this is predictor–corrector
    sampling (Song et al. 2021, Alg. 2): after each predictor step the corrector runs at the new time.
    """
    for t, t_next in zip(ts[:-1], ts[1:], strict=True):
        h = t_next - t
        x = x + h * drift(x, t) + diffusion(t) * math.sqrt(abs(h)) * randn()  # x_{i+1} = x_i + f h + g sqrt(|h|) z
        if corrector is not None:
            x = corrector(x, t_next)  # Corrector step(s) at t_{i+1} (Alg. 2 lines 4-5).
    return x


def langevin_corrector(
    score: Callable[[Tensor, float], Tensor],
    x: Tensor,
    t: float,
    randn: Callable[[], Tensor],
    *,
    snr: float,
    alpha: float = 1.0,
    steps: int = 1,
) -> Tensor:
    """Langevin MCMC at fixed t with the step set by a signal-to-noise ratio (Song et al. 2021, Alg. 4).

    Norms are per sample (over every dimension but the first), so a sample's path does not depend on
    the others in its batch.
    """
    for _ in range(steps):
        g = score(x, t)  # g ← s_θ(x, t)
        z = randn()  # z ~ N(0, I)
        g_norm = torch.linalg.vector_norm(g.flatten(1), dim=1).reshape(-1, *([1] * (x.ndim - 1)))
        z_norm = torch.linalg.vector_norm(z.flatten(1), dim=1).reshape(-1, *([1] * (x.ndim - 1)))
        eps = 2 * alpha * (snr * z_norm / g_norm) ** 2  # ε ← 2 α (r ‖z‖ / ‖g‖)²
        x = x + eps * g + torch.sqrt(2 * eps) * z  # x ← x + ε g + sqrt(2ε) z
    return x


def ddpm_posterior(x_t: Tensor, x0_hat: Tensor, abar_t: float, abar_prev: float) -> tuple[Tensor, float]:
    """Mean and std of q(x_prev | x_t, x0 = x̂0) (Ho et al. 2020, eq. 6-7), for any earlier step.

    With a strided sub-sequence the one-step β is β = 1 − ᾱ_t/ᾱ_prev (DDIM, eq. 16 with η = 1).
    """
    beta = 1 - abar_t / abar_prev
    mean = (math.sqrt(abar_prev) * beta / (1 - abar_t)) * x0_hat + (
        math.sqrt(1 - beta) * (1 - abar_prev) / (1 - abar_t)
    ) * x_t  # μ̃_t(x_t, x0), eq. 7
    std = math.sqrt((1 - abar_prev) / (1 - abar_t) * beta)  # sqrt(β̃_t), eq. 7
    return mean, std


def ddim_update(x_t: Tensor, x0_hat: Tensor, abar_t: float, abar_prev: float) -> Tensor:
    """Deterministic DDIM step, η = 0 (Song et al. 2021, DDIM eq. 12)."""
    eps_hat = (x_t - math.sqrt(abar_t) * x0_hat) / math.sqrt(1 - abar_t)  # ε̂ implied by x̂0
    return math.sqrt(abar_prev) * x0_hat + math.sqrt(1 - abar_prev) * eps_hat  # "predicted x0" + "direction to x_t"


def ancestral(
    x0_model: Callable[[Tensor, float], Tensor], x: Tensor, abars: Sequence[float], randn: Callable[[], Tensor]
) -> Tensor:
    """DDPM ancestral sampling (Ho et al. 2020, Alg. 2) along ᾱ values from noise to ᾱ = 1 (data).

    `x0_model(x_t, ᾱ_t)` predicts the clean sample. The last step (ᾱ_prev = 1) has zero variance and
    returns x̂0 itself.
    """
    for abar, abar_prev in zip(abars[:-1], abars[1:], strict=True):
        x0_hat = x0_model(x, abar)  # x̂0 = D(x_t)
        mean, std = ddpm_posterior(x, x0_hat, abar, abar_prev)  # q(x_{t-1} | x_t, x̂0)
        x = mean + std * randn() if std > 0 else mean  # x_{t-1} = μ̃ + sqrt(β̃) z
    return x


def ddim(x0_model: Callable[[Tensor, float], Tensor], x: Tensor, abars: Sequence[float]) -> Tensor:
    """DDIM with η = 0 (Song et al. 2021, eq. 12) along ᾱ values from noise to ᾱ = 1; ends on x̂0."""
    for abar, abar_prev in zip(abars[:-1], abars[1:], strict=True):
        x = ddim_update(x, x0_model(x, abar), abar, abar_prev)
    return x
