"""Posterior guidance as a closure around the denoiser (k-diffusion's pattern): the solver never changes.

In x0 units (x̃ = x0 + σ n, `sparsefield.nn.precond`) Tweedie's formula gives the posterior
denoiser of an observation y as the prior denoiser plus a likelihood term:

    D_y(x̃, σ) = E[x0 | x̃, y] = x̃ + σ² ∇_x̃ log p(x̃ | y) = D(x̃, σ) + σ² ∇_x̃ log p(y | x̃)

`guided(D, log_likelihood)` returns D_y with p(y | x̃) approximated through the denoiser's own
estimate, log p(y | x̃) ≈ log_likelihood(x̂0 = D(x̃, σ), σ), and the gradient taken through D
(Chung et al. 2023, "Diffusion Posterior Sampling", eq. 11-16; the family of DPS and ΠGDM, which
differ in the likelihood they put here). The gradient is computed with autograd enabled inside
the closure, so the solver may run under `torch.no_grad()`; D_y goes into any sampler of
`sparsefield.sampling` exactly where D went.

`gaussian_log_likelihood(y, A, var)` is the usual choice, log N(y; A x̂0, var) up to a constant,
with `var` a number, a tensor or a function of σ: σ_y² alone is DPS's approximation; σ_y² + the
posterior variance of A x0 given x̃ makes D_y exact for a Gaussian prior (tests check the analytic
posterior mean and variance through the samplers). Noise scale: y, x̂0 and var are in the units
of the data the denoiser models (for images here: [−1, 1], so σ_y on [0, 1] data doubles).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Tensor = torch.Tensor


def guided(D: Callable[[Tensor, float], Tensor], log_likelihood: Callable[[Tensor, float], Tensor]):
    """The posterior denoiser D_y(x̃, σ) = D(x̃, σ) + σ² ∇_x̃ log_likelihood(D(x̃, σ), σ).

    Args:
        D: a batch-bound denoiser D(x̃ (B, ...), σ) -> x̂0 (B, ...), differentiable in x̃.
        log_likelihood: (x̂0 (B, ...), σ) -> (B,) log p(y | x0 = x̂0) per sample (up to a constant).
    """

    def D_y(x: Tensor, sigma: float) -> Tensor:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            x0 = D(x, sigma)
            (grad,) = torch.autograd.grad(log_likelihood(x0, sigma).sum(), x)  # ∇_x̃ log p(y | x̂0(x̃))
        return x0.detach() + float(sigma) ** 2 * grad  # Tweedie for the posterior

    return D_y


def gaussian_log_likelihood(y: Tensor, A: Callable[[Tensor], Tensor], var) -> Callable[[Tensor, float], Tensor]:
    """log N(y; A x̂0, var) per sample, up to a constant; `var` a number, a tensor or a function of σ."""

    def log_likelihood(x0: Tensor, sigma: float) -> Tensor:
        v = var(sigma) if callable(var) else var
        return (-0.5 * (y - A(x0)) ** 2 / v).flatten(1).sum(1)

    return log_likelihood
