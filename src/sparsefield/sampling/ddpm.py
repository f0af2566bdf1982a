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
from sparsefield.sampling.schedules import strided_timesteps


def _walk(D, process, randn, steps: int, update):
    def x0_model(x, abar: float):
        return D(x / math.sqrt(abar), math.sqrt((1 - abar) / abar))

    abars = process.alpha_bar[strided_timesteps(process.steps, steps)].tolist()  # ᾱ_{τ_S}, …, ᾱ_0 = 1
    x = math.sqrt(1 - abars[0]) * randn()  # x_T ~ N(0, (1 − ᾱ_T) I)
    return update(x0_model, x, abars)


def ddpm(D, process, randn, *, steps: int):
    """DDPM ancestral sampling on `steps` (1 ≤ steps ≤ T) strided steps."""
    return _walk(D, process, randn, steps, lambda model, x, abars: solvers.ancestral(model, x, abars, randn))


def ddim(D, process, randn, *, steps: int):
    """DDIM (η = 0) on `steps` (1 ≤ steps ≤ T) strided steps."""
    return _walk(D, process, randn, steps, solvers.ddim)


SAMPLERS = {"ddpm": ddpm, "ddim": ddim}


def nfe(process, sampler: str, steps: int) -> int:
    """One evaluation per step."""
    return steps


def steps_for_nfe(process, sampler: str, budget: int) -> int:
    """Steps whose NFE is `budget`, at most the T training steps."""
    return max(1, min(budget, process.steps))
