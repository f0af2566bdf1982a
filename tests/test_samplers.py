"""Schedules, solvers and every objective's samplers against known answers.

Data x0 ~ N(μ, s²) per element has the exact denoiser D*(x̃, σ) = (s² x̃ + σ² μ)/(s² + σ²); a correct
sampler driven by D* returns N(μ, s²) up to its discretisation error. D* acts per element, so every
output element of every sample is an independent draw.
"""

import functools
import math

import pytest
import torch
from scipy.integrate import quad
from test_objectives import MU, ExactCorrection, S, ZeroBackbone  # data N(μ, s²); F giving D*; F ≡ 0
from torch import nn

from sparsefield.data.images.fields import FieldBatch
from sparsefield.nn.precond import ResidualDenoiser, on_batch
from sparsefield.objectives.blurring import BlurringDiffusion
from sparsefield.objectives.denoiser import X0Denoiser
from sparsefield.objectives.flow import FlowMatching
from sparsefield.objectives.score import VPScore
from sparsefield.registry import KINDS, load
from sparsefield.rng import SampleNoise, seed_of
from sparsefield.sampling import blurring, ddpm, flow, vp
from sparsefield.sampling.common import sample as draw_samples
from sparsefield.sampling.schedules import cosine_alpha_bar, strided_timesteps, uniform_grid, vp_alpha_sigma
from sparsefield.sampling.solvers import ddim_update, ddpm_posterior, euler, euler_maruyama, heun

SAMPLING = {VPScore: vp, X0Denoiser: ddpm, FlowMatching: flow, BlurringDiffusion: blurring}


def sample(obj, D, batch: FieldBatch, noise, *, steps: int, sampler: str):
    """(samples (B, No, C), NFE) of a denoiser D(x̃, σ, batch) on a field batch, as the field family runs them."""
    randn = functools.partial(noise.randn, *batch.output_values.shape[1:])
    with torch.no_grad():
        drawn = draw_samples(SAMPLING[type(obj)], sampler, on_batch(D, batch), obj, randn, steps=steps)
    return drawn.x, drawn.nfe


def gaussian_denoiser(mu, s: float = S):
    """D* for x0 ~ N(mu, s²); `mu` is a number or a function of the output coordinates (B, No, 2)."""

    def D(x, sigma, batch):
        m = mu(batch.output_coords) if callable(mu) else mu
        s2 = sigma.reshape(-1, 1, 1) ** 2
        return (s**2 * x + s2 * m) / (s**2 + s2)

    return D


def mu_of(coords):  # a prior that varies over the field, (B, No, 1)
    return 0.3 + 0.4 * torch.sin(2 * math.pi * coords[..., :1]) * coords[..., 1:]


def field_batch(b: int, n_out: int, seed: int = 0) -> FieldBatch:
    g = torch.Generator().manual_seed(seed)
    coords = torch.rand(b, n_out, 2, generator=g)
    return FieldBatch(
        torch.rand(b, 5, 2, generator=g), torch.rand(b, 5, 1, generator=g), coords, torch.zeros(b, n_out, 1)
    )


def seeds(b: int, run: int = 0) -> list[int]:
    return [seed_of(run, i) for i in range(b)]


class Negated:
    """The same per-sample streams with every Gaussian draw negated (antithetic noise)."""

    def __init__(self, noise: SampleNoise):
        self.noise = noise

    def randn(self, *shape):
        return -self.noise.randn(*shape)


class PerTokenMLP(nn.Module):
    """A random nonlinear backbone that mixes nothing across samples."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.net = nn.Sequential(nn.Linear(5, 32), nn.Tanh(), nn.Linear(32, 1))

    def forward(self, x, c_noise, batch, prior):
        c = c_noise.reshape(-1, 1, 1).expand(*x.shape[:2], 1)
        return self.net(torch.cat([x, c, prior, batch.output_coords], dim=-1))


def context_mean(b):
    return b.input_values.mean(1, keepdim=True).expand(-1, b.output_coords.shape[1], -1)


ALL = [(VPScore, "euler_maruyama"), (VPScore, "pc"), (X0Denoiser, "ddpm"), (X0Denoiser, "ddim")]
ALL += [(FlowMatching, "euler"), (FlowMatching, "heun")]

# --- schedules and solvers ------------------------------------------------------------------------------------------


def test_vp_alpha_sigma_match_the_sde():
    t = torch.tensor([1e-4, 1e-3, 0.1, 0.5, 1.0], dtype=torch.float64)
    alpha, sigma = vp_alpha_sigma(t, 0.1, 20.0)
    torch.testing.assert_close(alpha**2 + sigma**2, torch.ones_like(t))
    for ti, ai in zip(t.tolist(), alpha.tolist(), strict=True):
        assert ai == pytest.approx(math.exp(-0.5 * quad(lambda s: 0.1 + s * 19.9, 0, ti)[0]), rel=1e-12)
    sigma32 = vp_alpha_sigma(torch.tensor(1e-4), 0.1, 20.0)[1]  # float32: σ² = 1 − α² must not cancel
    assert sigma32.item() ** 2 == pytest.approx(-math.expm1(-(1e-5 + 9.95e-8)), rel=1e-5)


def test_cosine_alpha_bar():
    abar = cosine_alpha_bar(100)
    f = torch.cos((torch.arange(101, dtype=torch.float64) / 100 + 0.008) / 1.008 * math.pi / 2) ** 2
    assert abar[0] == 1 and (abar.diff() < 0).all()
    torch.testing.assert_close(abar[:100], f[:100] / f[0])  # unclipped steps equal f(t)/f(0), eq. 17
    assert 1 - abar[100] / abar[99] == pytest.approx(0.999)  # the last β is clipped


def test_time_grids():
    assert strided_timesteps(100, 100) == list(range(100, -1, -1))
    assert strided_timesteps(100, 1) == [100, 0]
    for steps in [2, 7, 10, 33, 99]:
        tau = strided_timesteps(100, steps)
        assert len(tau) == steps + 1 and tau[0] == 100 and tau[-2] == 1 and tau[-1] == 0
        assert all(a > b for a, b in zip(tau, tau[1:], strict=False))
    with pytest.raises(ValueError):
        strided_timesteps(100, 101)
    grid = uniform_grid(1.0, 1e-3, 7)
    assert len(grid) == 8 and grid[0] == 1.0 and grid[-1] == 1e-3


def test_ode_solvers_converge_at_their_order():
    """dx/dt = -2 x from x = 1: x(1) = e^-2; Euler's error halves with h, Heun's quarters."""
    err = {
        name: [
            abs(solver(lambda x, t: -2 * x, torch.ones(1), uniform_grid(0, 1, n)).item() - math.exp(-2))
            for n in (20, 40)
        ]
        for name, solver in [("euler", euler), ("heun", heun)]
    }
    assert 0.4 < err["euler"][1] / err["euler"][0] < 0.6
    assert 0.2 < err["heun"][1] / err["heun"][0] < 0.3


def test_euler_maruyama_on_ornstein_uhlenbeck():
    """dx = -x dt + sqrt(2) dw (stationary N(0, 1)), integrated backwards from t = 6 to 0: pass the drift of the
    time-reversed process, +x. EM's own stationary variance is 1/(1 - h/2)."""
    g = torch.Generator().manual_seed(0)
    x = euler_maruyama(lambda x, t: x, lambda t: math.sqrt(2), torch.zeros(40000), uniform_grid(6, 0, 600),
                       lambda: torch.randn(40000, generator=g))
    assert abs(x.mean().item()) < 4 / 200 and abs(x.var().item() - 1 / (1 - 0.01 / 2)) < 4 * math.sqrt(2 / 40000)


def test_ddpm_posterior_and_ddim_preserve_the_marginals():
    """From x_t ~ q(x_t | x0) with x̂0 = x0, both updates give q(x_prev | x0) = N(sqrt(ᾱ') x0, 1 − ᾱ')."""
    for abar, abar_prev in [(0.3, 0.5), (1e-4, 0.9), (0.97, 1.0)]:
        one, zero = torch.ones(1), torch.zeros(1)
        c_x0 = ddpm_posterior(zero, one, abar, abar_prev)[0].item()
        c_xt, std = ddpm_posterior(one, zero, abar, abar_prev)
        assert c_x0 + c_xt.item() * math.sqrt(abar) == pytest.approx(math.sqrt(abar_prev))
        assert c_xt.item() ** 2 * (1 - abar) + std**2 == pytest.approx(1 - abar_prev)
        x0, eps = torch.randn(10), torch.randn(10)
        x_prev = ddim_update(math.sqrt(abar) * x0 + math.sqrt(1 - abar) * eps, x0, abar, abar_prev)
        torch.testing.assert_close(x_prev, math.sqrt(abar_prev) * x0 + math.sqrt(1 - abar_prev) * eps)


# --- known answers: Gaussian data ---------------------------------------------------------------------------------

# objective, sampler, steps, allowed relative bias of the variance from discretisation (low, high), measured
# noise-free (deterministic samplers, test below) or with 2.6e5 draws (stochastic): EM(500) +0.1 %; PC(500)
# +1.2 %, bounded by the corrector's own bias r² = 2.6 % (unadjusted Langevin at step 2r²v has stationary
# variance v/(1 − r²)); DDPM(T = 1000) -1.9 % (exact moment recursion: σ² = β̃ ignores Var[x0 | x_t]);
# DDIM(T = 1000) -0.75 %; Euler(1000) -0.5 %; Heun(80) -0.3 %.
KNOWN = [
    (VPScore(), "euler_maruyama", 500, (-0.01, 0.01)),
    (VPScore(), "pc", 500, (-0.01, 0.026)),
    (X0Denoiser(steps=1000), "ddpm", 1000, (-0.025, 0.0)),
    (X0Denoiser(steps=1000), "ddim", 1000, (-0.01, 0.0)),
    (FlowMatching(), "euler", 1000, (-0.006, 0.0)),
    (FlowMatching(), "heun", 80, (-0.005, 0.0)),
]


@pytest.mark.parametrize("obj, sampler, steps, bias", KNOWN, ids=[k[1] for k in KNOWN])
def test_sampler_matches_gaussian_mean_and_variance(obj, sampler, steps, bias):
    batch = field_batch(32, 2048)  # 65536 independent draws
    x, _ = sample(obj, gaussian_denoiser(MU), batch, SampleNoise(seeds(32, 1)), steps=steps, sampler=sampler)
    n = x.numel()
    se_mean, se_var = S / math.sqrt(n), S**2 * math.sqrt(2 / (n - 1))
    assert abs(x.mean().item() - MU) < 4 * se_mean + 1e-3  # 1e-3: x_T ~ N(0, I) ignores α_T μ (VP: α_1 = 0.0066)
    rel = x.var().item() / S**2 - 1
    assert bias[0] - 4 * se_var / S**2 < rel < bias[1] + 4 * se_var / S**2, rel


@pytest.mark.parametrize(
    "obj, sampler, steps, tol",
    [
        (FlowMatching(), "euler", 1000, 0.006),
        (FlowMatching(), "heun", 80, 0.004),
        (X0Denoiser(1000), "ddim", 1000, 0.008),
    ],
)
def test_deterministic_sampler_is_the_exact_affine_map(obj, sampler, steps, tol):
    """Noise-free: with D* a deterministic sampler maps its start z affinely, x = a z + b, with b → μ and a² → s²."""
    batch, sd = field_batch(4, 512), seeds(4, 2)
    x, _ = sample(obj, gaussian_denoiser(MU), batch, SampleNoise(sd), steps=steps, sampler=sampler)
    z = SampleNoise(sd).randn(512, 1)
    z_std = math.sqrt(1 - obj.alpha_bar[-1].item()) if isinstance(obj, X0Denoiser) else 1.0  # x_T = z_std z
    zc = z - z.mean()
    a = ((zc * (x - x.mean())).sum() / (zc**2).sum()).item()
    b = x.mean().item() - a * z.mean().item()
    torch.testing.assert_close(x, a * z + b, atol=1e-5, rtol=0)
    assert b == pytest.approx(MU, abs=1e-4)
    assert (a * z_std) ** 2 == pytest.approx(S**2, rel=tol)


def test_flow_samplers_converge_at_their_order():
    def var_error(sampler, steps):
        x, _ = sample(FlowMatching(), gaussian_denoiser(MU), field_batch(1, 256), SampleNoise([7]), steps=steps,
                      sampler=sampler)
        z = SampleNoise([7]).randn(256, 1)
        return abs(((x - MU).std() / z.std()).item() ** 2 / S**2 - 1)

    assert 0.4 < var_error("euler", 80) / var_error("euler", 40) < 0.6
    assert 0.2 < var_error("heun", 40) / var_error("heun", 20) < 0.3


@pytest.mark.parametrize("cls, sampler", ALL, ids=[a[1] for a in ALL])
def test_residual_denoiser_with_exact_correction_samples_the_same(cls, sampler):
    """Conditional variant: prior = μ(p) and a backbone with the exact correction give D*'s samples, value for value."""
    obj, batch = cls(), field_batch(8, 256)
    D = ResidualDenoiser(ExactCorrection(0.1), sigma_data=0.1, prior_fn=lambda b: mu_of(b.output_coords))
    x, _ = sample(obj, D, batch, SampleNoise(seeds(8, 3)), steps=40, sampler=sampler)
    ref, _ = sample(obj, gaussian_denoiser(mu_of), batch, SampleNoise(seeds(8, 3)), steps=40, sampler=sampler)
    torch.testing.assert_close(x, ref, atol=2e-5, rtol=1e-5)
    if sampler == "heun":  # and they are draws from N(μ(p), s²)
        r = x - mu_of(batch.output_coords)
        assert abs(r.mean().item()) < 4 * S / math.sqrt(r.numel()) and r.var().item() == pytest.approx(S**2, rel=0.05)


# --- the untrained model -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls, sampler", ALL, ids=[a[1] for a in ALL])
def test_untrained_residual_model_is_centred_on_the_prior(cls, sampler):
    """F ≡ 0 is D* for x0 ~ N(prior, σ_d²). What holds for antithetic pairs (every Gaussian draw negated):
    - flow Euler/Heun: the average is the prior exactly (z is the exact t = 0 marginal and the mean path
      x_t = t·prior is a fixed point of both updates);
    - DDPM/DDIM: the mean path sqrt(ᾱ_t)·prior is kept exactly (the marginal identity tested above); only the
      neglected sqrt(ᾱ_T)·prior in x_T remains (5e-4, shrunk further by the contracting updates);
    - VP Euler–Maruyama (± corrector): the mean path α_t·prior is kept only to O(h) (measured 1.2 % of |prior| at
      20 steps, halving with every doubling), plus α_1·prior (0.0066) from x_1."""
    obj, batch, steps = cls(), field_batch(4, 64), 20
    D = ResidualDenoiser(ZeroBackbone(), sigma_data=0.15, prior_fn=lambda b: mu_of(b.output_coords))
    prior = mu_of(batch.output_coords)
    x, _ = sample(obj, D, batch, SampleNoise(seeds(4, 4)), steps=steps, sampler=sampler)
    x_anti, _ = sample(obj, D, batch, Negated(SampleNoise(seeds(4, 4))), steps=steps, sampler=sampler)
    h = (1 - obj.t_min) / (steps - 1) if cls is VPScore else 0.0
    allowed = {VPScore: 0.0066 + 0.5 * h, X0Denoiser: 5e-4, FlowMatching: 0.0}[cls] * prior.abs().max() + 2e-5
    assert ((x + x_anti) / 2 - prior).abs().max() <= allowed
    assert (x - prior).std() > 0.05  # and they are samples, not the prior itself


@pytest.mark.parametrize("cls, sampler", ALL, ids=[a[1] for a in ALL])
def test_untrained_model_with_vanishing_sigma_data_returns_the_prior(cls, sampler):
    """σ_d = 0: c_skip = c_out = 0, so D ≡ prior and every sampler's last step lands on it."""
    batch = field_batch(3, 32)
    D = ResidualDenoiser(ZeroBackbone(), sigma_data=0.0, prior_fn=context_mean)
    x, _ = sample(cls(), D, batch, SampleNoise(seeds(3)), steps=10, sampler=sampler)
    torch.testing.assert_close(x, context_mean(batch), atol=1e-6, rtol=0)


# --- batch independence and NFE ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cls, sampler", ALL, ids=[a[1] for a in ALL])
def test_sample_does_not_depend_on_the_batch(cls, sampler):
    batch, sd = field_batch(5, 16), seeds(5, 6)
    D = ResidualDenoiser(PerTokenMLP(), sigma_data=0.2, prior_fn=context_mean)
    x, _ = sample(cls(), D, batch, SampleNoise(sd), steps=12, sampler=sampler)
    for i in (0, 3):
        one = FieldBatch(batch.input_coords[i : i + 1], batch.input_values[i : i + 1], batch.output_coords[i : i + 1],
                         batch.output_values[i : i + 1])
        xi, _ = sample(cls(), D, one, SampleNoise(sd[i : i + 1]), steps=12, sampler=sampler)
        torch.testing.assert_close(xi[0], x[i], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls, sampler", ALL, ids=[a[1] for a in ALL])
def test_nfe_counts(cls, sampler):
    calls = []

    def counting(x, sigma, batch):
        calls.append(1)
        return gaussian_denoiser(MU)(x, sigma, batch)

    expected = {"euler_maruyama": 10, "pc": 10 + 9, "ddpm": 10, "ddim": 10, "euler": 10, "heun": 19}[sampler]
    _, nfe = sample(cls(), counting, field_batch(2, 8), SampleNoise(seeds(2)), steps=10, sampler=sampler)
    assert nfe == len(calls) == expected
    assert SAMPLING[cls].steps_for_nfe(cls(), sampler, expected) == 10


def test_registry_names_each_kinds_samplers():
    """Every sampled learned kind's sampler names are exactly its sampling module's SAMPLERS, and its objective
    loads; a learned kind with no sampling module (the vae: one deterministic decode) names no sampler."""
    for kind, row in KINDS.items():
        if row.learned and not row.sampling:
            assert row.samplers == () and load(row.objective), kind
        elif row.learned:
            assert tuple(load(row.sampling).SAMPLERS) == row.samplers, kind
            assert SAMPLING[load(row.objective)] is load(row.sampling), kind


# --- one contract: every registered sampler, sampler(D, x, grid, randn), on the analytic Gaussian -----------------

REGISTERED = sorted({(row.sampling, name) for row in KINDS.values() if row.sampling for name in row.samplers})


def _blurring_problem(module, name, randn):
    """Data N(μ, s²) per pixel as DCT modes; the exact network output; the per-mode mean and variance expected."""
    from test_ddo import _gaussian_model

    from sparsefield.objectives.blurring import dct2

    process = BlurringDiffusion(prediction="x0")
    mean_k = dct2(torch.full((1, 1, 8, 8), MU, dtype=torch.float64))[0, 0]
    var_k = torch.full((8, 8), S**2, dtype=torch.float64)
    grid = module.grid(process, name, 200)
    blur = process.alpha(0.0, 8, 8).double() if name == "ancestral" else torch.ones(8, 8, dtype=torch.float64)
    D = _gaussian_model(process, mean_k, var_k, process.grf_variance(8, 8))
    return D, module.start(grid, randn), grid, {}, lambda x: (dct2(x)[:, 0], blur * mean_k, None)


def _posterior_problem(module, name, randn):
    """An EDM prior's exact denoiser of N(μ, s²) with a likelihood that observes nothing: the prior comes back
    (DiffPIR at ζ = 0, its deterministic walk: a share of fresh noise 0 < ζ < 1 does not keep the marginals)."""
    from types import SimpleNamespace

    from sparsefield.sampling.likelihoods import Mask

    settings = SimpleNamespace(sigma_min=0.002, sigma_max=80.0, rho=7.0, step_size=0.5, S_churn=0.0, lam=1.0, zeta=0.0)
    grid = module.grid(settings, name, 200)
    x = MU + grid[0] * randn()
    likelihood = Mask(torch.zeros_like(x), torch.zeros_like(x))
    D = lambda x_, sigma: (S**2 * x_ + sigma**2 * MU) / (S**2 + sigma**2)  # noqa: E731
    return D, x, grid, dict(likelihood=likelihood, settings=settings), lambda x: (x, MU, S**2)


@pytest.mark.parametrize("module, name", REGISTERED, ids=[f"{m.rsplit('.', 1)[1]}-{n}" for m, n in REGISTERED])
def test_every_registered_sampler_takes_one_signature_and_draws_the_gaussian(module, name):
    """D, a start, a grid, a noise source (`sampling.common`): each sampler of every kind draws data N(μ, s²)."""
    from sparsefield.sampling.common import draw

    module_name, module = module, load(module)
    generator = torch.Generator().manual_seed(7)
    shape = (512, 1, 8, 8)
    randn = lambda: torch.randn(shape, generator=generator, dtype=torch.float64)  # noqa: E731
    if module_name.endswith("blurring"):
        D, x, grid, options, read = _blurring_problem(module, name, randn)
    elif module_name.endswith("posterior"):
        D, x, grid, options, read = _posterior_problem(module, name, randn)
    else:
        process = {vp: VPScore(), ddpm: X0Denoiser(steps=1000), flow: FlowMatching()}[module]
        steps = {"euler_maruyama": 500, "pc": 500, "ddpm": 1000, "ddim": 1000, "euler": 1000, "heun": 80}[name]
        grid = module.grid(process, name, steps)
        x, options = module.start(grid, randn), {}
        D, read = (lambda x_, sigma: (S**2 * x_ + sigma**2 * MU) / (S**2 + sigma**2)), lambda x: (x, MU, S**2)  # noqa: E731
    with torch.no_grad():
        drawn = draw(functools.partial(module.SAMPLERS[name], **options), D, x, grid, randn)
    values, mean, variance = read(drawn.x)
    assert drawn.nfe >= len(grid) - 1 and drawn.x.shape == x.shape
    torch.testing.assert_close(values.mean(0), torch.as_tensor(mean, dtype=torch.float64).expand(values.shape[1:]),
                               atol=0.04, rtol=0)
    if variance is not None:
        assert values.var().item() == pytest.approx(variance, rel=0.08)
