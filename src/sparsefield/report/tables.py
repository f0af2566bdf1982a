"""The Markdown tables of comparison.md, one headline and one detailed table per (dataset, scheme).

Only approaches that saw the same test images with the same fixed masks share a table. The
headline table judges every approach on its missing pixels by each estimator it has, with the
paired-bootstrap difference to the best classical approach (`sparsefield.report.bootstrap`); the
detailed table gives the mean-of-K estimate on every other region, and the costs.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from sparsefield.report.bootstrap import Differences
from sparsefield.report.scores import HEADLINE_ESTIMATORS

COVERAGE_TARGET = 0.9


class Column(NamedTuple):
    metric: str
    region: str
    estimator: str
    title: str
    digits: int
    best: str | None = None  # "max", "min", "target" (nearest COVERAGE_TARGET) or None: not marked


HEADLINE = [
    Column("psnr", "missing", "posterior_mean", "PSNR (posterior mean)", 2, "max"),
    Column("psnr", "missing", "mean", "PSNR (mean of K)", 2, "max"),
    Column("psnr", "missing", "sample", "PSNR (one sample)", 2, "max"),
    Column("crps", "missing", "samples", "CRPS", 4, "min"),
    Column("coverage90", "missing", "samples", "90 % coverage", 3, "target"),
    Column("nfe", "-", "-", "NFE", 0),
]
DETAIL = [
    Column("psnr", "query", "mean", "PSNR query", 2),
    Column("psnr", "remaining", "mean", "PSNR remaining", 2),
    Column("psnr", "full", "mean", "PSNR full", 2),
    Column("ssim", "missing", "mean", "SSIM missing", 4),
    Column("ssim", "full", "mean", "SSIM full", 4),
    Column("mae", "missing", "mean", "MAE missing", 4),
    Column("psnr", "query_alone", "mean", "PSNR query (sampled alone)", 2),
    Column("psnr", "full_2x", "mean", "PSNR 2× (own)", 2),
    Column("psnr", "full_2x", "bicubic", "PSNR 2× (bicubic)", 2),
    Column("seconds_per_image", "-", "-", "s / image", 4),
    Column("params", "-", "-", "params", 0),
    Column("train_seconds", "-", "-", "train s", 0),
]

BY_REGION = [
    Column(metric, region, estimator, f"{region} ({label})", 2)
    for estimator, label in (("posterior_mean", "posterior mean"), ("mean", "mean of K"))
    for metric, region in (("psnr", "query"), ("psnr", "remaining"), ("psnr", "full"))
]

INTRO = """# sparsefield comparison

One section per (dataset, scheme): only approaches that saw the same test images with the same fixed
masks share a table. Metrics on [0, 1] images, computed per test image and then averaged (a PSNR in
dB is the mean of per-image PSNRs).

**Headline table** (all on `missing` pixels: every pixel the approach did not observe), rows sorted
by the headline PSNR (posterior mean where the approach has one, else mean of K):

- *PSNR (posterior mean)*: stochastic learned approaches only — the model's own one-NFE estimate of
  E[x | observed] (x̂0 at the sampler's first, noisiest step), the estimator of least expected
  squared error.
- *PSNR (mean of K)*: the mean of the K samples; a deterministic approach's prediction (K = 1).
  For samples of the posterior, E‖mean_K − x‖² = mmse + tr Cov / K, so it lies below the posterior
  mean by the samples' spread over K: not a point estimator a generative model should be judged by
  alone.
- *PSNR (one sample)*: the first sample alone (K > 1): a plausible image, not an average
  (expected error mmse + tr Cov).
- *CRPS*: E|X − y| − ½ E|X − X′| per pixel and channel over the K samples (lower is better);
  for a deterministic row (K = 1) it is the MAE.
- *90 % coverage*: the fraction of true values inside the samples' central 90 % interval (K > 1;
  calibrated: 0.90).
- *NFE*: network evaluations per sample (0: a classical approach).
- *Δ PSNR vs …*: per test image, the row's headline PSNR minus the mean-of-K PSNR of the best
  classical approach (NFE 0, highest mean-of-K PSNR), averaged over the images both scored; in
  brackets the 95 % paired-bootstrap percentile interval (images resampled with replacement). An
  interval containing 0 means these test images do not resolve the difference.

**Detailed table**: the mean of K on the other regions: `query` = the scheme's held-out query
pixels; `remaining` = neither context nor query; `full` = the whole image. SSIM is torchmetrics'
(Gaussian 11×11, σ = 1.5). *query (sampled alone)*: samples drawn at the query pixels alone.
2×: PSNR on the grid of twice the resolution against the true 2× test images — an approach's own
prediction there (learned approaches), or bicubic upsampling of its H×W prediction.

**By region** (learned approaches; the query-only against full-image loss ablation): PSNR of the posterior
mean and of the mean of K on the query pixels, the remaining ones and the full image. The context region is
not a column: every approach keeps the observed pixels as observed (PSNR ∞ there)."""


def cell(value, digits: int) -> str:
    """A number as a table cell: `–` for missing or NaN, `∞` for +inf."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.{digits}f}"


def _rank(value: float, digits: int, best: str) -> float:
    """Higher is better, on the value as shown (so equal cells tie)."""
    shown = value if math.isinf(value) else round(value, digits)
    if best == "max":
        return shown
    if best == "min":
        return -shown
    if best == "target":
        return -round(abs(shown - COVERAGE_TARGET), digits)
    raise ValueError(f"unknown best-of-column rule {best!r} (max, min, target)")


def mark_best(values, digits: int, best: str | None) -> list[str]:
    """Cells of one column, the best value(s) in bold (ties as shown are all bold; NaN never)."""
    values = [float("nan") if v is None else float(v) for v in values]
    cells = [cell(v, digits) for v in values]
    candidates = [i for i, v in enumerate(values) if not math.isnan(v)]
    if best is None or not candidates:
        return cells
    top = max(_rank(values[i], digits, best) for i in candidates)
    return [f"**{c}**" if i in candidates and _rank(values[i], digits, best) == top else c
            for i, c in enumerate(cells)]


def _indexed(group: pd.DataFrame) -> pd.Series:
    return group.set_index(["approach", "metric", "region", "estimator"])["value"]


def headline_estimator(values: pd.Series, name: str) -> str | None:
    """The approach's headline estimator in a table indexed like `_indexed`: posterior_mean, else mean."""
    for estimator in HEADLINE_ESTIMATORS:
        if (name, "psnr", "missing", estimator) in values.index:
            return estimator
    return None


def approach_order(group: pd.DataFrame) -> list[str]:
    """Approaches of one (dataset, scheme), best headline PSNR on missing pixels first (ties by name)."""
    values = _indexed(group)

    def headline(name: str) -> float:
        estimator = headline_estimator(values, name)
        value = values.get((name, "psnr", "missing", estimator), np.nan) if estimator else np.nan
        return -np.inf if np.isnan(value) else value

    return sorted(group.approach.unique(), key=lambda name: (-headline(name), name))


def _present(values: pd.Series, columns: list[Column]) -> list[Column]:
    keys = set(values.droplevel(0).index)
    return [col for col in columns if (col.metric, col.region, col.estimator) in keys]


def _difference_cell(name: str, differences: Differences) -> str:
    if name == differences.reference or name not in differences.intervals:
        return "–"
    d = differences.intervals[name]
    if d.n == 0:
        return "–"
    n = "" if d.n == differences.n_reference else f" (n = {d.n})"
    return f"{d.mean:+.2f} [{d.low:+.2f}, {d.high:+.2f}]{n}"


def headline_table(group: pd.DataFrame, differences: Differences | None = None) -> list[str]:
    """Markdown lines of the headline table of one (dataset, scheme) and its caption."""
    values, names = _indexed(group), approach_order(group)
    columns = _present(values, HEADLINE)
    titles = [col.title for col in columns]
    if differences is not None:
        titles.append(f"Δ PSNR vs {differences.reference} [95 % CI]")
    rows = [[name] for name in names]
    for col in columns:
        cells = mark_best([values.get((name, *col[:3]), np.nan) for name in names], col.digits, col.best)
        for row, text in zip(rows, cells, strict=True):
            row.append(text)
    if differences is not None:
        for row in rows:
            row.append(_difference_cell(row[0], differences))
    lines = ["| approach | " + " | ".join(titles) + " |", "|---|" + "---:|" * len(titles)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    caption = ("Missing pixels. Bold: the best of each column (highest PSNR, lowest CRPS, coverage nearest "
               f"{COVERAGE_TARGET:.2f}); NFE is not marked.")
    if differences is not None:
        caption += (f" Δ: the row's headline PSNR minus {differences.reference}'s, per test image, averaged over the"
                    f" images both scored ({differences.n_reference}, else noted as n); in brackets the 95 % paired-"
                    f"bootstrap percentile interval (B = {differences.n_boot} resamples of the images, seed"
                    f" {differences.seed}).")
    return [*lines, "", f"*{caption}*"]


def detail_table(group: pd.DataFrame) -> list[str]:
    """Markdown lines of the detailed table (mean of K, other regions, costs), rows in headline order."""
    values = _indexed(group)
    columns = _present(values, DETAIL)
    lines = ["| approach | " + " | ".join(col.title for col in columns) + " |", "|---|" + "---:|" * len(columns)]
    for name in approach_order(group):
        cells = [cell(values.get((name, *col[:3]), np.nan), col.digits) for col in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def region_table(group: pd.DataFrame) -> list[str]:
    """Markdown lines of the by-region table of the learned approaches (NFE > 0), or [] when there are none."""
    values = _indexed(group)
    learned = [name for name in approach_order(group) if values.get((name, "nfe", "-", "-"), 0) > 0]
    columns = _present(values, BY_REGION)
    if not learned or not columns:
        return []
    lines = ["| approach | " + " | ".join(col.title for col in columns) + " |", "|---|" + "---:|" * len(columns)]
    for name in learned:
        cells = [cell(values.get((name, *col[:3]), np.nan), col.digits) for col in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown_tables(table: pd.DataFrame, differences: dict[tuple[str, str], Differences] | None = None) -> str:
    """comparison.md's intro and, per (dataset, scheme), its headline and detailed tables.

    Args:
        table: every approach's metrics.csv rows (COLUMNS).
        differences: (dataset, scheme) -> per-image PSNR differences to its best classical approach.
    """
    differences = differences or {}
    lines = [INTRO]
    for (dataset, scheme), group in table.groupby(["dataset", "scheme"], sort=True):
        n_images = group.loc[group.metric == "n_images", "value"].max()
        count = f" ({int(n_images)} test images)" if not np.isnan(n_images) else ""
        lines += ["", f"## {dataset} · {scheme}{count}", "", "### Headline", ""]
        lines += headline_table(group, differences.get((dataset, scheme)))
        lines += ["", "### Details (mean of K)", ""]
        lines += detail_table(group)
        if regions := region_table(group):
            lines += ["", "### By region (learned approaches)", "", *regions]
    return "\n".join(lines) + "\n"


def best_classical(table: pd.DataFrame) -> dict[tuple[str, str], tuple[str, float]]:
    """(dataset, scheme) -> (approach, PSNR): the highest mean-of-K PSNR on missing pixels with NFE 0."""
    psnr = table[(table.metric == "psnr") & (table.region == "missing") & (table.estimator == "mean")]
    nfe = table[table.metric == "nfe"].set_index("approach")["value"]
    classical = psnr[psnr.approach.map(nfe).fillna(0) == 0].sort_values(["value", "approach"], ascending=[False, True])
    best = classical.drop_duplicates(["dataset", "scheme"])
    return {(row.dataset, row.scheme): (row.approach, float(row.value)) for row in best.itertuples()}


def classical_by_approach(table: pd.DataFrame, names) -> dict[str, float]:
    """approach -> the best classical PSNR on its (dataset, scheme), for the approaches in `names` that have one."""
    lines = best_classical(table)
    where = table.drop_duplicates("approach").set_index("approach")[["dataset", "scheme"]]
    found = {name: tuple(where.loc[name]) for name in names if name in where.index}
    return {name: lines[key][1] for name, key in found.items() if key in lines}
