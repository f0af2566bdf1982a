import h5py
import numpy as np
import pandas as pd
import pytest

from sparsefield.metrics import crps_ensemble, interval_coverage, psnr_per_image
from sparsefield.report import (
    differences_to,
    headline_estimate,
    headline_table,
    learning_markdown,
    lowlight_figure,
    lowlight_markdown,
    lowlight_shown,
    mark_best,
    markdown_tables,
    paired_bootstrap,
    save_figure,
)
from sparsefield.report.tables import approach_order, best_classical
from sparsefield.samples import write_samples
from sparsefield.scoring import COLUMNS
from sparsefield.stages.compare import compare

PNG = b"\x89PNG\r\n\x1a\n"


def log(psnrs, start):
    """A train_log with the learning curve every 10 steps (rows in between have no evaluation)."""
    rows = [dict(step=step, loss=0.1) for step in range(1, 10 * len(psnrs) + 1)]
    for i, value in enumerate(psnrs):
        rows[10 * (i + 1) - 1].update(test_psnr_missing=value, classical_psnr=start)
    return pd.DataFrame(rows)


def test_learning_table_reports_gain_and_first_crossing():
    logs = {"b_never": log([20.0, 20.5, 21.0], 22.0), "a_crosses": log([21.0, 23.2, 23.1], 22.0)}
    table = learning_markdown(logs, {"a_crosses": 23.0, "b_never": 23.0})
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert lines[0] == ("| approach | step 10 | step 20 | step 30 | classical start, same images | last − start"
                        " | best classical | crosses at |")
    assert lines[1] == "| a_crosses | 21.00 | 23.20 | 23.10 | 22.00 | +1.10 | 23.00 | 20 |"
    assert lines[2] == "| b_never | 20.00 | 20.50 | 21.00 | 22.00 | -1.00 | 23.00 | – |"


def test_learning_table_of_the_posterior_mean_when_logged():
    with_mean = log([21.0, 22.0], 21.5)
    with_mean.loc[with_mean.test_psnr_missing.notna(), "test_psnr_posterior_mean"] = [21.8, 22.4]
    table = learning_markdown({"a": with_mean, "b": log([20.0, 20.5], 21.5)}, {})
    assert "## Learning curves (posterior-mean test PSNR" in table
    section = table.split("posterior-mean test PSNR")[1]
    assert "| a | 21.80 | 22.40 | 21.50 | +0.90 |" in section and "| b |" not in section


def test_learning_table_without_a_classical_line():
    table = learning_markdown({"a": log([21.0], 22.0)}, {})
    assert "| a | 21.00 | 22.00 | -1.00 | – | – |" in table


def test_learning_table_skips_a_log_without_evaluations():
    table = learning_markdown({"a": log([21.0], 22.0), "b": pd.DataFrame({"step": [1], "loss": [0.1]})}, {})
    assert "| a |" in table and "| b |" not in table


def test_spectral_learning_table_reads_the_vae_curve_against_its_table_row_and_the_reference():
    from sparsefield.report.spectral import spectral_markdown

    rows = [dict(dataset="leaves", approach=a, metric=m, region=r, value=v) for a, m, r, v in [
        ("vae", "sam", "leaf", 2.1), ("vae", "psnr", "leaf", 40.2), ("vae", "n_images", "-", 256),
        ("pca", "sam", "leaf", 2.6), ("pca", "psnr", "leaf", 41.8), ("pca", "n_images", "-", 256)]]
    vae = pd.DataFrame([dict(step=s, loss=0.1) for s in range(1, 5)])
    vae.loc[[1, 3], "test_sam_leaf"], vae.loc[[1, 3], "test_psnr_leaf"] = [3.0, 2.2], [37.5, 40.0]
    text = spectral_markdown(pd.DataFrame(rows), {"vae": vae, "other": log([21.0], 22.0)})
    section = text.split("Learning curves")[1]
    assert "| approach | step 2 | step 4 | table |" in section
    assert "| vae, leaf SAM ° | 3.00 | 2.20 | 2.10 |" in section
    assert "| vae, leaf PSNR | 37.50 | 40.00 | 40.20 |" in section
    assert "| pca, leaf SAM ° |  |  | 2.60 |" in section and "other" not in section
    assert "Learning curves" not in spectral_markdown(pd.DataFrame(rows), {})


# ---- paired bootstrap


def psnrs(n, seed=0):
    return np.random.default_rng(seed).normal(28.0, 2.0, n)


def test_bootstrap_of_identical_values_is_zero():
    a = psnrs(64)
    d = paired_bootstrap(a, a.copy(), n_boot=2000)
    assert (d.mean, d.low, d.high, d.n) == (0.0, 0.0, 0.0, 64)


def test_bootstrap_of_a_constant_shift_is_that_shift():
    a = psnrs(64)
    d = paired_bootstrap(a + 0.25, a, n_boot=2000)
    assert d.mean == pytest.approx(0.25, abs=1e-9)
    assert d.low == pytest.approx(0.25, abs=1e-9) and d.high == pytest.approx(0.25, abs=1e-9)


def test_bootstrap_interval_contains_the_mean_and_narrows_with_more_images():
    widths = []
    for n in (16, 256, 4096):
        base = psnrs(n, seed=1)
        other = base + 0.1 + np.random.default_rng(2).normal(0.0, 0.5, n)
        d = paired_bootstrap(other, base, n_boot=2000)
        assert d.low <= d.mean <= d.high
        widths.append(d.high - d.low)
    assert widths[0] > widths[1] > widths[2] > 0
    assert widths[0] / widths[2] == pytest.approx(16, rel=0.3)  # ~ 1 / sqrt(n)


def test_bootstrap_is_deterministic_for_a_seed():
    a, b = psnrs(50, seed=3), psnrs(50, seed=4)
    assert paired_bootstrap(a, b, seed=7) == paired_bootstrap(a, b, seed=7)
    assert paired_bootstrap(a, b, seed=7).low != paired_bootstrap(a, b, seed=8).low
    assert paired_bootstrap(a, b, n_boot=10_000).n == 50


def test_bootstrap_leaves_out_non_finite_pairs():
    a, b = np.array([30.0, np.inf, 31.0, np.nan]), np.array([29.0, 30.0, 30.0, 30.0])
    d = paired_bootstrap(a, b, n_boot=100)
    assert d.n == 2 and d.mean == pytest.approx(1.0)
    assert np.isnan(paired_bootstrap(a[[1, 3]], b[[1, 3]]).mean)


def test_differences_use_the_images_both_scored():
    ref = pd.Series([20.0, 21.0, 22.0, 23.0], index=[0, 1, 2, 3])
    other = pd.Series([30.0, 23.0, 24.0], index=[5, 2, 1])  # image 5 only here
    result = differences_to({"ref": ref, "other": other}, "ref", n_boot=500)
    assert result.reference == "ref" and set(result.intervals) == {"other"}
    assert result.intervals["other"].n == 2 and result.intervals["other"].mean == pytest.approx(2.0)
    assert result.n_reference == 4


# ---- tables


def test_mark_best_bolds_the_best_of_each_rule():
    assert mark_best([30.1, 31.256, 31.2549], 2, "max") == ["30.10", "**31.26**", "31.25"]
    assert mark_best([31.26, 31.2601, np.nan], 2, "max") == ["**31.26**", "**31.26**", "–"]
    assert mark_best([0.05, 0.04, 0.07], 4, "min") == ["0.0500", "**0.0400**", "0.0700"]
    assert mark_best([0.85, 0.93, 0.89, np.nan], 3, "target") == ["0.850", "0.930", "**0.890**", "–"]
    assert mark_best([0.0, 40.0], 0, None) == ["0", "40"]
    assert mark_best([np.nan, np.nan], 2, "max") == ["–", "–"]
    assert mark_best([np.inf, 30.0], 2, "max") == ["**∞**", "30.00"]


def rows(approach, values, dataset="toy", scheme="s"):
    """metrics.csv rows of one approach from {(metric, region, estimator): value}."""
    return pd.DataFrame([dict(approach=approach, dataset=dataset, scheme=scheme, metric=m, region=r, estimator=e,
                              value=v) for (m, r, e), v in values.items()], columns=COLUMNS)


COSTS = {("n_images", "-", "-"): 8, ("seconds_per_image", "-", "-"): 0.01}
CLASSICAL = {("psnr", "missing", "mean"): 25.0, ("crps", "missing", "samples"): 0.05, ("nfe", "-", "-"): 0, **COSTS}
LEARNED = {("psnr", "missing", "posterior_mean"): 26.0, ("psnr", "missing", "mean"): 24.5,
           ("psnr", "missing", "sample"): 22.0, ("crps", "missing", "samples"): 0.04,
           ("coverage90", "missing", "samples"): 0.8, ("nfe", "-", "-"): 10, **COSTS}


def test_headline_table_ranks_by_posterior_mean_when_present():
    table = pd.concat([rows("classical", CLASSICAL), rows("learned", LEARNED)], ignore_index=True)
    assert approach_order(table) == ["learned", "classical"]  # 26.0 (posterior mean) > 25.0 though 24.5 < 25.0
    lines = headline_table(table)
    assert lines[0] == ("| approach | PSNR (posterior mean) | PSNR (mean of K) | PSNR (one sample) | CRPS"
                        " | 90 % coverage | NFE |")
    assert lines[2] == "| learned | **26.00** | 24.50 | **22.00** | **0.0400** | **0.800** | 10 |"
    assert lines[3] == "| classical | – | **25.00** | – | 0.0500 | – | 0 |"
    assert "NFE is not marked" in lines[-1]


def test_headline_estimate_prefers_the_posterior_mean():
    class Fake:
        mean, extras = np.zeros(1), {}

    fake = Fake()
    assert headline_estimate(fake)[0] == "mean"
    fake.extras = {"posterior_mean": np.ones(1)}
    assert headline_estimate(fake)[0] == "posterior_mean" and headline_estimate(fake)[1][0] == 1


def test_best_classical_ignores_sampled_approaches():
    table = pd.concat([rows("a", CLASSICAL), rows("b", {**CLASSICAL, ("psnr", "missing", "mean"): 26.0}),
                       rows("learned", {**LEARNED, ("psnr", "missing", "mean"): 30.0})])
    assert best_classical(table) == {("toy", "s"): ("b", 26.0)}


def test_markdown_without_classical_rows_has_no_difference_column():
    text = markdown_tables(rows("learned", LEARNED))
    assert "## toy · s (8 test images)" in text and "Δ PSNR vs" not in text.split("## toy")[1]


def test_by_region_table_lists_learned_approaches_only():
    regions = {("psnr", region, estimator): value for estimator, base in (("posterior_mean", 26.0), ("mean", 24.0))
               for region, value in (("query", base), ("remaining", base - 1), ("full", base + 2))}
    table = pd.concat([rows("classical", {**CLASSICAL, ("psnr", "query", "mean"): 25.0}),
                       rows("learned", {**LEARNED, **regions})])
    section = markdown_tables(table).split("### By region (learned approaches)")[1]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    assert lines[0] == ("| approach | query (posterior mean) | remaining (posterior mean) | full (posterior mean) "
                        "| query (mean of K) | remaining (mean of K) | full (mean of K) |")
    assert lines[1:] == ["| learned | 26.00 | 25.00 | 28.00 | 24.00 | 23.00 | 26.00 |"]
    assert "By region" not in markdown_tables(rows("classical", CLASSICAL)).split("## toy")[1]


def test_lowlight_table_and_figure(tmp_path):
    def one(name, psnr, scheme):
        return rows(name, {("psnr", "linear", "-"): psnr, ("psnr", "srgb", "-"): psnr - 1, ("n_images", "-", "-"): 3},
                    "tiny", scheme)

    low = pd.concat([one(name, psnr, scheme) for name, psnr in (("amplify", 20.0), ("denoise", 25.0))
                     for scheme in ("x300", "x100")])
    text = lowlight_markdown(low)
    lines = [line for line in text.splitlines() if line.startswith("| ×")]
    assert lines[0].startswith("| ×100 | linear | denoise | 25.00") and lines[-1].startswith("| ×300 | srgb | amplify")
    shown = lowlight_shown([300, 100, 100, 300, 100], per_ratio=2)
    assert shown == [1, 2, 0, 3]
    clean = np.random.default_rng(0).uniform(size=(4, 8, 8, 3))
    save_figure(lowlight_figure("tiny", [100, 100, 300, 300], clean, {"amplify": clean}), tmp_path / "low.png")
    assert (tmp_path / "low.png").read_bytes()[:8] == PNG


# ---- the whole stage on two tiny fake approaches


def write_split(path, images, context, query):
    with h5py.File(path, "w") as f:
        f.create_dataset("train/images", data=images)
        f.create_dataset("test/images", data=images)
        f["test"].create_dataset("context", data=context)
        f["test"].create_dataset("query", data=query)  # the same file serves as images and masks file


def fake_approach(root, name, truth, missing, *, k, nfe, noise, posterior=None, seed=0):
    """results/{name}/samples.h5 of noisy copies of `truth`, and its metrics.csv computed from them."""
    rng = np.random.default_rng(seed)
    samples = np.clip(truth[:, None] + rng.normal(0, noise, (len(truth), k, *truth.shape[1:])), 0, 1)
    estimates = {"mean": samples.mean(1)}
    if posterior is not None:
        estimates["posterior_mean"] = np.clip(truth + rng.normal(0, posterior, truth.shape), 0, 1)
    if k > 1:
        estimates["sample"] = samples[:, 0]
    folder = root / name
    folder.mkdir()
    extras = {key: value for key, value in estimates.items() if key == "posterior_mean"}
    write_samples(folder / "samples.h5", samples, np.arange(len(truth)), extras, approach=name, kind="fake",
                  dataset="toy", scheme="s", nfe=nfe, seconds_per_image=0.01)
    values = {("psnr", "missing", key): psnr_per_image(pred, truth, missing).mean() for key, pred in estimates.items()}
    members, inside = np.moveaxis(samples, 1, 0), np.repeat(missing[..., None], 3, axis=-1)
    values[("crps", "missing", "samples")] = crps_ensemble(members, truth)[inside].mean()
    if k > 1:
        values[("coverage90", "missing", "samples")] = interval_coverage(members, truth)[inside].mean()
    values.update({("psnr", "full", "mean"): psnr_per_image(samples.mean(1), truth).mean(), ("nfe", "-", "-"): nfe,
                   ("n_images", "-", "-"): len(truth), ("n_samples", "-", "-"): k})
    rows(name, values).to_csv(folder / "metrics.csv", index=False)
    return folder


def test_compare_writes_tables_with_intervals_and_figures(tmp_path):
    rng = np.random.default_rng(0)
    n, size = 8, 8
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    order = np.argsort(rng.uniform(size=(n, size * size)), axis=1)
    write_split(tmp_path / "data.h5", images, order[:, :16], order[:, 16:24])
    truth, observed = images / 255.0, np.zeros((n, size * size), bool)
    np.put_along_axis(observed, order[:, :16], True, axis=1)
    missing = ~observed.reshape(n, size, size)
    nearest = fake_approach(tmp_path, "nearest", truth, missing, k=1, nfe=0, noise=0.1)
    flow = fake_approach(tmp_path, "flow", truth, missing, k=2, nfe=10, noise=0.15, posterior=0.06, seed=1)
    log([21.0, 22.0], 20.0).to_csv(flow / "train_log.csv", index=False)
    pd.DataFrame(dict(sampler="euler", steps=[2, 4], nfe=[2, 4], seconds_per_image=0.1, psnr_missing=[19.0, 20.5],
                      approach="flow", kind="fake")).to_csv(flow / "nfe_sweep.csv", index=False)
    out = tmp_path / "out"
    approaches = [nearest, flow]
    data = str(tmp_path / "data.h5")
    runs = {"images": {a.name: {"metrics": a / "metrics.csv", "samples": a / "samples.h5",
                                "files": {"data": data, "masks": data}} for a in approaches}}
    compare(runs, out / "comparison.csv", out / "comparison.md", out / "figures", train_logs=[flow / "train_log.csv"],
            sweeps=[flow / "nfe_sweep.csv"], out_sweep=out / "nfe_sweep.csv", images=(0, 2, 99), n_boot=1000)

    csv = pd.read_csv(out / "comparison.csv")
    assert len(csv) == sum(len(pd.read_csv(a / "metrics.csv")) for a in approaches)
    assert list(csv.columns) == COLUMNS
    assert len(pd.read_csv(out / "nfe_sweep.csv")) == 2
    for figure in ("toy_s.png", "learning_curves.png", "nfe_sweep.png"):
        assert (out / "figures" / figure).read_bytes()[:8] == PNG

    text = (out / "comparison.md").read_text(encoding="utf-8")
    (tmp_path.parent / "example_comparison.md").write_text(text, encoding="utf-8")  # for a person to read
    headline_part = text.split("### Headline")[1].split("### Details")[0]
    table = [line.split(" | ") for line in headline_part.splitlines() if line.startswith("| ")]
    assert table[0][-1] == "Δ PSNR vs nearest [95 % CI] |"
    assert [row[0] for row in table[1:]] == ["| flow", "| nearest"]  # posterior mean ranks flow first
    assert table[2][1] == "–" and table[2][-1] == "– |"  # no posterior mean; the reference row
    values = csv.set_index(["approach", "metric", "region", "estimator"])["value"]
    headline = values[("flow", "psnr", "missing", "posterior_mean")] - values[("nearest", "psnr", "missing", "mean")]
    assert table[1][-1].startswith(f"{headline:+.2f} [")  # recomputed per-image PSNRs agree with metrics.csv
    low, high = (float(x) for x in table[1][-1].split("[")[1].split("]")[0].split(", "))
    assert low < headline < high
    assert "## Learning curves" in text and "| flow | 21.00 | 22.00 |" in text
