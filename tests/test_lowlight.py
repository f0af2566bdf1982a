"""Low-light baselines: the sRGB curve, amplify / amplify_denoise, scoring, the table."""

from __future__ import annotations

import inspect
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from sparsefield.baselines import lowlight as ll
from sparsefield.data.raw.tiles import paired_test_tiles
from sparsefield.methods import lowlight as family
from sparsefield.report import lowlight_markdown
from sparsefield.samples import read_samples
from sparsefield.scoring import COLUMNS
from sparsefield.scoring.tiles import score_restorations
from sparsefield.stages.evaluate import evaluate
from sparsefield.stages.reconstruct import reconstruct


def restore(metadata, out, kind, **params):
    reconstruct({"metadata": metadata}, out, approach=kind, kind=kind, settings=params, dataset="tiny",
                scheme="lowlight")


def test_srgb_curve_known_values_and_inverse():
    x = np.array([0.0, 0.0031308, 0.18, 0.5, 1.0])
    assert np.allclose(ll.to_srgb(x), [0.0, 0.04045, 0.46135, 0.73536, 1.0], atol=5e-5)
    grid = np.linspace(0, 1, 1001)
    assert np.allclose(ll.from_srgb(ll.to_srgb(grid)), grid, atol=1e-12)
    assert np.allclose(ll.to_srgb(np.array([-0.5, 2.0])), [0.0, 1.0])  # clipped first


def test_amplify_is_the_ratio_times_the_short_exposure_clipped():
    short = np.array([[[0.001, 0.002, 0.004]]])
    assert np.allclose(ll.amplify(short, 250), [[[0.25, 0.5, 1.0]]])
    assert ll.amplify(short, 100).max() <= 1.0


def test_family_params_are_the_denoisers_defaults():
    """methods.lowlight.Params names every keyword of baselines.lowlight.denoise, with the same defaults."""
    defaults = {k: p.default for k, p in inspect.signature(ll.denoise).parameters.items() if p.default is not p.empty}
    assert asdict(family.Params()) == defaults


@pytest.mark.parametrize("denoiser", ["nl_means", "wavelet"])
@pytest.mark.parametrize("space", ["linear", "srgb"])
def test_denoise_lowers_the_error_of_a_noisy_image(denoiser, space):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64] / 64.0
    clean = np.stack([0.2 + 0.5 * x, 0.3 + 0.3 * y, np.where(x > 0.5, 0.6, 0.2)], axis=-1)
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1)
    out = ll.denoise(noisy, denoiser=denoiser, space=space)
    assert out.shape == clean.shape and 0 <= out.min() and out.max() <= 1
    assert np.mean((out - clean) ** 2) < 0.5 * np.mean((noisy - clean) ** 2)
    with pytest.raises(ValueError, match="denoiser must be in"):
        ll.denoise(noisy, denoiser="bm3d")


def test_score_known_answers():
    truth = np.full((2, 16, 16, 3), 0.25)
    ratios = np.array([100.0, 300.0])
    table = score_restorations(truth + 0.1, truth, ratios).set_index(["scheme", "metric", "region"])["value"]
    assert table[("x100", "psnr", "linear")] == pytest.approx(20.0)  # error 0.1 everywhere
    expected = -10 * np.log10((ll.to_srgb(np.array(0.35)) - ll.to_srgb(np.array(0.25))) ** 2)
    assert table[("x300", "psnr", "srgb")] == pytest.approx(expected)
    assert score_restorations(truth, truth, ratios).query("metric == 'ssim'").value.tolist() == pytest.approx([1.0] * 4)


def test_stages_end_to_end(tiny_tiles, tmp_path):
    metadata, _ = tiny_tiles
    tables = {}
    for kind, params in (("amplify", {}), ("amplify_denoise", {"denoiser": "nl_means", "space": "linear"})):
        restore(metadata, tmp_path / f"{kind}.h5", kind, **params)
        evaluate({"metadata": metadata}, tmp_path / f"{kind}.h5", tmp_path / f"{kind}.csv", kind=kind)
        tables[kind] = pd.read_csv(tmp_path / f"{kind}.csv")
    samples = read_samples(tmp_path / "amplify.h5")
    assert samples.samples.shape == (16, 1, 32, 32, 3) and samples.attrs["dataset"] == "tiny"
    pairs = paired_test_tiles(metadata)
    noisy, _, ratio = pairs[5]
    assert np.allclose(samples.mean[5], np.clip((noisy.permute(1, 2, 0).numpy() + 1) / 2 * float(ratio), 0, 1))
    table = tables["amplify"]
    assert list(table.columns) == COLUMNS  # the long format of every approach
    assert set(table.scheme) == {"x100", "x300"} and set(table.region) == {"linear", "srgb", "-"}
    n = table[table.metric == "n_images"].set_index("scheme")["value"]
    assert n.to_dict() == {"x100": 8, "x300": 8}
    psnr = {k: t[t.metric == "psnr"].set_index(["scheme", "region"])["value"] for k, t in tables.items()}
    assert (psnr["amplify"] > 10).all() and (psnr["amplify"] < 50).all()
    assert psnr["amplify"][("x100", "linear")] > psnr["amplify"][("x300", "linear")]  # less light, more noise
    markdown = lowlight_markdown(pd.concat(tables.values()))
    assert "## tiny (test tiles: 8 at x100, 8 at x300)" in markdown
    assert "| ×300 | srgb | amplify |" in markdown and "| ×100 | linear | amplify_denoise |" in markdown


def test_samples_must_match_the_test_pairs(tiny_tiles, tmp_path):
    metadata, _ = tiny_tiles
    restore(metadata, tmp_path / "a.h5", "amplify")
    (tmp_path / "copy").mkdir()
    for path in metadata.parent.iterdir():
        (tmp_path / "copy" / path.name).write_bytes(path.read_bytes())
    other = tmp_path / "copy" / "metadata.json"  # the first 4 test tiles (one short capture) moved to another split
    other.write_text(metadata.read_text().replace('"split": "test"', '"split": "tost"', 4))
    with pytest.raises(ValueError, match=r"a\.h5: samples index test pair 15, the raw set has 12 test pairs"):
        evaluate({"metadata": other}, tmp_path / "a.h5", tmp_path / "a.csv", kind="amplify")


def test_denoise_workers_share_the_tiles_without_changing_them(tiny_tiles):
    """SID's ~10^5 test tiles at ~0.3 s of non-local means each: `threads` processes restore them, identically."""
    metadata, _ = tiny_tiles
    pairs = paired_test_tiles(metadata)
    params = family.Params(denoiser="nl_means", space="linear")
    one = family.reconstruct("amplify_denoise", params, pairs, threads=1)
    two = family.reconstruct("amplify_denoise", params, pairs, threads=2)
    assert one.samples.shape == (len(pairs), 1, 32, 32, 3) and one.samples.dtype == np.float32
    assert np.array_equal(one.samples, two.samples)
    brighter = family.reconstruct("amplify", family.Params(), pairs, threads=2).samples
    assert not np.array_equal(brighter, one.samples)  # the denoiser ran in the workers
