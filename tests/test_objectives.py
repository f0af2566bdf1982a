"""Objectives and preconditioning: known answers on Gaussian data, the loss minimiser, overfitting one batch.

Data x0 ~ N(μ, s²) per element has the exact denoiser D*(x̃, σ) = (s² x̃ + σ² μ)/(s² + σ²) and the
posterior variance s² σ²/(s² + σ²), so every loss has a known irreducible mean at D*.
"""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad
from torch import nn

from sparsefield.data.images.fields import FieldBatch
from sparsefield.nn.precond import ResidualDenoiser
from sparsefield.objectives.denoiser import X0Denoiser
from sparsefield.objectives.flow import FlowMatching
from sparsefield.objectives.score import VPScore
from sparsefield.rng import SampleNoise, seed_of

MU, S = 0.3, 0.2
OBJECTIVES = {"score": VPScore, "denoiser": X0Denoiser, "flow": FlowMatching}


def field_batch(b: int, n_out: int, c: int = 1, seed: int = 0, values: torch.Tensor | None = None) -> FieldBatch:
    g = torch.Generator().manual_seed(seed)
    out = values if values is not None else MU + S * torch.randn(b, n_out, c, generator=g)
    return FieldBatch(torch.rand(b, 6, 2, generator=g), torch.rand(b, 6, c, generator=g), torch.rand(b, n_out, 2), out)


def exact_denoiser(x, sigma, batch):
    s2 = sigma.reshape(-1, 1, 1) ** 2
    return (S**2 * x + s2 * MU) / (S**2 + s2)


def noise_for(b: int, seed: int = 0) -> SampleNoise:
    return SampleNoise([seed_of(seed, i) for i in range(b)])


class ZeroBackbone(nn.Module):
    def forward(self, x, c_noise, batch, prior):
        self.seen = (x, c_noise, prior)
        return torch.zeros_like(x)


class ExactCorrection(nn.Module):
    """F such that ResidualDenoiser(prior = μ) equals D* for data N(μ, s²): F = (D* − μ − c_skip r)/c_out."""

    def __init__(self, sigma_data: float):
        super().__init__()
        self.sd = sigma_data

    def forward(self, x, c_noise, batch, prior):
        sigma = torch.exp(4 * c_noise).reshape(-1, 1, 1)  # c_noise = ln(σ)/4
        r = x * (sigma**2 + self.sd**2).sqrt()  # x̃ − prior
        gain = S**2 / (S**2 + sigma**2) - self.sd**2 / (self.sd**2 + sigma**2)
        return gain * r * (sigma**2 + self.sd**2).sqrt() / (sigma * self.sd)


def const_prior(value: float):
    return lambda b: torch.full((*b.output_coords.shape[:2], b.input_values.shape[-1]), value)


def loss_of(obj, D, batch: FieldBatch, noise):
    """The objective's per-element loss on a field batch: targets batch.output_values, condition the batch."""
    return obj.loss(D, batch.output_values, batch, noise)


# --- preconditioning ----------------------------------------------------------------------------------------------


def test_untrained_residual_denoiser_is_the_gaussian_posterior_mean():
    """F ≡ 0: D = prior + σ_d²/(σ² + σ_d²)(x̃ − prior) = E[x0 | x̃] for x0 − prior ~ N(0, σ_d²)."""
    batch = field_batch(3, 10, c=2)
    prior = torch.randn(3, 10, 2)
    backbone = ZeroBackbone()
    D = ResidualDenoiser(backbone, sigma_data=0.15, prior_fn=lambda b: prior)
    x, sigma = torch.randn(3, 10, 2), torch.tensor([0.01, 0.5, 30.0])
    expected = prior + 0.15**2 / (sigma.reshape(-1, 1, 1) ** 2 + 0.15**2) * (x - prior)
    torch.testing.assert_close(D(x, sigma, batch), expected)
    seen_x, c_noise, seen_prior = backbone.seen
    torch.testing.assert_close(c_noise, sigma.log() / 4)
    torch.testing.assert_close(seen_x, (x - prior) / (sigma.reshape(-1, 1, 1) ** 2 + 0.15**2).sqrt())
    assert seen_prior is prior
    plain = ResidualDenoiser(backbone, sigma_data=0.5, residual=False)
    torch.testing.assert_close(plain(x, sigma, batch), 0.25 / (sigma.reshape(-1, 1, 1) ** 2 + 0.25) * x)
    assert backbone.seen[2] is None  # the plain formulation gets no prior
    with pytest.raises(ValueError):
        ResidualDenoiser(backbone, residual=True)


def test_backbone_input_has_unit_variance():
    """EDM's c_in: x̃ − prior = r + σ n with Var r = σ_d² gives the backbone unit-variance input at every σ."""
    backbone = ZeroBackbone()
    D = ResidualDenoiser(backbone, sigma_data=0.1, prior_fn=const_prior(0.7))
    for sigma in [0.003, 0.1, 3.0, 80.0]:
        x = 0.7 + 0.1 * torch.randn(1, 20000, 1) + sigma * torch.randn(1, 20000, 1)
        D(x, torch.tensor([sigma]), field_batch(1, 20000))
        assert abs(backbone.seen[0].std().item() - 1) < 0.03


def test_exact_correction_backbone_reproduces_exact_denoiser():
    batch = field_batch(4, 50)
    D = ResidualDenoiser(ExactCorrection(0.5), sigma_data=0.5, prior_fn=const_prior(MU))
    x, sigma = torch.randn(4, 50, 1), torch.tensor([0.02, 0.2, 2.0, 200.0])
    torch.testing.assert_close(D(x, sigma, batch), exact_denoiser(x, sigma, batch), rtol=1e-5, atol=1e-5)


# --- losses: known irreducible values ----------------------------------------------------------------------------


def vp_irreducible(obj: VPScore) -> float:
    def f(t):  # s²/(s² + σ̃²), σ̃² = exp(∫β) − 1
        integral = obj.beta_min * t + 0.5 * (obj.beta_max - obj.beta_min) * t**2
        return S**2 / (S**2 + math.expm1(integral))

    return quad(f, obj.t_min, 1, limit=200)[0] / (1 - obj.t_min)


def x0_irreducible(obj: X0Denoiser) -> float:
    t = np.arange(obj.steps + 1)
    f = np.cos((t / obj.steps + obj.s) / (1 + obj.s) * np.pi / 2) ** 2
    abar = np.cumprod(np.r_[1.0, 1 - np.minimum(1 - f[1:] / f[:-1], 0.999)])[1:]
    sig2 = (1 - abar) / abar
    return float(np.mean(S**2 * sig2 / (S**2 + sig2)))


def flow_irreducible(obj: FlowMatching) -> float:
    def f(t):  # posterior variance of x1 given x_t, times the capped weight 1/max(1 − t, t_eps)²
        return S**2 * (1 - t) ** 2 / ((S**2 * t**2 + (1 - t) ** 2) * max(1 - t, obj.t_eps) ** 2)

    return quad(f, 0, 1, points=[1 - obj.t_eps], limit=200)[0]


@pytest.mark.parametrize(
    "obj, irreducible",
    [(VPScore(), vp_irreducible), (X0Denoiser(), x0_irreducible), (FlowMatching(), flow_irreducible)],
)
def test_loss_at_exact_denoiser_is_the_irreducible_value(obj, irreducible):
    b = 4000
    batch = field_batch(b, 8, seed=1)
    per_sample = loss_of(obj, exact_denoiser, batch, noise_for(b, 7)).mean(dim=(1, 2))  # (B,) one t per sample
    truth = irreducible(obj)
    se = per_sample.std().item() / math.sqrt(b)
    assert abs(per_sample.mean().item() - truth) < 4 * se, (per_sample.mean().item(), truth, se)


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_exact_denoiser_beats_perturbed_ones(name):
    obj, b = OBJECTIVES[name](), 500
    batch = field_batch(b, 8, seed=2)
    exact = loss_of(obj, exact_denoiser, batch, noise_for(b, 3)).mean()
    for perturbed in [
        lambda x, s, bt: exact_denoiser(x, s, bt) + 0.02,  # biased
        lambda x, s, bt: MU + 1.1 * (exact_denoiser(x, s, bt) - MU),  # over-confident
        lambda x, s, bt: MU + 0.9 * (exact_denoiser(x, s, bt) - MU),  # under-confident
    ]:
        assert loss_of(obj, perturbed, batch, noise_for(b, 3)).mean() > exact  # same t and ε draws


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_loss_draws_are_per_sample(name):
    obj, batch = OBJECTIVES[name](), field_batch(5, 7, c=3, seed=4)
    seeds = [seed_of(9, i) for i in range(5)]
    full = loss_of(obj, exact_denoiser, batch, SampleNoise(seeds))
    assert full.shape == (5, 7, 3)
    one = FieldBatch(
        *(getattr(batch, f)[3:4] for f in ("input_coords", "input_values", "output_coords", "output_values"))
    )
    torch.testing.assert_close(loss_of(obj, exact_denoiser, one, SampleNoise(seeds[3:4])), full[3:4])


# --- losses fall when overfitting one batch ----------------------------------------------------------------------


class TinyBackbone(nn.Module):
    """An MLP over [x, c_noise, prior, coordinates] per output token, zero-initialised last layer."""

    def __init__(self, channels: int = 1, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * channels + 3, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.out = nn.Linear(hidden, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x, c_noise, batch, prior):
        prior = torch.zeros_like(x) if prior is None else prior
        c = c_noise.reshape(-1, 1, 1).expand(*x.shape[:2], 1)
        return self.out(self.net(torch.cat([x, c, prior, batch.output_coords], dim=-1)))


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_loss_falls_when_overfitting_one_batch(name):
    torch.manual_seed(0)
    obj, b = OBJECTIVES[name](), 8
    coords = torch.rand(b, 64, 2)
    x0 = 0.8 * (coords[..., :1] - 0.5) - 0.6 * (coords[..., 1:] - 0.5)  # a ramp, (B, No, 1); known given coords
    batch = FieldBatch(coords[:, :8], x0[:, :8], coords, x0)
    context_mean = lambda b: b.input_values.mean(1, keepdim=True).expand(-1, b.output_coords.shape[1], -1)  # noqa: E731
    D = ResidualDenoiser(TinyBackbone(), sigma_data=0.3, prior_fn=context_mean)
    eval_noise = [noise_for(b, 1000 + k) for k in range(8)]

    def eval_loss() -> float:
        with torch.no_grad():
            return sum(loss_of(obj, D, batch, n).mean().item() for n in eval_noise) / len(eval_noise)

    initial = eval_loss()
    opt = torch.optim.Adam(D.parameters(), lr=1e-2)
    for step in range(200):
        loss = loss_of(obj, D, batch, noise_for(b, step)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert eval_loss() < 0.5 * initial
