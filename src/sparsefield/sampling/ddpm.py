"""Samplers of the cosine-schedule x0-denoiser (`sparsefield.objectives.denoiser`): DDPM and DDIM.

Time convention: integer t = 0..T, t = 0 data. Both walk the strided sub-sequence τ of 1..T when
fewer than T steps are asked (DDIM §4.2): "ddpm" — ancestral sampling from the posterior
q(x_{τ_{i−1}} | x_{τ_i}, x̂_0) (Ho et al. eq. 6-7); "ddim" — the deterministic update with η = 0
(Song et al. 2021, eq. 12). Both end exactly on x̂_0 (ᾱ_0 = 1), one evaluation per step.
x_T ~ N(0, (1 − ᾱ_T) I) for every approach: the true x_T also holds sqrt(ᾱ_T) x_0 ≈ 5e-4 x_0, far
below the data's 8-bit resolution, so starting around a prior would change nothing measurable and
would tie the sampler to a prior only D knows about.
"""

from __future__ import annotations

import math

from sparsefield.sampling import solvers
from sparsefield.sampling.common import Levels
from sparsefield.sampling.schedules import strided_timesteps


def grid(process, sampler: str, steps: int) -> Levels:
    """ᾱ of the strided sub-sequence, ᾱ_{τ_S}, …, ᾱ_0 = 1 (1 ≤ steps ≤ T)."""
    return Levels(process.alpha_bar[strided_timesteps(process.steps, steps)].tolist(), process)


def start(grid: Levels, randn):
    """x_T ~ N(0, (1 − ᾱ_T) I)."""
    return math.sqrt(1 - grid[0]) * randn()


def _x0_model(D):
    def x0_model(x, abar: float):
        return D(x / math.sqrt(abar), math.sqrt((1 - abar) / abar))

    return x0_model


def ddpm(D, x, grid: Levels, randn):
    """DDPM ancestral sampling along the grid's ᾱ."""
    return solvers.ancestral(_x0_model(D), x, grid, randn)


def ddim(D, x, grid: Levels, randn=None):
    """DDIM (η = 0) along the grid's ᾱ."""
    return solvers.ddim(_x0_model(D), x, grid)


SAMPLERS = {"ddpm": ddpm, "ddim": ddim}


def steps_for_nfe(process, sampler: str, budget: int) -> int:
    """Steps whose NFE (one evaluation per step) is `budget`, at most the T training steps."""
    return max(1, min(budget, process.steps))
