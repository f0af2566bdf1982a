"""Posterior samplers of an unconditional EDM prior: a guidance closure around D, then a generic σ-sampler.

    dps      D_y = `guidance.dps(D, likelihood, ζ)` (Chung et al. 2023, the normalised likelihood
             gradient through D), walked by `sampling.edm.heun` (Karras et al. Alg. 1/2): NFE = 2N − 1,
             each with a backward pass through D
    diffpir  D_y = `guidance.diffpir(D, likelihood, λ)` (Zhu et al. 2023: the likelihood's proximal step
             on x̂0 at ρ = λ/σ²), walked by `sampling.edm.renoise` with DiffPIR's ζ: NFE = N, no backward

Both start from x = μ + σ_max z (μ the prior's measured mean) on the Karras grid `karras_sigmas(N, σ_min,
σ_max, ρ)`. A sampler here is (D, likelihood, x, sigmas, randn, settings) -> x: no flag of a solver
depends on the likelihood, and a new likelihood is a new object of `sampling.likelihoods`.
"""

from __future__ import annotations

from sparsefield.sampling import edm, guidance


def dps(D, likelihood, x, sigmas, randn, settings):
    """DPS on the Heun sampler; settings.step_size is ζ (per unit σ), settings.S_churn Alg. 2's churn."""
    D_y = guidance.dps(D, likelihood, settings.step_size)
    return edm.heun(D_y, x, sigmas, randn, S_churn=settings.S_churn)


def diffpir(D, likelihood, x, sigmas, randn, settings):
    """DiffPIR: the proximal data step at every level, then re-noising with settings.zeta."""
    D_y = guidance.diffpir(D, likelihood, settings.lam)
    return edm.renoise(D_y, x, sigmas, randn, zeta=settings.zeta)


SAMPLERS = {"dps": dps, "diffpir": diffpir}
SOLVER = {"dps": "heun", "diffpir": "renoise"}


def nfe(sampler: str, steps: int) -> int:
    """Network evaluations per sample of `sampler` on `steps` levels."""
    return edm.nfe(SOLVER[sampler], steps)


def steps_for_nfe(process, sampler: str, budget: int) -> int:
    """The number of levels whose NFE is at most `budget` (`process` is unused: the prior fixes none)."""
    return edm.steps_for_nfe(SOLVER[sampler], budget)
