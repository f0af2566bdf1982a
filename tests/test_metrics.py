"""Region masks, per-image metrics (against hand values and torchmetrics) and ensemble scores."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from sparsefield.metrics import (
    METRICS,
    REGIONS,
    _ssim_map,
    crps_ensemble,
    image_metrics,
    interval_coverage,
    region_masks,
)


def random_indices(rng, n, height, width, n_context, n_query):
    order = np.argsort(rng.random((n, height * width)), axis=1)
    return order[:, :n_context].astype(np.int16), order[:, n_context : n_context + n_query].astype(np.int16)


def table(df):
    """{(image, region, metric): value}."""
    return {(row.image, row.region, row.metric): row.value for row in df.itertuples()}


# ---- region masks


def test_region_masks_partition_the_image():
    rng = np.random.default_rng(0)
    n, height, width = 7, 9, 13
    context, query = random_indices(rng, n, height, width, 11, 20)
    masks = region_masks(context, query, height, width)
    assert list(masks) == list(REGIONS)
    for mask in masks.values():
        assert mask.shape == (n, height, width) and mask.dtype == bool
    c, q, r = masks["context"], masks["query"], masks["remaining"]
    assert not (c & q).any() and not (c & r).any() and not (q & r).any()  # disjoint
    assert (c | q | r).all() and masks["full"].all()  # cover the image
    np.testing.assert_array_equal(masks["missing"], q | r)
    np.testing.assert_array_equal(masks["missing"], ~c)
    np.testing.assert_array_equal(c.sum(axis=(1, 2)), 11)
    np.testing.assert_array_equal(q.sum(axis=(1, 2)), 20)
    for i in range(n):  # flat row-major: y = idx // W, x = idx % W
        y, x = np.divmod(context[i].astype(int), width)
        assert c[i, y, x].all()


def test_region_masks_reject_overlap_and_out_of_range():
    context = np.array([[0, 5]])
    with pytest.raises(ValueError, match="overlap"):
        region_masks(context, np.array([[5, 6]]), 4, 4)
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        region_masks(context, np.array([[16]]), 4, 4)


# ---- per-image metrics


def test_constant_error_gives_hand_values():
    rng = np.random.default_rng(1)
    n, height, width = 3, 8, 10
    target = rng.uniform(0.2, 0.8, (n, height, width, 3)).astype(np.float32)
    pred = target + np.float32(0.1)
    masks = region_masks(*random_indices(rng, n, height, width, 8, 8), height, width)
    df = image_metrics(pred, target, masks)
    assert list(df.columns) == ["image", "region", "metric", "value"]
    assert len(df) == n * len(REGIONS) * len(METRICS)
    assert list(df.metric[:4]) == list(METRICS) and list(df.image.unique()) == [0, 1, 2]
    for metric, expected in (("mse", 0.01), ("mae", 0.1), ("psnr", 20.0)):
        values = df[df.metric == metric].value
        np.testing.assert_allclose(values, expected, rtol=1e-5)


def test_error_on_query_only():
    rng = np.random.default_rng(2)
    n, height, width, n_context, n_query = 2, 8, 8, 6, 10
    context, query = random_indices(rng, n, height, width, n_context, n_query)
    masks = region_masks(context, query, height, width)
    target = rng.random((n, height, width, 2)).astype(np.float32)
    pred = target.copy()
    pred[masks["query"]] += 0.2  # error 0.2 on the query pixels only
    values = table(image_metrics(pred, target, masks))
    for i in range(n):
        np.testing.assert_allclose(values[i, "query", "mse"], 0.04, rtol=1e-5)
        np.testing.assert_allclose(values[i, "query", "mae"], 0.2, rtol=1e-5)
        missing_mse = 0.04 * n_query / (height * width - n_context)
        np.testing.assert_allclose(values[i, "missing", "mse"], missing_mse, rtol=1e-5)
        np.testing.assert_allclose(values[i, "full", "mae"], 0.2 * n_query / (height * width), rtol=1e-5)
        assert values[i, "context", "mse"] == 0 and values[i, "context", "psnr"] == math.inf
        assert values[i, "remaining", "mae"] == 0


def test_full_region_matches_torchmetrics():
    rng = np.random.default_rng(3)
    for channels in (1, 3):
        n, height, width = 4, 12, 20
        target = rng.random((n, height, width, channels)).astype(np.float32)
        pred = np.clip(target + 0.15 * rng.standard_normal(target.shape), 0, 1).astype(np.float32)
        masks = region_masks(*random_indices(rng, n, height, width, 20, 20), height, width)
        values = table(image_metrics(pred, target, masks))
        p = torch.from_numpy(pred).permute(0, 3, 1, 2).double()
        t = torch.from_numpy(target).permute(0, 3, 1, 2).double()
        ssim, ssim_full_map = structural_similarity_index_measure(
            p, t, data_range=1.0, reduction="none", return_full_image=True
        )
        torch.testing.assert_close(_ssim_map(p, t), ssim_full_map, rtol=0, atol=1e-12)
        for i in range(n):
            psnr = peak_signal_noise_ratio(p[i], t[i], data_range=1.0).item()
            np.testing.assert_allclose(values[i, "full", "psnr"], psnr, rtol=1e-6)  # torchmetrics: float32
            np.testing.assert_allclose(values[i, "full", "ssim"], ssim[i].item(), rtol=1e-9)
        # and the torchmetrics defaults on float32 input (what a user calling it would see)
        ssim32 = structural_similarity_index_measure(p.float(), t.float(), data_range=1.0, reduction="none")
        np.testing.assert_allclose([values[i, "full", "ssim"] for i in range(n)], ssim32.numpy(), atol=1e-5)


def test_identical_images():
    rng = np.random.default_rng(4)
    target = rng.random((2, 8, 8, 3)).astype(np.float32)
    masks = region_masks(*random_indices(rng, 2, 8, 8, 6, 6), 8, 8)
    df = image_metrics(target, target.copy(), masks)
    assert (df[df.metric.isin(["mse", "mae"])].value == 0).all()
    assert (df[df.metric == "psnr"].value == math.inf).all()
    np.testing.assert_allclose(df[df.metric == "ssim"].value, 1.0, rtol=1e-12)


def test_empty_region_is_nan_and_small_images_are_rejected():
    target = np.zeros((1, 6, 6, 1), np.float32)
    masks = region_masks(np.array([[0]]), np.zeros((1, 0), int), 6, 6)
    values = table(image_metrics(target, target, masks))
    assert all(math.isnan(values[0, "query", metric]) for metric in METRICS)
    with pytest.raises(ValueError, match="6x6"):
        image_metrics(np.zeros((1, 5, 8, 1)), np.zeros((1, 5, 8, 1)), {})


# ---- ensemble scores


def crps_by_definition(x, y):
    """E|X - y| - 1/2 E|X - X'| over all K² pairs, by brute force."""
    return np.abs(x - y).mean(0) - 0.5 * np.abs(x[:, None] - x[None, :]).mean((0, 1))


def test_crps_matches_definition_and_reduces_to_absolute_error():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((7, 3, 4)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(crps_ensemble(x, y), crps_by_definition(x, y), rtol=1e-12)
    skill, k = np.abs(x - y).mean(0), len(x)  # fair: the spread over K (K - 1) pairs instead of K²
    fair = skill + (crps_by_definition(x, y) - skill) * k / (k - 1)
    np.testing.assert_allclose(crps_ensemble(x, y, fair=True), fair, rtol=1e-12)
    np.testing.assert_allclose(crps_ensemble(x[:1], y), np.abs(x[0] - y), rtol=1e-12)
    with pytest.raises(ValueError, match="K >= 2"):
        crps_ensemble(x[:1], y, fair=True)


def gaussian_crps(mu, sigma, y):
    """Closed form CRPS of N(mu, sigma²) at y: sigma [z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)]."""
    z = (y - mu) / sigma
    return sigma * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi))


def test_crps_of_a_large_gaussian_ensemble_matches_the_closed_form():
    rng = np.random.default_rng(6)
    sigma, y = 2.0, np.array([-3.0, 0.0, 0.5, 4.0])
    samples = 1.0 + sigma * rng.standard_normal((100_000, len(y)))
    np.testing.assert_allclose(crps_ensemble(samples, y), gaussian_crps(1.0, sigma, y), atol=0.01)


def test_fair_crps_is_unbiased_and_standard_crps_is_biased_by_sigma_over_sqrt_pi_k():
    rng = np.random.default_rng(7)
    k, reps = 2, 400_000
    y = rng.standard_normal(reps)
    samples = rng.standard_normal((k, reps))
    expected = gaussian_crps(0.0, 1.0, y).mean()
    assert abs(crps_ensemble(samples, y, fair=True).mean() - expected) < 0.005
    standard_bias = 1 / (math.sqrt(math.pi) * k)  # 0.282 for K = 2
    assert abs(crps_ensemble(samples, y).mean() - expected - standard_bias) < 0.005


def test_interval_coverage():
    samples = np.arange(101.0)[:, None] * np.ones(4)  # quantiles 0.05, 0.95 at 5 and 95
    target = np.array([4.9, 5.0, 95.0, 95.1])
    np.testing.assert_array_equal(interval_coverage(samples, target, level=0.9), [False, True, True, False])
    rng = np.random.default_rng(8)
    coverage = interval_coverage(rng.standard_normal((500, 20_000)), rng.standard_normal(20_000))
    assert coverage.dtype == bool and coverage.shape == (20_000,)
    assert abs(coverage.mean() - 0.9) < 0.01
    with pytest.raises(ValueError, match="level"):
        interval_coverage(samples, target, level=1.5)
    with pytest.raises(ValueError, match="samples must be"):
        interval_coverage(samples, target[:3])
