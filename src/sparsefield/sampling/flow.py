"""Samplers of straight-path flow matching (`sparsefield.objectives.flow`): Euler and Heun in t.

Time convention: t ∈ [0, 1], t = 0 noise, t = 1 data. The velocity comes from the x-prediction
denoiser, v_θ(x_t, t) = (D(x_t/t, (1 − t)/t) − x_t)/(1 − t), with D evaluated at max(t, t_min).
Both walk a uniform grid from 0 to 1 (`grid`); the last step is an Euler step from t_{N−1} with
h = 1 − t_{N−1}, which lands exactly on D(x_{t_{N−1}}). NFE: Euler N, Heun 2N − 1. The start
z ~ N(0, I) (`start`) is the exact t = 0 marginal for every approach, residual or not. Samplers
follow `sampling.common`'s contract, sampler(D, x, grid, randn).
"""

from __future__ import annotations

from sparsefield.sampling import solvers
from sparsefield.sampling.common import Levels
from sparsefield.sampling.schedules import uniform_grid


def grid(process, sampler: str, steps: int) -> Levels:
    """`steps + 1` uniform times from t = 0 (noise) to t = 1 (data)."""
    return Levels(uniform_grid(0.0, 1.0, steps), process)


def start(grid: Levels, randn):
    """z ~ N(0, I) at t = 0."""
    return randn()


def _velocity(D, process):
    def velocity(x, t: float):
        tc = max(t, process.t_min)
        return (D(x / tc, (1 - tc) / tc) - x) / (1 - t)  # v_θ = (D − x_t)/(1 − t)

    return velocity


def euler(D, x, grid: Levels, randn=None):
    """Explicit Euler along the grid's times."""
    return solvers.euler(_velocity(D, grid.process), x, grid)


def heun(D, x, grid: Levels, randn=None):
    """Heun's method (Karras et al. 2022, Alg. 1) along the grid's times."""
    return solvers.heun(_velocity(D, grid.process), x, grid)


SAMPLERS = {"euler": euler, "heun": heun}


def steps_for_nfe(process, sampler: str, budget: int) -> int:
    """Grid steps whose NFE (Euler: N, Heun: 2N − 1) is at most `budget`."""
    return max(1, budget if sampler == "euler" else (budget + 1) // 2)
