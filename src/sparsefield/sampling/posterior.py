"""Posterior samplers of an unconditional EDM prior: a guidance closure around D, walked by a σ-sampler.

    dps      D_y = `guidance.dps_denoiser(D, likelihood, ζ)` (Chung et al. 2023, the normalised likelihood
             gradient through D), walked by `sampling.karras.heun` (Karras et al. Alg. 1/2): NFE = 2N − 1,
             each with a backward pass through D
    diffpir  D_y = `guidance.diffpir_denoiser(D, likelihood, λ)` (Zhu et al. 2023: the likelihood's proximal step
             on x̂0 at ρ = λ/σ²), walked by `sampling.karras.renoise` with DiffPIR's ζ: NFE = N, no backward

Both follow `sampling.common`'s contract, sampler(D, x, sigmas, randn), with the likelihood and the
approach's sampling settings as keyword options; D is the prior's (NFE counts its evaluations). They
start from x = μ + σ_max z (μ the prior's measured mean) on the Karras grid (`grid`). No flag of a
solver depends on the likelihood, and a new likelihood is a new object of `sampling.likelihoods`.
"""

from __future__ import annotations

from sparsefield.sampling import guidance, karras


def dps(D, x, sigmas, randn, *, likelihood, settings):
    """DPS on the Heun sampler; settings.step_size is ζ (per unit σ), settings.S_churn Alg. 2's churn."""
    D_y = guidance.dps_denoiser(D, likelihood, settings.step_size)
    return karras.heun(D_y, x, sigmas, randn, S_churn=settings.S_churn)


def diffpir(D, x, sigmas, randn, *, likelihood, settings):
    """DiffPIR: the proximal data step at every level, then re-noising with settings.zeta."""
    D_y = guidance.diffpir_denoiser(D, likelihood, settings.lam)
    return karras.renoise(D_y, x, sigmas, randn, zeta=settings.zeta)


SAMPLERS = {"dps": dps, "diffpir": diffpir}
SOLVER = {"dps": "heun", "diffpir": "renoise"}


def grid(settings, sampler: str, steps: int) -> list[float]:
    """The Karras σ grid of `steps` levels from the settings' sigma_min, sigma_max and rho."""
    return karras.karras_sigmas(steps, settings.sigma_min, settings.sigma_max, settings.rho)


def steps_for_nfe(process, sampler: str, budget: int) -> int:
    """The number of levels whose NFE is at most `budget` (`process` is unused: the prior fixes none)."""
    return karras.steps_for_nfe(process, SOLVER[sampler], budget)
