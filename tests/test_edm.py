"""EDM (Karras et al. 2022): backbone, objective and samplers against known answers.

Data x0 ~ N(μ, s²) per element has the exact denoiser D*(x̃, σ) = (s² x̃ + σ² μ)/(s² + σ²) and the
noisy marginal x̃ ~ N(μ, s² + σ²). The samplers start from that marginal at σ_max, x = μ + sqrt(s² + σ_max²) z,
which is exact (the common start σ_max z is off by μ s/σ_max in the mean, 0.2% of s here). A correct ODE sampler
then maps N(μ, s² + σ_max²) onto N(μ, s²) up to its discretisation error; D* acts per element, so every element
is an independent draw. The discretisation error is not small on EDM's 18 levels: for s = 0.5 Heun returns
1.11 s² (the steps across σ ≈ s halve σ), so the tests take enough levels to make it small next to the
sampling tolerance.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from sparsefield.nn.edm_unet import EDMUNet
from sparsefield.nn.precond import ResidualDenoiser
from sparsefield.objectives.edm import EDM
from sparsefield.rng import SampleNoise, seed_of
from sparsefield.sampling.common import draw
from sparsefield.sampling.karras import euler, heun, karras_sigmas, renoise, steps_for_nfe

MU, S = 0.3, 0.5
N_DRAWS = 2**16
MEAN_TOL = 5 * S / math.sqrt(N_DRAWS)  # 5 standard errors of the sample mean
VAR_TOL = 5 * S**2 * math.sqrt(2 / N_DRAWS)  # 5 standard errors of the sample variance (2.8% of s²)


def exact_D(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return (S**2 * x + sigma**2 * MU) / (S**2 + sigma**2)


def start(sigma_max: float, seed: int = 0) -> tuple[torch.Tensor, torch.Generator]:
    g = torch.Generator().manual_seed(seed)
    return MU + math.sqrt(S**2 + sigma_max**2) * torch.randn(N_DRAWS, dtype=torch.float64, generator=g), g


def model(**kwargs) -> EDMUNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return EDMUNet(**kwargs)


def test_preconditioned_unet_at_init_is_the_gaussian_posterior_mean():
    x = torch.randn(5, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    sigma = torch.tensor([0.002, 0.1, 0.5, 3.0, 80.0])
    s2 = sigma.reshape(-1, 1, 1, 1) ** 2
    for sd in (0.5, 0.13):
        D = ResidualDenoiser(model(ch=16, ch_mult=(1, 2)), sigma_data=sd, residual=False)
        torch.testing.assert_close(D(x, sigma, None), sd**2 / (s2 + sd**2) * x, rtol=1e-6, atol=0)


def test_karras_sigmas_endpoints_and_order():
    sigmas = karras_sigmas(18, 0.002, 80.0, 7.0)
    assert len(sigmas) == 19 and sigmas[0] == 80.0 and sigmas[-2:] == [0.002, 0.0]
    assert all(a > b for a, b in zip(sigmas[:-1], sigmas[1:], strict=False))
    assert karras_sigmas(1, 0.002, 80.0, 7.0) == [80.0, 0.0]
    assert karras_sigmas(5, 1.0, 5.0, 1.0) == pytest.approx([5, 4, 3, 2, 1, 0])  # ρ = 1: linear in σ


def heun_churn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    randn = lambda: torch.randn(x.shape, dtype=x.dtype, generator=g)  # noqa: E731
    return heun(exact_D, x, karras_sigmas(200), randn, S_churn=40, S_tmin=0.05, S_tmax=50)


SAMPLERS = {  # the variance error of each at these levels, from the linear recursion of the Gaussian
    "heun": lambda x, g: heun(exact_D, x, karras_sigmas(100)),  # +0.3%
    "euler": lambda x, g: euler(exact_D, x, karras_sigmas(1000)),  # −0.6%
    "renoise zeta=0": lambda x, g: renoise(exact_D, x, karras_sigmas(1000), None, zeta=0.0),  # −0.6%
    "heun churn": heun_churn,  # +0.6%: γ = 0.2 on 0.05 <= σ <= 50
}


@pytest.mark.parametrize("name", SAMPLERS)
def test_samplers_with_the_exact_denoiser_reproduce_the_gaussian(name):
    x, g = start(80.0)
    x = SAMPLERS[name](x, g)
    assert abs(x.mean().item() - MU) < MEAN_TOL, name
    assert abs(x.var().item() - S**2) < VAR_TOL, name


def test_renoise_zeta0_is_the_euler_step():
    x, _ = start(80.0)
    sigmas = karras_sigmas(18)
    torch.testing.assert_close(renoise(exact_D, x, sigmas, None, zeta=0.0), euler(exact_D, x, sigmas))


def test_renoise_zeta1_keeps_the_mean_and_loses_variance():
    """x_{i+1} = x̂0 + σ_{i+1} ε is not an ancestral sampler of the prior: it replaces a posterior sample of x0
    by its mean, dropping Var[x0 | x_i] = s² σ_i²/(s² + σ_i²) at every step. On the exact denoiser the variance
    follows v_{i+1} = s⁴ v_i/(s² + σ_i²)² + σ_{i+1}² (known answer, 0.36 s² on 18 levels) and tends to s²/2, not s²,
    as the levels get finer (the AR(1) fixed point at small σ). The mean stays μ."""
    for n, below in ((18, 0.4), (100, 0.5)):
        sigmas = karras_sigmas(n)
        v = S**2 + sigmas[0] ** 2
        for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:], strict=True):
            v = S**4 * v / (S**2 + sigma**2) ** 2 + sigma_next**2
        x, g = start(sigmas[0], seed=n)
        x = renoise(exact_D, x, sigmas, lambda: torch.randn(x.shape, dtype=x.dtype, generator=g), zeta=1.0)  # noqa: B023
        assert abs(x.mean().item() - MU) < MEAN_TOL
        assert abs(x.var().item() - v) < VAR_TOL
        assert v < below * S**2


def test_nfe_counts():
    x, _ = start(80.0)
    for n in (1, 2, 18):
        for name, sampler in (("heun", heun), ("euler", euler), ("renoise", renoise)):
            nfe = draw(sampler, exact_D, x[:10], karras_sigmas(n), None).nfe
            assert nfe == (2 * n - 1 if name == "heun" else n), (name, n)
            assert steps_for_nfe(None, name, nfe) == n


def test_heun_is_second_order_and_euler_first_order():
    """The linear ODE maps x − μ by a scalar c: the variance ratio c² (s² + σ_max²)/s² is 1 without error."""
    one = torch.ones(1, dtype=torch.float64)

    def error(sampler, n):
        sigmas = karras_sigmas(n)
        c = sampler(lambda x, sigma: S**2 * x / (S**2 + sigma**2), one, sigmas).item()  # μ = 0
        return abs(c**2 * (S**2 + sigmas[0] ** 2) / S**2 - 1)

    assert 3.5 < error(heun, 50) / error(heun, 100) < 5.0
    assert 1.8 < error(euler, 200) / error(euler, 400) < 2.2


def test_edm_loss_is_one_at_the_exact_denoiser_for_every_sigma():
    """λ(σ) E(D* − x0)² = (σ² + σ_d²)/(σ σ_d)² · σ² σ_d²/(σ² + σ_d²) = 1 for x0 ~ N(0, σ_d²)."""
    for sd in (0.5, 0.05):
        objective = EDM(P_mean=-1.2 + math.log(sd / 0.5), sigma_data=sd)  # the same relative noise levels
        x0 = sd * torch.randn(16, 1, 32, 32, generator=torch.Generator().manual_seed(2))
        seen = []

        def D(x, sigma, cond, sd=sd, seen=seen):
            seen.append(sigma)
            return sd**2 * x / (sd**2 + sigma.reshape(-1, 1, 1, 1) ** 2)

        loss = objective.loss(D, x0, None, SampleNoise([seed_of(3, b) for b in range(16)]))
        assert loss.shape == x0.shape
        per_sample = loss.mean(dim=(1, 2, 3))  # each sample has its own σ; 1024 elements: std 0.044
        assert seen[0].min() < 0.3 * sd and seen[0].max() > 2 * sd  # the σ span both sides of σ_d
        assert (per_sample - 1).abs().max() < 0.2
        assert abs(loss.mean().item() - 1) < 0.05


def test_edm_loss_draws_log_normal_sigma_per_sample():
    objective, seen = EDM(P_mean=-1.2, P_std=1.2), []
    D = lambda x, sigma, cond: seen.append(sigma) or x  # noqa: E731
    seeds = [seed_of(4, b) for b in range(400)]
    loss = objective.loss(D, torch.zeros(400, 1), None, SampleNoise(seeds))
    log_sigma = seen[0].log()
    assert abs(log_sigma.mean().item() + 1.2) < 5 * 1.2 / 20 and abs(log_sigma.std().item() - 1.2) < 0.2
    one = objective.loss(D, torch.zeros(3, 1), None, SampleNoise(seeds[1:4]))  # batch-independent draws
    torch.testing.assert_close(one, loss[1:4])


def test_edm_loss_falls_when_overfitting_one_batch():
    g = torch.Generator().manual_seed(0)
    x0 = F.interpolate(torch.randn(8, 1, 4, 4, generator=g), size=16, mode="bilinear", align_corners=False)
    x0 = 0.5 * x0 / x0.std()  # 8 smooth 16×16 images of std σ_d
    D = ResidualDenoiser(model(channels=1, ch=16, ch_mult=(1, 2)), sigma_data=0.5, residual=False)
    optimizer, objective, losses = torch.optim.Adam(D.parameters(), lr=5e-3), EDM(), []
    for step in range(80):
        loss = objective.loss(D, x0, None, SampleNoise([seed_of(5, b, step) for b in range(8)])).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) < 0.5 * sum(losses[:10])  # about 0.39 here; ≈ 1 at init (D = c_skip x̃)


def test_unet_is_fully_convolutional_and_uses_c_noise():
    net = model(channels=2, ch=8, ch_mult=(1, 2), heads=2)
    for p in net.parameters():  # the zero-initialised layers made random, so the shapes and c_noise are exercised
        if not p.any():
            torch.nn.init.normal_(p, std=0.3)
    g = torch.Generator().manual_seed(6)
    with torch.no_grad():
        for size in ((16, 16), (32, 32), (16, 32), (30, 30)):
            x = torch.randn(2, 2, *size, generator=g)
            assert net(x, torch.zeros(2)).shape == x.shape
        assert not torch.allclose(net(x, torch.zeros(2)), net(x, torch.ones(2)))
        with pytest.raises(ValueError, match="31x31"):
            net(torch.randn(1, 2, 31, 31), torch.zeros(1))
        with pytest.raises(ValueError, match="30x30"):
            model(channels=2, ch=8, ch_mult=(1, 2, 2))(torch.randn(1, 2, 30, 30), torch.zeros(1))
