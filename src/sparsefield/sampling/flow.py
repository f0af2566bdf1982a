"""Samplers of straight-path flow matching (`sparsefield.objectives.flow`): Euler and Heun in t.

Time convention: t ∈ [0, 1], t = 0 noise, t = 1 data. The velocity comes from the x-prediction
denoiser, v_θ(x_t, t) = (D(x_t/t, (1 − t)/t) − x_t)/(1 − t), with D evaluated at max(t, t_min).
Both walk a uniform grid from 0 to 1; the last step is an Euler step from t_{N−1} with
h = 1 − t_{N−1}, which lands exactly on D(x_{t_{N−1}}). NFE: Euler N, Heun 2N − 1. The start
z ~ N(0, I) is the exact t = 0 marginal for every approach, residual or not.
"""

from __future__ import annotations

from sparsefield.sampling import solvers
from sparsefield.sampling.schedules import uniform_grid


def _velocity(D, process):
    def velocity(x, t: float):
        tc = max(t, process.t_min)
        return (D(x / tc, (1 - tc) / tc) - x) / (1 - t)  # v_θ = (D − x_t)/(1 − t)

    return velocity


def euler(D, process, randn, *, steps: int):
    """Explicit Euler from z ~ N(0, I) at t = 0 to t = 1 in `steps` steps."""
    return solvers.euler(_velocity(D, process), randn(), uniform_grid(0.0, 1.0, steps))


def heun(D, process, randn, *, steps: int):
    """Heun's method (Karras et al. 2022, Alg. 1) from z ~ N(0, I) at t = 0 to t = 1 in `steps` steps."""
    return solvers.heun(_velocity(D, process), randn(), uniform_grid(0.0, 1.0, steps))


SAMPLERS = {"euler": euler, "heun": heun}


def nfe(process, sampler: str, steps: int) -> int:
    """Network evaluations of `steps` steps (Euler: N, Heun: 2N − 1)."""
    return steps if sampler == "euler" else 2 * steps - 1


def steps_for_nfe(process, sampler: str, budget: int) -> int:
    """Grid steps whose NFE is at most `budget`."""
    return max(1, budget if sampler == "euler" else (budget + 1) // 2)
