"""Posterior guidance as a closure around D, through unchanged samplers, against the analytic posterior.

Prior x0 ~ N(μ, s²) per element (exact denoiser D*), observation y = A x0 + n, n ~ N(0, σ_y²), with A a
mask of observed elements. With the likelihood N(y; A x̂0, σ_y² + Var[x0 | x̃]), Var[x0 | x̃] = s²σ²/(s² + σ²),
the guided denoiser D_y = D* + σ² ∇ log p(y | x̃) is exactly E[x0 | x̃, y], so a correct sampler returns the
posterior: mean (s² y + σ_y² μ)/(s² + σ_y²), variance s² σ_y²/(s² + σ_y²) where observed; the prior elsewhere.
The samplers run under torch.no_grad(), as the stages run them: the closure turns gradients on itself.
"""

import math

import pytest
import torch
from test_samplers import field_batch, sample, seeds

from sparsefield.objectives.denoiser import X0Denoiser
from sparsefield.objectives.flow import FlowMatching
from sparsefield.objectives.score import VPScore
from sparsefield.rng import SampleNoise

MU, S, SIGMA_Y, Y = 0.3, 0.2, 0.1, 0.55


def guided(D, log_likelihood):
    """D_y(x̃, σ) = D(x̃, σ) + σ² ∇_x̃ log_likelihood(D(x̃, σ), σ): Tweedie's formula for the posterior."""

    def D_y(x, sigma: float):
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            x0 = D(x, sigma)
            (grad,) = torch.autograd.grad(log_likelihood(x0, sigma).sum(), x)
        return x0.detach() + float(sigma) ** 2 * grad

    return D_y


def gaussian_log_likelihood(y, A, var):
    """log N(y; A x̂0, var(σ)) per sample, up to a constant."""

    def log_likelihood(x0, sigma: float):
        return (-0.5 * (y - A(x0)) ** 2 / var(sigma)).flatten(1).sum(1)

    return log_likelihood


def gaussian_prior_denoiser(x, sigma, batch):
    s2 = sigma.reshape(-1, 1, 1) ** 2
    return (S**2 * x + s2 * MU) / (S**2 + s2)


def posterior_denoiser(mask, exact_variance: bool = True):
    """D_y(x̃, σ, batch): `guided` around D* with the Gaussian likelihood of y = Y at the masked elements."""
    y = torch.full(mask.shape, Y) * mask

    def var(sigma: float) -> float:
        return SIGMA_Y**2 + (S**2 * sigma**2 / (S**2 + sigma**2) if exact_variance else 0.0)

    def D_y(x, sigma, batch):
        D = lambda x_, s_: gaussian_prior_denoiser(x_, torch.as_tensor(s_).expand(len(x_)), batch)  # noqa: E731
        return guided(D, gaussian_log_likelihood(y, lambda x0: x0 * mask, var))(x, float(sigma[0]))

    return D_y


CASES = [(FlowMatching(), "heun", 60), (X0Denoiser(steps=1000), "ddim", 500), (VPScore(), "euler_maruyama", 400)]


@pytest.mark.parametrize("obj, sampler, steps", CASES, ids=[c[1] for c in CASES])
def test_guided_sampler_recovers_the_analytic_posterior(obj, sampler, steps):
    batch = field_batch(16, 1024)  # 16384 draws, half of them observed
    mask = (torch.arange(1024) % 2 == 0).float().reshape(1, 1024, 1).expand(16, -1, -1)
    x, _ = sample(obj, posterior_denoiser(mask), batch, SampleNoise(seeds(16, 5)), steps=steps, sampler=sampler)
    assert not x.requires_grad
    observed, free = x[mask.bool()], x[~mask.bool()]
    post_mean = (S**2 * Y + SIGMA_Y**2 * MU) / (S**2 + SIGMA_Y**2)
    post_var = S**2 * SIGMA_Y**2 / (S**2 + SIGMA_Y**2)
    n = observed.numel()
    assert abs(observed.mean().item() - post_mean) < 4 * math.sqrt(post_var / n) + 2e-3  # 2e-3: start ignores α_T x0
    assert observed.var().item() == pytest.approx(post_var, rel=0.06)
    assert abs(free.mean().item() - MU) < 4 * S / math.sqrt(n) + 2e-3  # unobserved elements keep the prior
    assert free.var().item() == pytest.approx(S**2, rel=0.06)


def test_dps_likelihood_pulls_toward_the_observation_but_is_not_exact():
    """σ_y² alone (DPS's approximation) over-weights y at large σ: the sample mean lands beyond the posterior's."""
    batch = field_batch(8, 512)
    mask = torch.ones(8, 512, 1)
    x, _ = sample(FlowMatching(), posterior_denoiser(mask, exact_variance=False), batch, SampleNoise(seeds(8, 6)),
                  steps=60, sampler="heun")
    post_mean = (S**2 * Y + SIGMA_Y**2 * MU) / (S**2 + SIGMA_Y**2)
    assert MU < x.mean().item() and abs(x.mean().item() - post_mean) > 0.005


def test_guided_equals_the_prior_denoiser_without_information():
    """A likelihood that does not depend on x0 adds nothing: D_y = D, value for value."""
    batch = field_batch(2, 16)
    x, sigma = torch.randn(2, 16, 1), torch.full((2,), 0.7)
    D = lambda x_, s_: gaussian_prior_denoiser(x_, torch.as_tensor(s_).expand(len(x_)), batch)  # noqa: E731
    flat = guided(D, lambda x0, s: torch.zeros(len(x0)) + 0.0 * x0.sum())
    torch.testing.assert_close(flat(x, 0.7), gaussian_prior_denoiser(x, sigma, batch))
