"""Posterior guidance as a closure around the denoiser (k-diffusion's pattern): the solver never changes.

In x0 units (x̃ = x0 + σ n, `sparsefield.nn.precond`) Tweedie's formula gives the posterior
denoiser of an observation y as the prior denoiser plus a likelihood term:

    D_y(x̃, σ) = E[x0 | x̃, y] = x̃ + σ² ∇_x̃ log p(x̃ | y) = D(x̃, σ) + σ² ∇_x̃ log p(y | x̃)

A likelihood's gradient through the denoiser's own estimate, log p(y | x̃) ≈ log p(y | x̂0 = D(x̃, σ))
(Chung et al. 2023, "Diffusion Posterior Sampling", eq. 11-16), makes D_y; the gradient is computed
with autograd enabled inside the closure, so the sampler may run under `torch.no_grad()`; D_y goes
into any sampler of `sparsefield.sampling` exactly where D went (tests/test_guidance.py checks the
analytic posterior of a Gaussian through the samplers with the exact likelihood).

Two closures take a likelihood object of `sparsefield.sampling.likelihoods`:

- `dps_denoiser(D, likelihood, ζ)`: DPS (Chung et al. 2023, Alg. 1) with its step normalised per sample,
  D_y = x̂0 + ζ σ ∇_x̃ log p(y | x̂0(x̃)) / ‖∇_x̂0 log p(y | x̂0)‖;
- `diffpir_denoiser(D, likelihood, λ)`: DiffPIR's data step (Zhu et al. 2023, Alg. 1 line 5),
  D_y = argmin_x [−log p(y | x)] + (λ/(2σ²)) ‖x − D(x̃, σ)‖², to be walked by
  `sparsefield.sampling.karras.renoise(D_y, x, sigmas, randn, zeta=ζ)`, DiffPIR's Alg. 1 in σ form.

Both keep the units of the likelihood: y, x, σ_y and every variance in the x units of D (the DPS
paper states σ_y for images in [0, 1], its code works on [−1, 1] data: σ_y = 0.05 there is 0.1 here).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sparsefield.sampling.likelihoods import Likelihood

Tensor = torch.Tensor
DenoiserFn = Callable[[Tensor, float], Tensor]


def dps_denoiser(D: DenoiserFn, likelihood: Likelihood, zeta: float) -> DenoiserFn:
    """DPS as a denoiser: D_y(x̃, σ) = x̂0 + ζ σ ∇_x̃ log p(y | x̂0(x̃)) / ‖∇_x̂0 log p(y | x̂0)‖, per sample.

    Chung et al. 2023, Alg. 1: x̂0 = D(x̃, σ) by Tweedie, then a step along ∇_x̃ log p(y | x̂0(x̃))
    (the gradient through D) of size ζ_i = ζ'/‖y − A(x̂0)‖. For a Gaussian likelihood of constant
    σ_y, ∇_x̂0 log p = Aᵀ(y − A x̂0)/σ_y², so dividing by its norm (`likelihood.grad_scale`) is the
    ζ'/‖y − A x̂0‖ rule up to a constant factor; unlike the reference code, whose one norm runs over
    the whole batch, the norm here is taken per sample, so samples never couple.

    The factor σ fixes the step count problem: one Euler step of dx/dσ = (x − D_y)/σ (or one DDIM
    step, `renoise` with ζ = 0) from σ_i to σ_{i+1} moves x by ζ (σ_i − σ_{i+1}) times the normalised
    gradient beyond the unguided step, so the guidance summed over a trajectory is ζ ∫ ĝ dσ whatever
    the number of steps. DPS's ζ' (tuned per step for 1000 steps) does not transfer to 20; this ζ does.

    Noise scale: x̃, y and the likelihood's σ_y are in the x units of D (`PoissonGaussian`: y, a, b in the
    measurement's units, reached by its (g, h)). The DPS paper states σ_y for images in [0, 1] while its
    code works on [−1, 1] data: σ_y = 0.05 on [0, 1] is 0.1 here. With the normalisation σ_y cancels
    from the step (it scales ∇ and its norm alike): ζ alone sets how far D_y trusts y.

    Args:
        D: a batch-bound denoiser D(x̃ (B, ...), σ) -> x̂0 (B, ...), differentiable in x̃, with no
            coupling across the batch (every sample's x̂0 depends on its own x̃ only).
        likelihood: `log_likelihood(x0) -> (B,)` and `grad_scale(x0) -> (B,)`.
        zeta: ζ, the guidance per unit of σ, in units of x per σ (≥ 0).

    Returns:
        D_y(x̃, σ) -> (B, ...), detached; the gradient is taken with autograd enabled inside, so the
        sampler may run under `torch.no_grad()`.
    """

    def D_y(x: Tensor, sigma: float) -> Tensor:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            x0 = D(x, sigma)  # x̂0 = E[x0 | x̃] (Tweedie)
            (grad,) = torch.autograd.grad(likelihood.log_likelihood(x0).sum(), x)  # ∇_x̃ log p(y | x̂0(x̃))
        x0 = x0.detach()
        norm = likelihood.grad_scale(x0).clamp_min(torch.finfo(x0.dtype).tiny)  # (B,) ‖∇_x̂0 log p‖
        return x0 + zeta * float(sigma) * grad / norm.reshape(-1, *([1] * (x0.ndim - 1)))

    return D_y


def diffpir_denoiser(D: DenoiserFn, likelihood: Likelihood, lam: float) -> DenoiserFn:
    """DiffPIR's data step as a denoiser: D_y(x̃, σ) = likelihood.prox(D(x̃, σ), ρ = λ/σ²).

    Zhu et al. 2023, Alg. 1: x̂0 = D(x_t), then x̂0' = argmin_x ‖y − H x‖²/(2σ_n²) + (λ/(2σ_t²)) ‖x − x̂0‖²,
    i.e. ρ_t = λ σ_n²/σ_t² against the data term ‖y − H x‖²/2. Here the data term is −log p(y | x)
    itself (σ_n inside it), so ρ = λ/σ². With `sparsefield.sampling.karras.renoise(D_y, x, sigmas,
    randn, zeta=ζ)` this is DiffPIR's Alg. 1 in σ form: x_{i+1} = x̂0' + σ_{i+1} (√(1−ζ) ε̂ + √ζ ε).

    λ weighs the prior against the data: the exact E[x0 | x̃, y] of a Gaussian problem uses the
    precision 1/Var[x0 | x̃] = 1/σ² + 1/s² (prior variance s²) where DiffPIR uses λ/σ², exact only for
    σ ≪ s. For σ ≪ s a step is forward-backward splitting (D ≈ x̃ + σ² ∇ log p_σ, then a prox of step
    σ²/λ) whose fixed point is the posterior with the likelihood tempered by 1/λ; with λ = 1 and ζ = 1
    the output's mean is the posterior mean (lag O(1/N)), its variance half the posterior's; with
    ζ = 0 the large-σ steps' over-weighting of y survives (tests/test_posterior.py).

    Noise scale: x̃, y and the likelihood's σ_y are in the x units of D (`PoissonGaussian`: y, a, b in the
    measurement's units, reached by its (g, h)); σ_y = 0.05 for images in [0, 1] is 0.1 on [−1, 1].

    Args:
        D: a batch-bound denoiser D(x̃ (B, ...), σ) -> x̂0 (B, ...).
        likelihood: with `prox(x0, rho) -> x`, the closed-form proximal map of −log p(y | ·).
        lam: λ > 0.
    """

    def D_y(x: Tensor, sigma: float) -> Tensor:
        return likelihood.prox(D(x, sigma), rho=lam / float(sigma) ** 2)  # x̂0' (Alg. 1 line 5)

    return D_y
