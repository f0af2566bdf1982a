"""scoring.masks.score: the long metrics table for deterministic and K-sample approaches."""

import numpy as np
import pandas as pd
import pytest

from sparsefield.data.images.masks import generate_masks
from sparsefield.data.images.sets import MaskedImages
from sparsefield.samples import Samples
from sparsefield.scoring.masks import score as score_masks


def make(samples, index, **extras):
    mean = samples.mean(axis=1)
    return Samples(samples, mean, samples.std(axis=1), index, {"seconds_per_image": 0.5, "nfe": 10}, extras)


def score(samples, images, context, query):
    return score_masks([samples], MaskedImages(images, context, query))


def rows_of(samples, rows):
    """The chunk of `samples` at `rows` (as `samples.iter_samples` reads it)."""
    extras = {name: value[rows] for name, value in samples.extras.items()}
    return Samples(samples.samples[rows], samples.mean[rows], samples.std[rows], samples.index[rows], samples.attrs,
                   extras)


def test_scores_read_in_chunks_are_the_scores_of_all_rows(problem):
    """evaluate reads samples.h5 a chunk at a time: any chunking gives the table of all rows at once."""
    images, context, query = problem
    rng = np.random.default_rng(3)
    index = np.arange(2, 19)
    samples = rng.random((len(index), 3, 16, 16, 3)).astype(np.float32)
    whole = make(samples, index, posterior_mean=samples[:, 0] * 0.5)
    data = MaskedImages(images, context, query)
    expected = score_masks([whole], data)
    chunked = score_masks([rows_of(whole, slice(a, a + 5)) for a in range(0, len(index), 5)], data)
    assert list(chunked.columns) == list(expected.columns) and len(chunked) == len(expected)
    pd.testing.assert_frame_equal(chunked, expected, rtol=1e-12)


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 16, 16, 3), dtype=np.uint8)
    context, query = generate_masks(
        seed=1, split="test", index=np.arange(20), height=16, width=16, n_context=40, n_query=40
    )
    return images, context, query


def test_deterministic_known_answer(problem):
    images, context, query = problem
    index = np.arange(5, 15)
    truth = images[index].astype(np.float32) / 255
    pred = np.clip(truth + 0.1, 0, 1)
    unobserved = np.ones((len(index), 256), dtype=bool)
    np.put_along_axis(unobserved, context[index].astype(np.int64), False, axis=1)
    pred.reshape(len(index), 256, 3)[~unobserved] = truth.reshape(len(index), 256, 3)[~unobserved]  # context exact
    table = score(make(pred[:, None], index), images, context, query).set_index(["metric", "region", "estimator"])
    assert set(table.index.get_level_values("estimator")) == {"mean", "samples", "-"}  # K = 1: no sample row
    assert ("coverage90", "missing", "samples") not in table.index  # coverage needs K > 1
    for region in ("missing", "full"):  # a deterministic prediction's CRPS is its MAE
        crps, mae = table.loc[("crps", region, "samples"), "value"], table.loc[("mae", region, "mean"), "value"]
        assert crps == pytest.approx(mae, rel=1e-6)
    squared = ((pred - truth).reshape(len(index), 256, 3) ** 2).mean(axis=2)
    missing_mse = np.array([squared[row][unobserved[row]].mean() for row in range(len(index))])
    expected_psnr = np.mean(10 * np.log10(1 / np.array(missing_mse)))  # per image, then averaged
    assert table.loc[("psnr", "missing", "mean"), "value"] == pytest.approx(expected_psnr, rel=1e-6)
    assert table.loc[("psnr", "context", "mean"), "value"] == np.inf
    assert table.loc[("n_images", "-", "-"), "value"] == 10
    assert table.loc[("nfe", "-", "-"), "value"] == 10


def test_samples_add_single_sample_crps_and_coverage(problem):
    images, context, query = problem
    index = np.arange(20)
    truth = images.astype(np.float32) / 255
    rng = np.random.default_rng(1)
    # a calibrated Gaussian ensemble around the truth: 90% intervals cover ~90%
    samples = truth[:, None] + 0.05 * rng.standard_normal((20, 64, 16, 16, 3)).astype(np.float32)
    centre = truth + 0.05 * rng.standard_normal(truth.shape).astype(np.float32)
    samples = samples - truth[:, None] + centre[:, None]
    table = score(make(samples, index), images, context, query).set_index(["metric", "region", "estimator"])
    assert {"mean", "sample", "samples"} <= set(table.index.get_level_values("estimator"))
    assert table.loc[("coverage90", "missing", "samples"), "value"] == pytest.approx(0.9, abs=0.03)
    # averaging K samples beats one sample
    assert table.loc[("psnr", "missing", "mean"), "value"] > table.loc[("psnr", "missing", "sample"), "value"] + 2
    # CRPS of N(mu, s^2) at y, averaged over y ~ N(mu, s^2): s / sqrt(pi)
    assert table.loc[("crps", "full", "samples"), "value"] == pytest.approx(0.05 / np.sqrt(np.pi), rel=0.05)


def test_posterior_mean_is_its_own_estimator(problem):
    images, context, query = problem
    index = np.arange(6)
    truth = images[index].astype(np.float32) / 255
    rng = np.random.default_rng(2)
    samples = np.clip(truth[:, None] + 0.1 * rng.standard_normal((6, 2, 16, 16, 3)), 0, 1).astype(np.float32)
    table = score(make(samples, index, posterior_mean=truth.copy()), images, context, query)
    table = table.set_index(["metric", "region", "estimator"])["value"]
    assert table[("psnr", "missing", "posterior_mean")] == np.inf  # the exact answer, scored on its own
    assert np.isfinite(table[("psnr", "missing", "mean")]) and np.isfinite(table[("psnr", "missing", "sample")])
