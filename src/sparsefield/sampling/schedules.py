"""Noise schedules and time grids, kept apart from the solvers that walk them.

- VP SDE (Song et al. 2021, "Score-Based Generative Modeling through SDEs", eq. 11 and 33):
  β(t) = β_min + t (β_max − β_min) on t ∈ [0, 1] (t = 0 data, t = 1 noise);
  α_t = exp(−½ ∫_0^t β(s) ds), σ_t² = 1 − α_t², so x_t = α_t x_0 + σ_t ε.
- Cosine ᾱ_t (Nichol & Dhariwal 2021, "Improved DDPM", eq. 17) on integer t = 0..T,
  ᾱ_0 = 1 (data), with β_t = 1 − ᾱ_t/ᾱ_{t−1} clipped to 0.999.
- Grids: a uniform grid in t, and the strided sub-sequence τ of 1..T that DDIM samples on
  (Song et al. 2021, "Denoising Diffusion Implicit Models", §4.2).
"""

from __future__ import annotations

import math

import torch


def _time(t: torch.Tensor | float) -> torch.Tensor:
    """A tensor time; Python floats (a sampler's grid) are computed in float64."""
    return t if isinstance(t, torch.Tensor) else torch.tensor(t, dtype=torch.float64)


def vp_beta(t: torch.Tensor | float, beta_min: float, beta_max: float) -> torch.Tensor:
    """β(t) of the VP SDE (Song et al. 2021, eq. 11 in the continuous limit)."""
    return beta_min + _time(t) * (beta_max - beta_min)


def vp_alpha_sigma(t: torch.Tensor | float, beta_min: float, beta_max: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(α_t, σ_t) of the VP SDE's marginal x_t = α_t x_0 + σ_t ε (Song et al. 2021, eq. 33).

    Args:
        t: times in [0, 1], any shape.

    Returns:
        α_t and σ_t with the shape of `t`.
    """
    t = _time(t)
    integral = beta_min * t + 0.5 * (beta_max - beta_min) * t**2  # ∫_0^t β(s) ds
    alpha = torch.exp(-0.5 * integral)
    sigma = torch.sqrt(-torch.expm1(-integral))  # sqrt(1 − α_t²), accurate for small t
    return alpha, sigma


def cosine_alpha_bar(steps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """(T+1,) float64 ᾱ_t for t = 0..T of the cosine schedule (Nichol & Dhariwal 2021, eq. 17).

    ᾱ_0 = 1 (clean data); ᾱ_T ≈ 2e-7 for T = 100 after clipping β_T at `max_beta`.
    """
    t = torch.arange(steps + 1, dtype=torch.float64)
    f = torch.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2  # f(t), eq. 17
    beta = (1 - f[1:] / f[:-1]).clamp(max=max_beta)  # β_t = 1 − ᾱ_t/ᾱ_{t−1}, clipped ("to prevent singularities")
    return torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - beta, dim=0)])


def uniform_grid(t_start: float, t_end: float, steps: int) -> list[float]:
    """`steps + 1` equally spaced times from t_start to t_end, both included exactly."""
    grid = torch.linspace(t_start, t_end, steps + 1, dtype=torch.float64).tolist()
    grid[0], grid[-1] = float(t_start), float(t_end)
    return grid


def strided_timesteps(total: int, steps: int) -> list[int]:
    """The DDIM sub-sequence τ: `steps` distinct integers from `total` down to 1, then 0.

    With steps = total this is every step T, T−1, …, 1, 0 (ancestral DDPM); fewer steps take
    the nearest integers to an even spacing (Song et al. 2021, DDIM §4.2 "linear" τ).
    """
    if not 1 <= steps <= total:
        raise ValueError(f"steps must be in [1, {total}], got {steps}")
    if steps == 1:
        return [total, 0]
    tau = [math.floor(total - i * (total - 1) / (steps - 1) + 0.5) for i in range(steps)]  # spacing ≥ 1: distinct
    return tau + [0]
