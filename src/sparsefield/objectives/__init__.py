"""Training objectives and their samplers, all on one EDM-preconditioned denoiser.

Each objective is a small class that maps its noise process to (α_t, σ_t), calls the denoiser
D(x̃, σ̃, batch) of `sparsefield.precond` in x0 units (x̃ = x_t/α_t, σ̃ = σ_t/α_t), and offers

    loss(denoiser, batch, noise)                      -> (B, No, C) per-element loss
    sample(denoiser, batch, noise, *, steps, sampler) -> ((B, No, C) clean values, NFE)
    SAMPLERS                                          -> the sampler names `sample` accepts

Masking and reduction of the per-element loss happen in the training loop. Each module states
its own time convention:

    score     VPScore        VP SDE, t ∈ [t_min, 1], t = 0 data       Euler–Maruyama, predictor–corrector
    denoiser  X0Denoiser     cosine ᾱ_t, t = 0..T, t = 0 data          DDPM ancestral, DDIM (η = 0)
    flow      FlowMatching   straight path, t ∈ [0, 1], t = 1 data     Euler, Heun
"""

from sparsefield.objectives.denoiser import X0Denoiser
from sparsefield.objectives.flow import FlowMatching
from sparsefield.objectives.score import VPScore

OBJECTIVES = {
    "score": VPScore,
    "denoiser": X0Denoiser,
    "flow": FlowMatching,
}

__all__ = ["OBJECTIVES", "FlowMatching", "VPScore", "X0Denoiser"]
