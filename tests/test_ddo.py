"""The DDO family (Lim et al. 2023): DCT, blur, GRF noise, time sampler, masked loss, spectral conv, sampler."""

import math

import numpy as np
import pytest
import torch

from sparsefield.data.images.grids import GridBatch
from sparsefield.methods import ddo
from sparsefield.nn.context import ConditionalDDO
from sparsefield.nn.fno_unet import FNOUNet, SpectralConv2d
from sparsefield.objectives.blurring import BlurringDiffusion, dct2, idct2, low_discrepancy_times
from sparsefield.params import bind
from sparsefield.rng import SampleNoise
from sparsefield.sampling import blurring
from sparsefield.sampling.common import sample


def test_dct_round_trip_and_orthonormal():
    x = torch.randn(2, 3, 12, 20, dtype=torch.float64)
    u = dct2(x)
    torch.testing.assert_close(idct2(u), x)
    torch.testing.assert_close(u.square().sum((-2, -1)), x.square().sum((-2, -1)))  # Parseval
    n = torch.arange(16, dtype=torch.float64)
    mode = torch.cos(math.pi * 3 * (n[:, None] + 0.5) / 16) * torch.cos(math.pi * 5 * (n[None, :] + 0.5) / 16)
    spectrum = dct2(mode).abs()
    assert spectrum[3, 5] == pytest.approx(8.0) and spectrum.sum() == pytest.approx(8.0)  # one coefficient


@pytest.mark.parametrize("size", [16, 32, 64])
def test_blur_multiplies_each_mode_by_its_factor(size):
    process = BlurringDiffusion(blur_floor=0.0)
    k1, k2, n = 2, 3, torch.arange(size, dtype=torch.float64)
    mode = torch.cos(math.pi * k1 * (n + 0.5) / size)[:, None] * torch.cos(math.pi * k2 * (n + 0.5) / size)[None, :]
    for t in (0.0, 0.5, 1.0):
        d = process.blur(torch.tensor([t]), size, size)[0]
        blurred = idct2(d * dct2(mode))
        sigma = 0.05 + 0.2 * math.sin(math.pi * t / 2) ** 2
        expected = math.exp(-(k1**2 + k2**2) * sigma**2 / 2)  # the same factor at every resolution
        torch.testing.assert_close(blurred, expected * mode)
    floored = BlurringDiffusion(blur_floor=0.001).blur(torch.tensor(1.0), size, size)
    assert floored.min() >= 0.001 and floored[0, 0] == 1.0  # no mode below d_min; the mean never blurs


def test_schedule_end_points():
    process = BlurringDiffusion()
    assert float(process.logsnr(0.0)) == pytest.approx(10.0) and float(process.logsnr(1.0)) == pytest.approx(-10.0)
    a, s = process.a_sigma(torch.linspace(0, 1, 11))
    torch.testing.assert_close(a**2 + s**2, torch.ones(11, dtype=torch.float64))
    assert (a[1:] < a[:-1]).all()


def _lag_correlation(process, size, n, lag):
    generator = torch.Generator().manual_seed(size)
    eps = process.grf(torch.randn(n, size, size, generator=generator, dtype=torch.float64))
    centre = eps[:, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4]
    a, b = centre[:, :, :-lag].reshape(-1), centre[:, :, lag:].reshape(-1)
    return float((a * b).mean() / (a.std() * b.std())), float(eps.var())


def test_grf_correlation_matches_the_kernel_at_every_resolution():
    process = BlurringDiffusion(length_scale=0.05)
    kernel = math.exp(-((1 / 32) ** 2) / (2 * 0.05**2))  # 0.823 at a lag of 1/32 of the unit square
    measured = {size: _lag_correlation(process, size, n, size // 32) for size, n in ((32, 4000), (64, 1000),
                                                                                       (128, 250))}
    for size, (rho, var) in measured.items():
        assert var == pytest.approx(1.0, abs=0.05), size  # unit variance per pixel
        assert rho == pytest.approx(kernel, abs=0.03), size
    rhos = [rho for rho, _ in measured.values()]
    assert max(rhos) - min(rhos) < 0.02  # resolution-consistent


def test_low_discrepancy_times_cover_the_unit_interval():
    for batch in (1, 7, 32):
        t = low_discrepancy_times(SampleNoise(list(range(batch))))
        assert t.shape == (batch,) and ((t >= 0) & (t < 1)).all()
        gaps = torch.diff(torch.sort(t).values)
        torch.testing.assert_close(gaps, torch.full_like(gaps, 1 / batch))
    a, b = low_discrepancy_times(SampleNoise([1, 2, 3])), low_discrepancy_times(SampleNoise([9, 2, 3]))
    assert not torch.equal(a, b)  # u0 comes from the batch's streams


def _params(**over):
    settings = dict(model={"backbone": {"ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1, "modes": 4},
                           "sigma_data": 0.2}, train={"steps": 1, "batch_size": 2, "lr": 1e-3},
                    evaluation={"every": 1, "images": 2, "k": 1, "steps": 2, "sampler": "ancestral"})
    settings.update(over)
    return bind(ddo.Params, settings, "params")


def _batch(n=2, size=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, size, size, generator=generator) * 2 - 1
    context = (torch.rand(n, 1, size, size, generator=generator) < 0.2).float()
    query = (torch.rand(n, 1, size, size, generator=generator) < 0.2).float() * (1 - context)
    return GridBatch(images, context, query, images.mean((2, 3), keepdim=True).expand_as(images).clone())


@pytest.mark.parametrize("loss", ["query", "full"])
def test_query_loss_has_no_gradient_outside_the_query(loss):
    from sparsefield.objectives.masked import masked_loss

    batch = _batch()
    out = torch.zeros_like(batch.images, requires_grad=True)
    terms = ddo.loss("ddo", _params(loss=loss))(lambda z, t, cond: out + 0 * z, batch, SampleNoise([1, 2]))
    masked_loss(terms.value, terms.weight).backward()
    outside = (1 - batch.query).expand_as(out).bool()
    if loss == "query":
        assert (out.grad[outside] == 0).all() and (out.grad[~outside] != 0).all()
    else:
        assert (out.grad != 0).all()
    assert set(terms.logged) == {"loss_query", "loss_full"}


def test_spectral_conv_is_resolution_consistent():
    torch.manual_seed(0)
    conv = SpectralConv2d(2, 3, modes=8)

    def field(n):  # band-limited, periodic, sampled at i/n (the grid v)
        y, x = torch.meshgrid(torch.arange(n) / n, torch.arange(n) / n, indexing="ij")
        a = torch.cos(2 * math.pi * (2 * x + y)) + 0.5 * torch.sin(2 * math.pi * 3 * y)
        b = torch.sin(2 * math.pi * (x - 2 * y)) + 0.3
        return torch.stack([a, b])[None]

    coarse, fine = conv(field(32)), conv(field(64))
    torch.testing.assert_close(fine[..., ::2, ::2], coarse, atol=1e-5, rtol=1e-5)
    assert coarse.abs().max() > 0.1


def test_fno_unet_runs_at_any_resolution_with_the_same_weights():
    net = ConditionalDDO({"ch": 8, "ch_mult": (1, 2), "num_res_blocks": 1, "modes": 8, "resolution": 16})
    for size in (16, 32):
        batch = _batch(size=size)
        assert net(torch.randn(2, 3, size, size), torch.rand(2), batch).shape == (2, 3, size, size)
    with pytest.raises(ValueError, match="divisible"):
        FNOUNet(ch=8, ch_mult=(1, 2, 2), num_res_blocks=1, modes=4)(torch.randn(1, 3, 10, 10), torch.rand(1))


def _gaussian_model(process, mean_k, var_k, lam):
    """The exact network output for x₀ ~ N(IDCT m, diag v in the DCT basis), ε a GRF of variances λ."""

    def D(z, t):
        size = z.shape[-1]
        alpha = process.alpha(t, size, size).to(z.dtype)
        sigma = float(process.a_sigma(t)[1])
        u = dct2(z)
        total = alpha**2 * var_k + sigma**2 * lam  # per-mode variance of z_t
        if process.prediction == "eps":
            return idct2(sigma * lam * (u - alpha * mean_k) / total)  # E[ε | z_t]
        return idct2(mean_k + alpha * var_k * (u - alpha * mean_k) / total)  # E[x₀ | z_t]

    return D


@pytest.mark.parametrize("prediction", ["eps", "x0"])
def test_ancestral_sampler_with_the_exact_model_reproduces_a_gaussian(prediction):
    process, size, n = BlurringDiffusion(prediction=prediction), 8, 4000
    generator = torch.Generator().manual_seed(0)
    k = torch.arange(size, dtype=torch.float64)
    var_k = 0.3 * torch.exp(-(k[:, None] ** 2 + k[None, :] ** 2) / 8.0)  # smooth data
    mean_k = torch.zeros(size, size, dtype=torch.float64)
    mean_k[0, 0], mean_k[1, 2] = 2.0, -0.5
    lam = process.grf_variance(size, size)
    D = _gaussian_model(process, mean_k, var_k, lam)

    def randn():
        return torch.randn(n, 1, size, size, generator=generator, dtype=torch.float64)

    drawn = sample(blurring, "ancestral_x0", D, process, randn, steps=200)
    x, first = drawn.x, blurring.denoised(process, drawn.first, drawn.start, 1.0)
    u = dct2(x)[:, 0]
    torch.testing.assert_close(u.mean(0), mean_k, atol=0.04, rtol=0)
    torch.testing.assert_close(u.var(0), var_k, atol=0.03, rtol=0.1)
    torch.testing.assert_close(dct2(first)[:, 0].mean(0), mean_k, atol=0.05, rtol=0)  # E[x₀] at t = 1
    blurred = sample(blurring, "ancestral", D, process, randn, steps=200).x  # z₀'s mean: blurred by d_k(0)
    torch.testing.assert_close(dct2(blurred)[:, 0].mean(0), process.alpha(0.0, size, size) * mean_k, atol=0.04,
                               rtol=0)


def test_posterior_mean_of_an_x0_model_is_its_first_estimate():
    """An x0-model at t = 1 sees only noise: the first x̂₀ is the model's E[x₀ | context] (here the prior)."""
    params = _params(objective={"prediction": "x0"})
    data = _masked(4)
    net = ddo.build(params.model, 8)  # the output layer starts at zero: x̂₀ = 0, i.e. the prior itself
    with torch.no_grad():  # as the reconstruct stage runs it
        samples, posterior_mean, nfe, _ = ddo.sample_grid("ddo", net.eval(), ddo.objective("ddo", params), data,
                                                          model=params.model, task=0, sampler="ancestral_x0", steps=3,
                                                          k=2, seed=0, batch_size=3, device="cpu")
    assert samples.shape == (4, 2, 8, 8, 3) and nfe == 3
    observed = np.zeros((4, 64), bool)
    np.put_along_axis(observed, data.context, True, axis=1)
    truth = (data.images / 255.0).reshape(4, 64, 3)
    expected = np.where(observed[..., None], truth, data.estimate.reshape(4, 64, 3))  # observed pixels as observed
    np.testing.assert_allclose(posterior_mean.reshape(4, 64, 3), expected, atol=1e-6)
    np.testing.assert_allclose(samples.reshape(4, 2, 64, 3)[:, 0][observed], truth[observed], atol=1e-6)


def test_residual_without_an_estimate_is_a_one_line_error():
    data = _masked(2)
    data.estimate = None
    with pytest.raises(ValueError, match="estimate: biharmonic"):
        ddo.training("ddo", _params(), data, data, "cpu")


def _masked(n):
    from sparsefield.data.images.sets import MaskedImages

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    context = np.sort(np.stack([rng.choice(64, 6, replace=False) for _ in range(n)]), axis=1)
    query = np.stack([np.setdiff1d(np.arange(64), c)[:6] for c in context])
    return MaskedImages(images, context, query, None, np.full((n, 8, 8, 3), 0.4, np.float32))


def test_overfitting_one_batch_lowers_the_loss():
    from sparsefield.training.loop import training_loop

    backbone = {"ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1, "modes": 4}
    params = _params(loss="full", objective={"prediction": "x0"}, model={"backbone": backbone, "sigma_data": 1.0})
    data = _masked(4)
    data.images[:] = np.array([[30, 200, 90], [220, 40, 120], [90, 90, 250], [160, 160, 10]], np.uint8)[:, None, None]
    torch.manual_seed(0)  # four flat colours: the residual around the grey prior is learnable from the context
    loop = ddo.training("ddo", params, data, data, "cpu")
    loop.update(steps=150, batch_size=4, lr=1e-2, warmup=5, eval_fn=None, checkpoint_every=0)
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        training_loop(**loop, out_dir=out, progress=False)
        import pandas as pd

        log = pd.read_csv(f"{out}/train_log.csv")
    assert log.loss.tail(10).mean() < 0.5 * log.loss.head(10).mean()
