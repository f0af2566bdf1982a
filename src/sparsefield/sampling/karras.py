"""Samplers of an EDM denoiser (Karras et al. 2022) in σ, and the σ grid they walk.

Time convention: the noise level σ itself; x̃ = x0 + σ n, n ~ N(0, I) ("x0 units", as
`sparsefield.nn.precond`), σ_max is noise, σ = 0 is data. The probability-flow ODE is
dx/dσ = (x − D(x, σ))/σ (Karras et al. eq. 4 with σ(t) = t, s(t) = 1).

- `karras_sigmas`: σ_i = (σ_max^(1/ρ) + i/(N−1) (σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ, i < N, and σ_N = 0 (eq. 5).
- `heun`: Alg. 2 — Heun's 2nd order method with optional churn (S_churn, S_tmin, S_tmax, S_noise);
  S_churn = 0 is the deterministic Alg. 1. NFE = 2N − 1 (the last step, to σ = 0, is Euler).
- `euler`: the same ODE to first order, NFE = N.
- `renoise`: x0-then-renoise steps x_{i+1} = x̂0 + σ_{i+1} (√(1−ζ) ε̂ + √ζ ε), ε̂ = (x_i − x̂0)/σ_i
  (DDIM's η-family in σ form; DiffPIR's Alg. 1 step in the VE parametrisation). ζ = 0 is the
  deterministic DDIM / Euler step, ζ = 1 a fresh-noise (ancestral-like) step. NFE = N.

Every sampler follows `sampling.common`'s contract, sampler(D, x, sigmas, randn): D is a batch-bound
closure D(x̃, σ) -> x̂0 (`nn.precond.on_batch`), possibly a posterior one (`sampling.guidance`): posterior
sampling wraps D and never changes these loops. `randn()` gives a fresh standard normal shaped like x
from per-sample generators. Every sampler returns the final x (D at σ = 0 is the identity, so the last
step lands on x̂0 of the last level).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from sparsefield.sampling import solvers

Tensor = torch.Tensor
DenoiserFn = Callable[[Tensor, float], Tensor]


def karras_sigmas(n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0) -> list[float]:
    """The N + 1 levels σ_0 = σ_max > … > σ_{N−1} = σ_min > σ_N = 0 (Karras et al. eq. 5), Python floats."""
    if n < 1:
        raise ValueError(f"karras_sigmas: n must be >= 1, got {n}")
    if not 0 < sigma_min <= sigma_max:
        raise ValueError(f"karras_sigmas: need 0 < sigma_min <= sigma_max, got {sigma_min}, {sigma_max}")
    if n == 1:
        return [float(sigma_max), 0.0]
    a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    sigmas = [(a + i / (n - 1) * (b - a)) ** rho for i in range(n)]
    sigmas[0], sigmas[-1] = float(sigma_max), float(sigma_min)
    return sigmas + [0.0]


def heun(D: DenoiserFn, x: Tensor, sigmas: list[float], randn: Callable[[], Tensor] | None = None, *,
         S_churn: float = 0.0, S_tmin: float = 0.0, S_tmax: float = float("inf"),
         S_noise: float = 1.0) -> Tensor:
    """Karras et al. Alg. 2 from x at σ_0 along `sigmas`; with S_churn = 0 the deterministic Alg. 1."""
    n, velocity = len(sigmas) - 1, _velocity(D)
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:], strict=True):
        gamma = min(S_churn / n, math.sqrt(2) - 1) if S_tmin <= sigma <= S_tmax else 0.0
        if gamma > 0:  # Increase noise temporarily (Alg. 2 lines 5-6).
            if randn is None:
                raise ValueError("heun: S_churn > 0 needs randn")
            sigma_hat = sigma * (1 + gamma)
            x = x + math.sqrt(sigma_hat**2 - sigma**2) * S_noise * randn()
            sigma = sigma_hat
        x = solvers.heun_step(velocity, x, sigma, sigma_next, correct=sigma_next > 0)  # lines 7-11 at σ̂_i
    return x


def _velocity(D: DenoiserFn):
    """dx/dσ = (x − D(x, σ))/σ, the probability-flow ODE in σ (Karras et al. eq. 4)."""
    return lambda x, sigma: (x - D(x, sigma)) / sigma


def euler(D: DenoiserFn, x: Tensor, sigmas: list[float], randn=None) -> Tensor:
    """First-order steps of the probability-flow ODE along `sigmas` (one D per level)."""
    return solvers.euler(_velocity(D), x, sigmas)


def renoise(D: DenoiserFn, x: Tensor, sigmas: list[float], randn: Callable[[], Tensor], *, zeta: float = 0.0) -> Tensor:
    """x̂0 = D(x_i, σ_i), then x_{i+1} = x̂0 + σ_{i+1} (√(1−ζ) ε̂ + √ζ ε) with ε̂ = (x_i − x̂0)/σ_i."""
    if not 0.0 <= zeta <= 1.0:
        raise ValueError(f"renoise: zeta must be in [0, 1], got {zeta}")
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:], strict=True):
        x0 = D(x, sigma)
        if sigma_next == 0:
            return x0
        eps_hat = (x - x0) / sigma
        noise = math.sqrt(1 - zeta) * eps_hat + (math.sqrt(zeta) * randn() if zeta > 0 else 0.0)
        x = x0 + sigma_next * noise
    return x


def steps_for_nfe(process, sampler: str, budget: int) -> int:
    """The N whose NFE (Heun 2N − 1, the others N) is closest to `budget` without exceeding it (at least 1)."""
    return max(1, (budget + 1) // 2 if sampler == "heun" else budget)
