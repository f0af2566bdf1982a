"""Likelihood objects, and DPS / DiffPIR as closures around D, against known answers.

Gaussian problem (as tests/test_guidance.py): prior x0 ~ N(μ, s²) i.i.d. with the exact denoiser
D*(x̃, σ) = (s² x̃ + σ² μ)/(s² + σ²); y = Y at the observed (masked) elements, noise σ_y; the analytic
posterior is N((s² Y + σ_y² μ)/(s² + σ_y²), s² σ_y²/(s² + σ_y²)) there and the prior elsewhere.
Samples are (B, 1, 32, 32), every other element observed: every element is an independent draw for
D* and the elementwise prox, so B·512 draws estimate each mean. Everything is in x units.
"""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch

from sparsefield.rng import SampleNoise
from sparsefield.sampling.guidance import diffpir_denoiser as diffpir
from sparsefield.sampling.guidance import dps_denoiser as dps
from sparsefield.sampling.karras import euler, heun, karras_sigmas, renoise
from sparsefield.sampling.likelihoods import Mask, PoissonGaussian

MU, S, SIGMA_Y, Y = 0.3, 0.2, 0.1, 0.55
POST_MEAN = (S**2 * Y + SIGMA_Y**2 * MU) / (S**2 + SIGMA_Y**2)  # 0.5
POST_VAR = S**2 * SIGMA_Y**2 / (S**2 + SIGMA_Y**2)  # 0.008
B, H = 16, 32


def D_star(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """E[x0 | x̃] for x0 ~ N(μ, s²): the exact denoiser of the Gaussian prior."""
    return (S**2 * x + sigma**2 * MU) / (S**2 + sigma**2)


def gaussian_problem(sigma_y: float = SIGMA_Y) -> tuple[Mask, torch.Tensor]:
    mask = (torch.arange(H * H) % 2 == 0).float().reshape(1, 1, H, H).expand(B, 1, H, H)
    y = torch.where(mask > 0, torch.tensor(Y), torch.tensor(float("nan")))  # NaN where unobserved: never read
    return Mask(y, mask, sigma_y), mask.bool()


def start(sigmas: list[float], shape=(1, H, H), seed: int = 0) -> tuple[torch.Tensor, SampleNoise]:
    noise = SampleNoise([1000 * seed + b for b in range(B)])
    return sigmas[0] * noise.randn(*shape), noise


def central_fd(f, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """∂ f(x).sum() / ∂x element by element, by central differences (float64)."""
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        d = torch.zeros_like(x).view(-1)
        d[i] = eps
        d = d.view_as(x)
        grad.view(-1)[i] = (f(x + d).sum() - f(x - d).sum()) / (2 * eps)
    return grad


def autograd_grad(f, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    return torch.autograd.grad(f(x).sum(), x)[0]


def poisson_gaussian(batch: int = 2, dtype=torch.float64, seed: int = 0) -> tuple[PoissonGaussian, torch.Tensor]:
    """A [−1, 1] tile at ratio r = 100 (g = h = 1/(2r)), per-channel a, b; x0 partly below −1 (m < 0)."""
    gen = torch.Generator().manual_seed(seed)
    g = h = 1 / (2 * 100.0)
    x0 = torch.rand(batch, 3, 4, 4, generator=gen, dtype=dtype) * 1.8 - 0.9
    x0[:, :, 0, 0] = -1.3  # dark: m(x) < 0, shot term clamped, v = b
    a = torch.tensor([2e-4, 3e-4, 4e-4], dtype=dtype).reshape(3, 1, 1)
    b = torch.tensor([1e-6, 2e-6, 3e-6], dtype=dtype).reshape(3, 1, 1)
    y = g * (torch.rand(batch, 3, 4, 4, generator=gen, dtype=dtype) * 2 - 1) + h
    return PoissonGaussian(y, g, h, a, b), x0


# --- likelihoods ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma_y", [0.1, 0.0])
def test_mask_log_likelihood_gradient_matches_finite_differences(sigma_y):
    gen = torch.Generator().manual_seed(1)
    y, x0 = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64), torch.randn(2, 3, 4, 4, generator=gen,
                                                                                     dtype=torch.float64)
    mask = (torch.rand(2, 1, 4, 4, generator=gen) < 0.5).double()
    lik = Mask(torch.where(mask > 0, y, torch.nan), mask, sigma_y)
    assert lik.log_likelihood(x0).shape == (2,) and torch.isfinite(lik.log_likelihood(x0)).all()
    grad = autograd_grad(lik.log_likelihood, x0)
    torch.testing.assert_close(grad, central_fd(lik.log_likelihood, x0), rtol=1e-6, atol=1e-6)
    assert (grad[~mask.bool().expand_as(grad)] == 0).all()  # unobserved elements carry no information
    torch.testing.assert_close(lik.grad_scale(x0), grad.flatten(1).norm(dim=1))


def test_poisson_gaussian_log_likelihood_gradient_matches_finite_differences():
    """The heteroscedastic density, v = v(x) included, bright and dark (m < 0) elements alike; log p is
    torch's Normal(m(x), √v(x)) density up to the constant n/2 log 2π."""
    lik, x0 = poisson_gaussian()
    grad = autograd_grad(lik.log_likelihood, x0)
    torch.testing.assert_close(grad, central_fd(lik.log_likelihood, x0, eps=1e-7), rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(lik.grad_scale(x0), central_fd(lik.log_likelihood, x0, eps=1e-7).flatten(1).norm(dim=1),
                               rtol=1e-5, atol=0)
    assert (lik.variance(x0)[:, :, 0, 0] == lik.b.flatten()).all()  # the dark element sees read noise only
    density = torch.distributions.Normal(lik.mean(x0), lik.variance(x0).sqrt()).log_prob(lik.y).flatten(1).sum(1)
    torch.testing.assert_close(lik.log_likelihood(x0), density + 0.5 * x0[0].numel() * math.log(2 * math.pi))


@pytest.mark.parametrize("rho", [0.3, torch.tensor([0.05, 40.0], dtype=torch.float64)], ids=["float", "per_sample"])
def test_prox_is_the_argmin(rho):
    """∇_x of the prox objective vanishes at the closed form: Mask(σ_y > 0), and PoissonGaussian with v frozen."""
    gen = torch.Generator().manual_seed(2)
    x0 = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64)
    mask = (torch.rand(2, 1, 4, 4, generator=gen) < 0.5).double()
    r = rho.reshape(-1, 1, 1, 1) if isinstance(rho, torch.Tensor) else rho
    lik = Mask(torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64), mask, 0.2)
    objective = lambda x: -lik.log_likelihood(x) + (r / 2 * (x - x0) ** 2).flatten(1).sum(1)  # noqa: E731
    assert autograd_grad(objective, lik.prox(x0, rho)).abs().max() < 1e-10

    pg, x0 = poisson_gaussian(seed=3)
    v = pg.variance(x0)  # frozen at v(x0)
    frozen = lambda x: (0.5 * (pg.y - pg.mean(x)) ** 2 / v + r / 2 * (x - x0) ** 2).flatten(1).sum(1)  # noqa: E731
    x = pg.prox(x0, rho)
    assert autograd_grad(frozen, x).abs().max() < 1e-8 * autograd_grad(frozen, x0).abs().max()


def test_noise_free_mask_prox_replaces_observed_elements():
    gen = torch.Generator().manual_seed(4)
    x0, y = torch.randn(2, 3, 4, 4, generator=gen), torch.randn(2, 3, 4, 4, generator=gen)
    mask = torch.rand(2, 1, 4, 4, generator=gen) < 0.5
    observed = mask.expand_as(x0)
    x = Mask(torch.where(mask, y, torch.nan), mask.float(), 0.0).prox(x0, 7.0)
    assert torch.equal(x[observed], y[observed]) and torch.equal(x[~observed], x0[~observed])
    torch.testing.assert_close(Mask(y, mask.float(), 1e-5).prox(x0, 7.0), x)  # the σ_y → 0 limit


# --- DPS ------------------------------------------------------------------------------------------------


def nonlinear_D(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return D_star(x, sigma) + 0.1 * torch.sin(3 * x) * sigma / (1 + sigma)  # a non-trivial Jacobian


def test_dps_step_displacement_is_zeta_times_delta_sigma():
    """One Euler step (and one DDIM step) from σ_i to σ_{i+1} moves x by ζ (σ_i − σ_{i+1}) ĝ beyond the
    unguided step, ĝ = ∇_x̃ log p(y | x̂0(x̃)) / ‖∇_x̂0 log p‖, computed here independently."""
    lik, _ = gaussian_problem()
    x = 3.0 * torch.randn(B, 1, H, H, generator=torch.Generator().manual_seed(5))
    zeta, sigmas = 2.5, [3.0, 1.7]
    x0 = nonlinear_D(x, sigmas[0])
    residual = lik.mask * (lik.y - x0) / SIGMA_Y**2  # ∇_x̂0 log p
    g_hat = autograd_grad(lambda x_: lik.log_likelihood(nonlinear_D(x_, sigmas[0])), x)
    g_hat = g_hat / residual.flatten(1).norm(dim=1).reshape(-1, 1, 1, 1)
    expected = zeta * (sigmas[0] - sigmas[1]) * g_hat
    D_y = dps(nonlinear_D, lik, zeta)
    with torch.no_grad():
        torch.testing.assert_close(euler(D_y, x, sigmas) - euler(nonlinear_D, x, sigmas), expected)
        torch.testing.assert_close(renoise(D_y, x, sigmas, None) - renoise(nonlinear_D, x, sigmas, None), expected)


@pytest.mark.parametrize("n", [3, 40])
def test_dps_total_guidance_does_not_depend_on_the_step_count(n):
    """With D(x̃, σ) = x̃ (no prior) each step moves x exactly ζ Δσ along the fixed direction y − x: after any
    number of steps ‖y − x‖ has shrunk by ζ (σ_max − σ_min) (DPS's per-step ζ' would give N ζ')."""
    lik, mask = gaussian_problem()
    x = torch.zeros(B, 1, H, H)
    sigmas, zeta = karras_sigmas(n, sigma_max=2.0), 0.5
    with torch.no_grad():
        out = euler(dps(lambda x_, s: x_, lik, zeta), x, sigmas[:-1])  # stop at σ_min (the last step is D)
    distance = lambda z: (Y - z).where(mask, 0.0).flatten(1).norm(dim=1)  # noqa: E731
    torch.testing.assert_close(distance(x) - distance(out), torch.full((B,), zeta * (2.0 - 0.002)))
    assert torch.equal(out[~mask], x[~mask])


def test_dps_normalisation_is_per_sample():
    """Scaling sample 1's residual by 100 leaves sample 0's update unchanged (a batch-wide norm, as in the
    reference code, would shrink it about 25-fold: √(15 + 100²)/√16)."""
    lik, mask = gaussian_problem()
    x = torch.randn(B, 1, H, H, generator=torch.Generator().manual_seed(6))
    x0 = D_star(x, 0.5)
    y_far = lik.y.clone()
    y_far[1] = x0[1] + 100 * (lik.y[1] - x0[1])  # residual of sample 1 times 100
    far = Mask(y_far.where(mask, torch.nan), mask.float(), SIGMA_Y)
    near_out, far_out = dps(D_star, lik, 1.0)(x, 0.5), dps(D_star, far, 1.0)(x, 0.5)
    torch.testing.assert_close(far_out[0], near_out[0], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(far_out[1] - x0[1], near_out[1] - x0[1])  # the normalised step, unchanged too
    batch_norm = lambda lik_: lik_.grad_scale(x0).norm()  # noqa: E731 - one norm over the batch
    assert batch_norm(far) > 20 * batch_norm(lik)  # such a norm would have shrunk sample 0's step > 20-fold


def test_dps_on_the_gaussian_problem():
    """DPS is approximate; what is true of it here, with heun on karras_sigmas(40):

    - The normalised step erases σ_y (∇ log p ∝ 1/σ_y² cancels): the output does not depend on σ_y at all,
      so ζ, not σ_y, sets how far DPS trusts y.
    - Unobserved elements: ∇ log p is zero there and D* is elementwise, so they are the unguided sampler's.
    - Linear response: a unit-norm push of ζ per unit σ at σ enters x̂0 with weight s³/(s² + σ²)^(3/2), whose
      integral over σ is s, so the final shift along the unit vector r/‖r‖ (r ≈ (Y − μ) 1 on the n_obs
      observed elements) is ζ s, i.e. ζ s/√n_obs per element: ζ* = √n_obs (m_post − μ)/s should reach the
      posterior mean. Measured: 0.459 at ζ* (m_post = 0.5, the shift 0.2 falls 20% short: part of the unit
      norm goes into pulling each element's fluctuation toward Y, so the spread shrinks with ζ); the
      assertion allows 25% of the shift. ζ = 1.3 ζ* hits m_post (N ≥ 40, Euler and Heun alike).
    - Means grow with ζ, stay between μ and Y, and at 2ζ* DPS lands on Y (|mean − Y| < 0.005, measured
      0.002; spread < 1% of the posterior's): the step keeps its length however small the residual, so a
      large ζ returns y — the σ_y → 0 posterior, whatever σ_y is.
    """
    sigmas = karras_sigmas(40)
    n_obs = H * H // 2
    zeta_star = math.sqrt(n_obs) * (POST_MEAN - MU) / S
    x, _ = start(sigmas, seed=1)
    lik, mask = gaussian_problem()
    with torch.no_grad():
        unguided = heun(D_star, x, sigmas)
        out = {c: heun(dps(D_star, lik, c * zeta_star), x, sigmas) for c in (0.5, 1.0, 2.0)}
        other_sigma_y = heun(dps(D_star, gaussian_problem(sigma_y=0.02)[0], zeta_star), x, sigmas)
    torch.testing.assert_close(other_sigma_y, out[1.0])
    assert all(torch.equal(o[~mask], unguided[~mask]) for o in out.values())
    means = [out[c][mask].mean().item() for c in (0.5, 1.0, 2.0)]
    assert MU < means[0] < means[1] < means[2] < Y + 0.005
    assert abs(means[1] - POST_MEAN) < 0.25 * (POST_MEAN - MU)
    assert abs(means[2] - Y) < 0.005 and out[2.0][mask].var().item() < 0.01 * POST_VAR


# --- DiffPIR --------------------------------------------------------------------------------------------


def diffpir_moments(lam: float, zeta: float, sigmas: list[float], sigma_y: float | None) -> tuple[float, float]:
    """The exact mean and variance of DiffPIR's output for one element of the Gaussian problem.

    Every step is linear in x plus fresh noise: x̂0 = α x + (1 − α) μ, α = s²/(s² + σ²); the prox gives
    x̂0' = β x̂0 + (1 − β) Y, β = ρ σ_y²/(ρ σ_y² + 1), ρ = λ/σ² (β = 1 unobserved: sigma_y None);
    x' = x̂0' + k (x − x̂0') + σ' √ζ ε with k = √(1 − ζ) σ'/σ. Start: x = σ_max n, mean 0.
    """
    m, v = 0.0, sigmas[0] ** 2
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:], strict=True):
        alpha = S**2 / (S**2 + sigma**2)
        rho = lam / sigma**2
        beta = 1.0 if sigma_y is None else rho * sigma_y**2 / (rho * sigma_y**2 + 1)
        A, c = beta * alpha, beta * (1 - alpha) * MU + (1 - beta) * Y  # x̂0' = A x + c
        if sigma_next == 0:
            return A * m + c, A**2 * v
        k = math.sqrt(1 - zeta) * sigma_next / sigma
        m, v = (1 - k) * (A * m + c) + k * m, ((1 - k) * A + k) ** 2 * v + zeta * sigma_next**2
    return m, v


def test_diffpir_moments_converge_to_the_posterior_mean_at_lambda_1_zeta_1():
    """What is exact and what is not (the method, before any sampling).

    The exact E[x0 | x̃, y] is the prox with precision 1/Var[x0 | x̃] = 1/σ² + 1/s²; DiffPIR uses λ/σ²,
    exact only for σ ≪ s. At λ = 1, ζ = 1, for σ ≪ s, one step is D(x̃) ≈ x̃ + σ² ∇ log p_σ (Tweedie) then a
    prox of step σ²/λ: forward-backward splitting, whose fixed point minimises −log p_σ(x) − log p(y | x)/λ.
    The mean tracks that fixed point, m*(σ) = (λ σ_y² μ + (s² + σ²) Y)/(s² + σ² + λ σ_y²) → m_post at λ = 1,
    lagging by O(1/N) (measured 0.23/N at N = 20 to 0.31/N at N = 1000: bound 0.35/N). The fresh noise σ_{i+1}²
    ≈ σ_i² is half of the 2τ a Langevin step of τ = σ² needs, so the variance tends to Var_post/2, not
    Var_post: DiffPIR gives the posterior mean, not posterior samples. At ζ = 0 (deterministic DDIM steps)
    the flow never forgets its large-σ steps, where λ/σ² ≪ 1/s² over-weights y: a bias of ≈ +0.019 that
    does not shrink with N.
    """
    for n in (20, 200, 1000):
        assert 0 < diffpir_moments(1.0, 1.0, karras_sigmas(n), SIGMA_Y)[0] - POST_MEAN < 0.35 / n
    assert diffpir_moments(1.0, 1.0, karras_sigmas(1000), SIGMA_Y)[1] == pytest.approx(POST_VAR / 2, rel=0.02)
    assert diffpir_moments(1.0, 1.0, karras_sigmas(1000), None) == pytest.approx((MU, S**2 / 2), rel=0.02)
    for n in (20, 200, 1000):
        assert 0.018 < diffpir_moments(1.0, 0.0, karras_sigmas(n), SIGMA_Y)[0] - POST_MEAN < 0.022


@pytest.mark.parametrize("zeta", [1.0, 0.0])
def test_diffpir_sampler_matches_its_moments_and_the_posterior_mean(zeta):
    """renoise + diffpir(λ = 1) on karras_sigmas(200) (σ_max = 80 = 400 s): sample mean and variance equal
    `diffpir_moments` within 4 standard errors (n = 8192 independent draws each: the variance to
    4 √(2/n) = 6%); at ζ = 1 the mean is the posterior mean within 4 SE + 0.35/N, unobserved elements keep μ.
    At ζ = 0 it misses by more than 0.015 (the λ/σ² bias above)."""
    sigmas = karras_sigmas(200)
    x, noise = start(sigmas, seed=2)
    lik, mask = gaussian_problem()
    with torch.no_grad():
        out = renoise(diffpir(D_star, lik, 1.0), x, sigmas, lambda: noise.randn(1, H, H), zeta=zeta)
    for where, sigma_y in ((mask, SIGMA_Y), (~mask, None)):
        m, v = diffpir_moments(1.0, zeta, sigmas, sigma_y)
        draws = out[where]
        se = math.sqrt(v / draws.numel())
        assert abs(draws.mean().item() - m) < 4 * se
        assert draws.var().item() == pytest.approx(v, rel=4 * math.sqrt(2 / draws.numel()))
    se = math.sqrt(diffpir_moments(1.0, zeta, sigmas, SIGMA_Y)[1] / out[mask].numel())
    if zeta == 1.0:  # (unobserved: the moments' mean is μ itself, checked above)
        assert abs(out[mask].mean().item() - POST_MEAN) < 4 * se + 0.35 / 200
    else:
        assert out[mask].mean().item() - POST_MEAN > 0.015


# --- PoissonGaussian with a Gaussian prior ----------------------------------------------------------------

PG_MU, PG_X, RATIO = -0.5, 0.2, 100.0  # prior mean, the clean tile value, exposure ratio
PG_G = PG_H = 1 / (2 * RATIO)  # [−1, 1] tiles: x_lin = (x + 1)/2, measurement = x_lin / r


def D_pg(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return (S**2 * x + sigma**2 * PG_MU) / (S**2 + sigma**2)


def low_light(noise_x: float, batch: int = B) -> PoissonGaussian:
    """y = m(PG_X) without noise; a, b per channel so that √v/g ≈ noise_x at PG_X (half shot, half read)."""
    m = PG_G * PG_X + PG_H
    a = torch.tensor([0.5, 1.0, 1.5]).reshape(3, 1, 1) * PG_G**2 * noise_x**2 / (2 * m)
    b = torch.tensor([1.5, 1.0, 0.5]).reshape(3, 1, 1) * PG_G**2 * noise_x**2 / 2
    return PoissonGaussian(torch.full((batch, 3, 16, 16), m), PG_G, PG_H, a, b)


def test_diffpir_poisson_gaussian_moves_toward_the_measurement_as_noise_falls():
    """The same seeds at every noise level: the mean goes monotonically from the prior mean to the inverted
    measurement (y − h)/g = PG_X (measured: −0.48 at 8 s of noise to 0.19 at s/8)."""
    sigmas = karras_sigmas(60)
    means = []
    for noise_x in (1.6, 0.4, 0.1, 0.025):
        x, noise = start(sigmas, shape=(3, 16, 16), seed=3)
        with torch.no_grad():
            out = renoise(diffpir(D_pg, low_light(noise_x), 1.0), x, sigmas, partial(noise.randn, 3, 16, 16), zeta=1.0)
        means.append(out.mean().item())
    assert PG_MU < means[0] < means[1] < means[2] < means[3] < PG_X
    assert means[0] - PG_MU < 0.1 * (PG_X - PG_MU) and PG_X - means[3] < 0.1 * (PG_X - PG_MU)


@pytest.mark.parametrize("method", ["dps", "diffpir"])
def test_poisson_gaussian_guidance_is_per_sample(method):
    """Sample 0's result is the same whatever sample 1 holds (its measurement and its starting noise)."""
    sigmas = karras_sigmas(10)

    def run(y1_scale: float, seed1: int) -> torch.Tensor:
        lik = low_light(0.2, batch=2)
        lik.y = lik.y.clone()
        lik.y[1] *= y1_scale
        noise = SampleNoise([7, seed1])
        x = sigmas[0] * noise.randn(3, 16, 16)
        with torch.no_grad():
            if method == "dps":
                return heun(dps(D_pg, lik, 20.0), x, sigmas)
            return renoise(diffpir(D_pg, lik, 1.0), x, sigmas, lambda: noise.randn(3, 16, 16), zeta=1.0)

    a, b = run(1.0, 8), run(30.0, 9)
    torch.testing.assert_close(a[0], b[0], rtol=1e-6, atol=1e-6)
    assert (a[1] - b[1]).abs().max() > 0.1
