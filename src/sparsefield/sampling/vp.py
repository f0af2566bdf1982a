"""Samplers of the VP SDE score model (`sparsefield.objectives.score`): reverse-SDE Euler–Maruyama,
optionally with a Langevin corrector (predictor–corrector).

Time convention: t ∈ [t_min, 1], t = 1 noise. The score comes from the x0-denoiser by Tweedie,
s_θ(x_t, t) = (α_t D(x_t/α_t, σ_t/α_t) − x_t)/σ_t². The reverse SDE (Song et al. 2021, eq. 6)
dx = [−½β x − β s_θ] dt + sqrt(β) dw̄ is integrated by Euler–Maruyama on a uniform grid from t = 1 to
t_min (`steps − 1` predictor steps, `grid`), with a Langevin corrector after each for "pc" (Alg. 2 +
Alg. 4), then one denoising step x_0 = D(x_{t_min}) (Tweedie). x_1 ~ N(0, σ_1² I) for every approach: the true
x_1 = α_1 x_0 + σ_1 ε differs only by α_1 x_0 (α_1 ≈ 0.0066 for the default β).
"""

from __future__ import annotations

import math

from sparsefield.sampling import solvers
from sparsefield.sampling.common import Levels
from sparsefield.sampling.schedules import uniform_grid, vp_beta


def grid(process, sampler: str, steps: int) -> Levels:
    """`steps − 1` predictor steps on a uniform grid from t = 1 to t_min (the last evaluation denoises)."""
    if steps < 2:
        raise ValueError("VP sampling needs steps >= 2 (one reverse-SDE step and the final denoising)")
    return Levels(uniform_grid(1.0, process.t_min, steps - 1), process)


def start(grid: Levels, randn):
    """x_1 ~ N(0, σ_1² I)."""
    return float(grid.process.alpha_sigma(grid[0])[1]) * randn()


def _reverse_sde(D, x, grid: Levels, randn, corrected: bool):
    process = grid.process

    def alpha_sigma(t: float) -> tuple[float, float]:
        return tuple(float(v) for v in process.alpha_sigma(t))

    def beta(t: float) -> float:
        return float(vp_beta(t, process.beta_min, process.beta_max))

    def score(x, t: float):
        alpha, sigma = alpha_sigma(t)
        return (alpha * D(x / alpha, sigma / alpha) - x) / sigma**2  # Tweedie

    def drift(x, t: float):
        return -0.5 * beta(t) * x - beta(t) * score(x, t)  # f − g² s_θ, reverse SDE eq. 6

    h = (grid[0] - grid[-1]) / (len(grid) - 1)

    def corrector(x, t: float):
        alpha_i = math.exp(-beta(t) * h)  # α_i = 1 − β_i of the discrete VP chain
        return solvers.langevin_corrector(score, x, t, randn, snr=process.snr, alpha=alpha_i,
                                          steps=process.corrector_steps)

    x = solvers.euler_maruyama(drift, lambda t: math.sqrt(beta(t)), x, grid, randn,
                               corrector=corrector if corrected else None)
    alpha, sigma = alpha_sigma(grid[-1])
    return D(x / alpha, sigma / alpha)  # Final denoising step: x_0 = E[x_0 | x_{t_min}]


def euler_maruyama(D, x, grid: Levels, randn):
    """Reverse-SDE Euler–Maruyama along the grid, then the denoising step."""
    return _reverse_sde(D, x, grid, randn, corrected=False)


def pc(D, x, grid: Levels, randn):
    """Predictor–corrector: Euler–Maruyama with `process.corrector_steps` Langevin steps after each."""
    return _reverse_sde(D, x, grid, randn, corrected=True)


SAMPLERS = {"euler_maruyama": euler_maruyama, "pc": pc}


def steps_for_nfe(process, sampler: str, budget: int) -> int:
    """Steps for a budget of `budget` evaluations (Euler–Maruyama: steps; pc: steps + (steps − 1) M):
    ceil(budget / calls per step), at least 2."""
    per_step = 1 if sampler == "euler_maruyama" else 1 + process.corrector_steps
    return max(2, (budget + per_step - 1) // per_step)
