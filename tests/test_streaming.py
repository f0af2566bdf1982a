"""A job's memory follows its chunk, not the test split: reconstruct writes samples.h5 a chunk at a time, evaluate
reads it so, and a seeded sampler gives every item the same sample whatever chunk it comes in."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from sparsefield.data.raw import tiles as tiles_module
from sparsefield.methods import edm_posterior as edm
from sparsefield.methods import edm_prior, lowlight
from sparsefield.params import bind
from sparsefield.samples import read_samples
from sparsefield.stages.evaluate import evaluate
from sparsefield.stages.reconstruct import reconstruct

NAMES = dict(dataset="tiny", scheme="lowlight")


def test_reconstruct_hands_the_method_chunks_and_writes_every_row(tiny_tiles, tmp_path, monkeypatch):
    """With chunks of 5 pairs the method never sees more than 5, and samples.h5 and metrics.csv are those of one
    chunk of everything."""
    metadata, _ = tiny_tiles
    inputs = {"metadata": metadata}
    seen = []
    method = lowlight.reconstruct
    monkeypatch.setattr(lowlight, "reconstruct", lambda kind, params, data, **kw: seen.append(len(data)) or method(
        kind, params, data, **kw))
    for chunk, name in ((5, "chunked"), (10_000, "whole")):
        monkeypatch.setattr(tiles_module, "CHUNK", chunk)
        reconstruct(inputs, tmp_path / f"{name}.h5", approach=name, kind="amplify", settings={}, **NAMES)
        evaluate(inputs, tmp_path / f"{name}.h5", tmp_path / f"{name}.csv", kind="amplify")
    n = len(tiles_module.paired_test_tiles(metadata))
    assert seen[:-1] == [5] * (n // 5) + [n % 5] and seen[-1] == n
    chunked, whole = read_samples(tmp_path / "chunked.h5"), read_samples(tmp_path / "whole.h5")
    np.testing.assert_array_equal(chunked.samples, whole.samples)
    np.testing.assert_array_equal(chunked.index, np.arange(n))
    tables = [pd.read_csv(tmp_path / f"{name}.csv") for name in ("chunked", "whole")]
    timed = tables[0].metric == "seconds_per_image"
    chunked, whole = (table[~timed].drop(columns="approach") for table in tables)
    pd.testing.assert_frame_equal(chunked, whole)


def test_n_tiles_spreads_the_scored_pairs_over_every_capture(tiny_tiles, tmp_path):
    """evaluation.n_tiles: n pairs spread evenly over the sorted pairs (every capture and ratio), the same for every
    approach; an approach's own sample.images takes a share of those."""
    metadata, _ = tiny_tiles
    pairs = tiles_module.paired_test_tiles(metadata)
    spread = pairs.subset(6)
    assert list(spread.index) == list(np.arange(6) * len(pairs) // 6)
    assert {r["capture"] for r in spread.records} == {r["capture"] for r in pairs.records}  # every short capture
    assert pairs.subset(None) is pairs and pairs.subset(10_000) is pairs
    reconstruct({"metadata": metadata}, tmp_path / "a.h5", approach="a", kind="amplify", settings={}, n_images=6,
                **NAMES)
    np.testing.assert_array_equal(read_samples(tmp_path / "a.h5").index, spread.index)
    evaluate({"metadata": metadata}, tmp_path / "a.h5", tmp_path / "a.csv", kind="amplify")
    table = pd.read_csv(tmp_path / "a.csv")
    assert table[table.metric == "n_images"]["value"].sum() == 6


@pytest.fixture
def prior():
    torch.manual_seed(0)
    return edm_prior.build(edm_prior.Backbone(ch=8, ch_mult=(1, 2)), sigma_data=0.1, mean=[-0.8, -0.8, -0.8]).eval()


def test_posterior_samples_follow_the_item_not_its_chunk(tiny_tiles, tmp_path, prior):
    """Noise is seeded by a pair's position in the split: the pairs of a chunk get the samples they get in the whole."""
    from sparsefield.stages.calibrate import write_calibration

    metadata, _ = tiny_tiles
    write_calibration(metadata, tmp_path / "noise.json")
    calibration = json.loads((tmp_path / "noise.json").read_text())
    pairs = tiles_module.paired_test_tiles(metadata)
    params = bind(edm.Params, {"sample": {"sampler": "diffpir", "steps": 2, "n_samples": 2, "sigma_max": 1.0}}, "p")
    with torch.no_grad():
        whole, _, _ = edm.restore_tiles("edm_lowlight", params, pairs.take(slice(0, 6)), prior, calibration, "cpu")
        part, _, _ = edm.restore_tiles("edm_lowlight", params, pairs.take(slice(3, 6)), prior, calibration, "cpu")
    np.testing.assert_allclose(part, whole[3:6], atol=1e-6)
    assert not np.allclose(whole[3], whole[4])


def test_sparse_posterior_samples_follow_the_image_not_its_chunk(prior):
    from test_edm_family import _images

    data = _images(n=4)
    params = bind(edm.Params, {"sample": {"sampler": "dps", "steps": 2, "n_samples": 2, "sigma_max": 2.0}}, "p")
    whole, _, _ = edm.fill_images("edm_sparse", params, data, prior, "cpu")
    part, _, _ = edm.fill_images("edm_sparse", params, data.take(slice(2, 4)), prior, "cpu")
    np.testing.assert_allclose(part, whole[2:4], atol=1e-6)


def test_a_scene_calibrates_on_a_bounded_number_of_pixels(tiny_tiles, monkeypatch):
    """A SID scene holds ~12 pairs of 11.5 Mpx: the fit takes every k-th pixel past MAX_PIXELS, tile by tile."""
    from sparsefield.data.raw import calibration

    metadata, _ = tiny_tiles
    scene = tiles_module.TileDataset(metadata, split="train", data_type="noisy").records[0]["scene"]
    m, y, r = calibration._scene_pixels(metadata, "train", scene)
    monkeypatch.setattr(calibration, "MAX_PIXELS", len(r) // 3)
    m3, y3, r3 = calibration._scene_pixels(metadata, "train", scene)
    step = -(-len(r) // (len(r) // 3))  # 3 or 4
    assert len(r3) <= len(r) // 3 and step in (3, 4)
    np.testing.assert_array_equal(m3, m.reshape(-1, 32 * 32, 3)[:, ::step].reshape(-1, 3))  # every k-th of a tile
