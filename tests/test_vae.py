"""The masked spectral loss, the KL autoencoder and the PCA reference: known answers and invariants."""

import logging
import math

import numpy as np
import pytest
import torch

from sparsefield.methods import pca
from sparsefield.nn.kl_autoencoder import KLAutoencoder
from sparsefield.objectives.masked import masked_loss
from sparsefield.objectives.spectral import (
    MaskedSpectralLoss,
    coverage_stats,
    spectral_angle,
    validate_mask,
    warn_coverage,
)


def _images(batch=2, channels=5, size=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return 0.05 + 0.5 * torch.rand(batch, channels, size, size, generator=generator)


def _posterior(batch=2, z=2, size=4):
    return torch.zeros(batch, z, size, size), torch.zeros(batch, z, size, size)


def test_spectral_angle_of_a_positive_multiple_is_zero_and_of_orthogonal_spectra_ninety_degrees():
    x = _images()
    assert math.degrees(spectral_angle(3.0 * x, x).max().item()) < 0.05
    a, b = torch.zeros(1, 5, 1, 1), torch.zeros(1, 5, 1, 1)
    a[0, :2], b[0, 2:] = 1.0, 1.0
    assert math.degrees(spectral_angle(a, b).item()) == pytest.approx(90.0, abs=1e-4)
    assert math.degrees(spectral_angle(-a, a).item()) == pytest.approx(180.0, abs=0.05)


def test_masked_loss_ignores_the_background_exactly():
    """Changing x̂ on masked-out pixels changes no loss term, and their gradient is exactly zero."""
    x, (mean, logvar) = _images(), _posterior()
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, 2:6, 1:7] = 1.0
    x_hat = (x + 0.1 * _images(seed=1)).requires_grad_(True)
    loss = MaskedSpectralLoss(sam_weight=0.5, kl_weight=0.0)
    total = loss(x, x_hat, mean, logvar, mask).total()
    total.backward()
    outside = (mask == 0).expand_as(x)
    assert x_hat.grad[outside].abs().max().item() == 0.0
    assert x_hat.grad[~outside].abs().max().item() > 0.0
    changed = x_hat.detach().clone()
    changed[outside] = 0.9
    assert loss(x, changed, mean, logvar, mask).total().item() == pytest.approx(total.item(), abs=1e-7)


def test_per_channel_mse_is_the_masked_sum_over_the_leaf_pixels():
    x, (mean, logvar) = _images(batch=1), _posterior(batch=1)
    mask = torch.zeros(1, 1, 8, 8)
    mask[0, 0, :3, :] = 1.0  # 24 leaf pixels
    x_hat = x.clone()
    x_hat[0, 2] += 0.2  # band 2 wrong everywhere by 0.2
    x_hat[0, 4, 5:, :] += 5.0  # band 4 wrong on background only
    scale = torch.tensor([1.0, 1.0, 2.0, 1.0, 1.0])
    loss = MaskedSpectralLoss()
    summary = loss.summary(loss(x, x_hat, mean, logvar, mask, scale), x)
    expected = torch.tensor([0.0, 0.0, (0.2 / 2.0) ** 2, 0.0, 0.0])
    assert torch.allclose(summary["mse_per_channel"], expected, atol=1e-6)
    assert summary["mse"].item() == pytest.approx(expected.mean().item(), abs=1e-7)
    assert summary["mask_stats"] == dict(coverage=24 / 64, valid_pixels=24, total_pixels=64)


def test_no_nan_on_all_zero_pixels_or_an_empty_mask():
    x, (mean, logvar) = _images(), _posterior()
    x[:, :, :2] = 0.0  # zero spectra: no direction
    x_hat = torch.zeros_like(x).requires_grad_(True)  # and a zero reconstruction everywhere
    loss = MaskedSpectralLoss()
    for mask in (torch.zeros(2, 1, 8, 8), torch.ones(2, 1, 8, 8), None):
        terms = loss(x, x_hat, mean, logvar, mask)
        total = terms.total()
        total.backward()
        assert torch.isfinite(total) and torch.isfinite(x_hat.grad).all()
        x_hat.grad = None
    empty = loss.summary(loss(x, x_hat, mean, logvar, torch.zeros(2, 1, 8, 8)), x)
    assert empty["mse"].item() == 0.0 and empty["sam"].item() == 0.0
    assert empty["mask_stats"]["valid_pixels"] == 0


def test_a_sample_with_an_empty_mask_is_left_out_of_the_batch_mean():
    value = torch.stack([torch.full((1, 4, 4), 2.0), torch.full((1, 4, 4), 7.0)])
    weight = torch.stack([torch.ones(1, 4, 4), torch.zeros(1, 4, 4)])
    assert masked_loss(value, weight).item() == 2.0  # not (2 + 0) / 2
    assert masked_loss(value, torch.zeros_like(weight)).item() == 0.0


def test_mask_shapes_broadcast_or_fail_clearly():
    x = _images()
    assert validate_mask(torch.full((2, 1, 8, 8), 0.7), x).unique().tolist() == [1.0]
    assert validate_mask(torch.full((2, 5, 8, 8), 0.3), x).unique().tolist() == [0.0]
    for shape in ((2, 3, 8, 8), (2, 1, 4, 8), (1, 1, 8, 8), (2, 8, 8)):
        with pytest.raises(ValueError, match="cannot broadcast"):
            validate_mask(torch.ones(shape), x)


def test_coverage_warnings_fire_at_the_thresholds(caplog):
    x = _images(batch=1, size=10)  # 100 pixels
    for leaf, warned in ((9, True), (10, False), (95, False), (96, True)):
        mask = torch.zeros(1, 1, 10, 10)
        mask.view(-1)[:leaf] = 1.0
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sparsefield.vae"):
            assert warn_coverage(coverage_stats(mask, x)) is warned
        assert bool(caplog.records) is warned


def test_unmasked_loss_is_the_plain_mean():
    x, (mean, logvar) = _images(), _posterior()
    x_hat = x + 0.1
    loss = MaskedSpectralLoss(sam_weight=0.0, kl_weight=0.0)
    assert loss(x, x_hat, mean, logvar, None).total().item() == pytest.approx(0.01, rel=1e-5)


def test_kl_term_is_zero_at_the_prior_and_positive_elsewhere():
    x = _images()
    loss = MaskedSpectralLoss(sam_weight=0.0, kl_weight=1.0)
    zero = loss.summary(loss(x, x, *_posterior(), None), x)["kl"].item()
    mean = torch.full((2, 2, 4, 4), 1.0)
    one = loss.summary(loss(x, x, mean, torch.zeros_like(mean), None), x)["kl"].item()
    assert zero == 0.0 and one == pytest.approx(0.5)


def test_autoencoder_forward_interface_and_pretrained_round_trip(tmp_path):
    torch.manual_seed(0)
    net = KLAutoencoder(channels=5, ch=8, ch_mult=(1, 2), z_channels=4, shift=[0.1] * 5, scale=[0.2] * 5).eval()
    x, mask = _images(size=16), torch.ones(2, 1, 16, 16)
    reconstruction, losses = net(sample=x, mask=mask)
    assert reconstruction.shape == x.shape and net.latent_per_pixel == 1.0
    assert {"total", "mse", "mse_per_channel", "sam", "kl", "mask_stats"} <= set(losses)
    _, unmasked = net(sample=x, mask=None)
    assert unmasked["mask_stats"]["coverage"] == 1.0
    net.save_pretrained(tmp_path / "ae")
    again = KLAutoencoder.from_pretrained(tmp_path / "ae").eval()
    assert torch.equal(again(x)[0], reconstruction)
    with pytest.raises(FileNotFoundError, match="save_pretrained"):
        KLAutoencoder.from_pretrained(tmp_path / "missing")
    (tmp_path / "ae" / "config.json").write_text('{"channels": 3, "ch": 8, "ch_mult": [1, 2], "z_channels": 4}')
    with pytest.raises(ValueError, match="not a KLAutoencoder"):
        KLAutoencoder.from_pretrained(tmp_path / "ae")


def test_loss_falls_when_overfitting_one_batch():
    torch.manual_seed(0)
    x, mask = _images(batch=4, size=16), torch.ones(4, 1, 16, 16)
    mask[:, :, :, :8] = 0.0
    net = KLAutoencoder(channels=5, ch=8, ch_mult=(1, 2), z_channels=4, shift=[0.3] * 5, scale=[0.15] * 5)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    loss = MaskedSpectralLoss(sam_weight=0.1, kl_weight=1e-4)
    first = None
    for _ in range(60):
        _, losses = net(x, mask, eps=torch.zeros(4, 4, 8, 8), loss=loss)
        optimizer.zero_grad()
        losses["total"].backward()
        optimizer.step()
        first = losses["total"].item() if first is None else first
    assert losses["total"].item() < 0.2 * first


def test_pca_with_every_component_is_exact_and_with_k_exact_on_rank_k_data():
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0.0, 1.0, (500, 5))
    mean, std, basis = pca.fitted_basis(pixels, 5)
    assert np.allclose(pca.project(pixels, mean, std, basis), pixels, atol=1e-5)
    directions = rng.normal(size=(2, 5))
    low_rank = 0.5 + rng.normal(size=(500, 2)) @ directions * 0.05
    mean, std, basis = pca.fitted_basis(low_rank, 2)
    assert np.allclose(pca.project(low_rank, mean, std, basis), low_rank, atol=1e-5)
    mean, std, basis = pca.fitted_basis(low_rank, 1)
    assert not np.allclose(pca.project(low_rank, mean, std, basis), low_rank, atol=1e-3)


def test_decoding_a_split_is_bounded_by_pixels_not_tiles():
    """The paper's 128-px leaf tiles at the default's 256 a pass took 12 GB on a CPU: a pass holds DECODE_PIXELS."""
    from sparsefield.methods.vae import DECODE_PIXELS, decode_all

    torch.manual_seed(0)
    net = KLAutoencoder(channels=5, ch=8, ch_mult=(1, 2), z_channels=4, shift=[0.1] * 5, scale=[0.2] * 5).eval()
    seen = []
    encode = net.encode
    net.encode = lambda x: seen.append(x.shape[0]) or encode(x)
    images = _images(batch=40, size=16).permute(0, 2, 3, 1).numpy()
    with torch.no_grad():
        whole = decode_all(net, images, "cpu")
        assert seen == [40] and whole.shape == images.shape and whole.dtype == np.float32
        seen.clear()
        parts = decode_all(net, images, "cpu", pixels=16 * 16 * 16)
    assert seen == [16, 16, 8]
    np.testing.assert_allclose(parts, whole, atol=1e-6)
    assert DECODE_PIXELS // (128 * 128) == 16 and DECODE_PIXELS // (32 * 32) == 256  # the default's one pass
