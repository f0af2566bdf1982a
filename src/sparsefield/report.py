"""Compare every approach: one CSV, a Markdown table a person reads, and figures.

Approaches are grouped by (dataset, scheme): only approaches that saw the same
images and the same fixed masks share a table or a figure. Low-light approaches
(a raw set's short exposures, `sparsefield.lowlight`) get their own table per raw
set — ratio, space (linear / srgb), PSNR, SSIM — and figure.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from sparsefield.data.images import read_images  # noqa: E402
from sparsefield.data.masks import dense_masks, read_masks  # noqa: E402
from sparsefield.evaluate import COLUMNS  # noqa: E402
from sparsefield.io import atomic_path  # noqa: E402
from sparsefield.lowlight import SPACES, paired_test_tiles, to_srgb  # noqa: E402
from sparsefield.samples import read_samples  # noqa: E402

# (metric, region, estimator, column title, digits) of the Markdown tables
TABLE = [
    ("psnr", "missing", "mean", "PSNR missing", 2),
    ("psnr", "query", "mean", "PSNR query", 2),
    ("psnr", "remaining", "mean", "PSNR remaining", 2),
    ("psnr", "full", "mean", "PSNR full", 2),
    ("ssim", "missing", "mean", "SSIM missing", 4),
    ("ssim", "full", "mean", "SSIM full", 4),
    ("mae", "missing", "mean", "MAE missing", 4),
    ("psnr", "missing", "sample", "PSNR missing (1 sample)", 2),
    ("psnr", "query_alone", "mean", "PSNR query (sampled alone)", 2),
    ("psnr", "full_2x", "mean", "PSNR 2× (own)", 2),
    ("psnr", "full_2x", "bicubic", "PSNR 2× (bicubic)", 2),
    ("crps", "missing", "samples", "CRPS missing", 4),
    ("coverage90", "missing", "samples", "90% coverage", 3),
    ("seconds_per_image", "-", "-", "s / image", 4),
    ("nfe", "-", "-", "NFE", 0),
    ("params", "-", "-", "params", 0),
    ("train_seconds", "-", "-", "train s", 0),
]


def _cell(value: float, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}"


def markdown_tables(table: pd.DataFrame) -> str:
    """One Markdown table per (dataset, scheme), approaches sorted by PSNR on missing pixels."""
    lines = [
        "# sparsefield comparison",
        "",
        "Metrics on [0, 1] images, computed per test image and then averaged (PSNR in dB is the mean",
        "of per-image PSNRs). Regions: `missing` = every pixel the approach did not observe",
        "(query ∪ remaining); `query` = the scheme's held-out query pixels; `remaining` = neither",
        "context nor query; `full` = the whole image. Estimator: the mean of the K samples",
        "(a deterministic approach's prediction). SSIM is torchmetrics' (Gaussian 11×11, σ = 1.5).",
        "2×: PSNR on the grid of twice the resolution against the true 2× test images — an approach's",
        "own prediction there (learned fields), or bicubic upsampling of its H×W prediction.",
    ]
    for (dataset, scheme), group in table.groupby(["dataset", "scheme"], sort=True):
        values = group.set_index(["approach", "metric", "region", "estimator"])["value"]
        present = [col for col in TABLE if (col[0], col[1], col[2]) in values.droplevel(0).index]
        n_images = group.loc[group.metric == "n_images", "value"].max()
        lines += ["", f"## {dataset} · {scheme} ({int(n_images)} test images)", ""]
        lines.append("| approach | " + " | ".join(col[3] for col in present) + " |")
        lines.append("|---|" + "---:|" * len(present))
        headline = {name: values.get((name, "psnr", "missing", "mean"), -np.inf) for name in group.approach.unique()}
        for name in sorted(headline, key=lambda name: -headline[name]):
            cells = [_cell(values.get((name, *col[:3]), float("nan")), col[4]) for col in present]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# (metric, column title, digits) of the low-light tables
LOWLIGHT_TABLE = [("psnr", "PSNR", 2), ("ssim", "SSIM", 4), ("mae", "MAE", 4)]


def lowlight_markdown(table: pd.DataFrame) -> str:
    """One Markdown table per raw set: rows by ratio, then space, then approach (best PSNR first)."""
    lines = [
        "",
        "# Low light",
        "",
        "Each test tile of a short exposure is restored and scored against the long exposure's tile at",
        "the same position (itself a capture: low noise, not noise-free); metrics per tile, then averaged",
        "over the tiles of a ratio (exposure time long / short). `space`: `linear` = linear RGB in [0, 1],",
        "the values the tiles store; `srgb` = after the fixed sRGB transfer curve applied to both. Never set",
        "these beside SID's published figures (sRGB of whole images through LibRaw, other images).",
    ]
    for rawset, group in table.groupby("dataset", sort=True):
        values = group.set_index(["approach", "scheme", "metric", "region"])["value"]
        schemes = sorted(group.scheme.unique(), key=lambda scheme: float(scheme[1:]))
        counts = ", ".join(f"{int(group[(group.scheme == s) & (group.metric == 'n_images')].value.max())} at {s}"
                           for s in schemes)  # fmt: skip
        lines += ["", f"## {rawset} (test tiles: {counts})", ""]
        lines.append("| ratio | space | approach | " + " | ".join(col[1] for col in LOWLIGHT_TABLE) + " | s / tile |")
        lines.append("|---|---|---|" + "---:|" * (len(LOWLIGHT_TABLE) + 1))
        for scheme in schemes:
            for space in SPACES:
                names = sorted(
                    group.approach.unique(), key=lambda name: -values.get((name, scheme, "psnr", space), -np.inf)
                )
                for name in names:
                    cells = [_cell(values.get((name, scheme, metric, space), float("nan")), digits)
                             for metric, _, digits in LOWLIGHT_TABLE]  # fmt: skip
                    cells.append(_cell(values.get((name, scheme, "seconds_per_image", "-"), float("nan")), 5))
                    lines.append(f"| ×{scheme[1:]} | {space} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def lowlight_figure(metadata, results: dict, path, *, per_ratio: int = 2) -> None:
    """sRGB grid: per ratio, the first `per_ratio` test pairs as each approach's restoration and the
    long exposure (`amplify` is the short exposure brightened, nothing else).

    Args:
        metadata: the raw set's metadata.json.
        results: approach name -> its Samples (linear RGB, `paired_test_tiles` order).
    """
    pairs = paired_test_tiles(metadata)
    ratios = np.array([record["ratio"] for record in pairs.records])
    shown = [i for ratio in np.unique(ratios) for i in np.flatnonzero(ratios == ratio)[:per_ratio]]
    names = sorted(results)
    n_cols = 1 + len(names)
    fig, axes = plt.subplots(len(shown), n_cols, figsize=(1.6 * n_cols, 1.6 * len(shown)), squeeze=False)
    for row, i in enumerate(shown):
        clean = pairs[i][1].permute(1, 2, 0).double().numpy()
        for col, image in enumerate([*(results[name].mean[i] for name in names), (clean + 1) / 2]):
            axes[row, col].imshow(to_srgb(image))
            axes[row, col].set_axis_off()
        axes[row, 0].text(-0.06, 0.5, f"x{ratios[i]:g}", rotation=90, ha="right", va="center", fontsize=7,
                          transform=axes[row, 0].transAxes)  # fmt: skip
    for col, label in enumerate([*names, "long exposure"]):
        axes[0, col].set_title(label, fontsize=7)
    fig.suptitle(f"{Path(metadata).parent.name}: test tiles after the sRGB curve", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def figure(truth, context_mask, predictions: dict[str, np.ndarray], path: str | os.PathLike, title: str) -> None:
    """Grid: per image, a row of context / truth / predictions and a row of |error|.

    Args:
        truth: (B, H, W, C) in [0, 1].
        context_mask: (B, H, W) bool, observed pixels.
        predictions: approach name → (B, H, W, C) in [0, 1].
    """
    names = list(predictions)
    n_rows, n_cols = 2 * len(truth), 2 + len(names)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.3 * n_cols, 1.3 * n_rows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for i in range(len(truth)):
        shown = np.where(context_mask[i][..., None], truth[i], 0.5)  # unobserved pixels grey
        axes[2 * i, 0].imshow(shown)
        axes[2 * i, 1].imshow(truth[i])
        for j, name in enumerate(names):
            axes[2 * i, 2 + j].imshow(np.clip(predictions[name][i], 0, 1))
            error = np.abs(predictions[name][i] - truth[i]).mean(-1)
            axes[2 * i + 1, 2 + j].imshow(error, cmap="magma", vmin=0, vmax=0.3)
    for j, label in enumerate(["context", "truth", *names]):
        axes[0, j].set_title(label, fontsize=7)
    axes[1, 1].text(0.5, 0.5, "|error|\n(0–0.3)", ha="center", va="center", fontsize=7, transform=axes[1, 1].transAxes)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def learning_curves(logs: dict[str, pd.DataFrame], classical: dict[str, float], path) -> None:
    """Test PSNR on missing pixels against training step, one line per learned approach.

    Args:
        logs: approach → its train_log.csv (rows with test_psnr_missing are plotted).
        classical: approach → PSNR of the best classical baseline on its dataset and scheme (dotted line).
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, log) in enumerate(sorted(logs.items())):
        points = log.dropna(subset=["test_psnr_missing"])
        color = f"C{i}"
        ax.plot(points.step, points.test_psnr_missing, "o-", color=color, label=name)
        ax.axhline(points.classical_psnr.iloc[0], color=color, linestyle="--", linewidth=0.8)
        if name in classical:
            ax.axhline(classical[name], color=color, linestyle=":", linewidth=0.8)
    ax.set_xlabel("training step")
    ax.set_ylabel("test PSNR, missing pixels (dB)")
    ax.set_title("learning curves (dashed: normconv start on the same images; dotted: best classical)", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def learning_markdown(logs: dict[str, pd.DataFrame], classical: dict[str, float]) -> str:
    """The learning curves as a table: test PSNR on missing pixels at every evaluated step.

    Each approach's row also gives normconv (the estimate a residual model starts from) on the same
    test images, the gain of the last evaluation over it, and the first step at or above the best
    classical baseline's table PSNR (`–`: never crossed). The curve is scored on the first
    `evaluation.images` test images and the table on `evaluation.n_images`: the curve's own
    reference is the normconv column, on exactly its images.
    """
    curves = {name: log.dropna(subset=["test_psnr_missing"]) for name, log in sorted(logs.items())}
    steps = sorted({int(step) for points in curves.values() for step in points.step})
    lines = ["", "## Learning curves (mean-of-K test PSNR, missing pixels, dB)", ""]
    lines.append("| approach | " + " | ".join(f"step {step}" for step in steps)
                 + " | normconv, same images | last − normconv | best classical | crosses at |")  # fmt: skip
    lines.append("|---|" + "---:|" * (len(steps) + 4))
    for name, points in curves.items():
        at = dict(zip(points.step.astype(int), points.test_psnr_missing, strict=True))
        start = float(points.classical_psnr.iloc[0])
        line = classical.get(name, float("nan"))
        crossed = points[points.test_psnr_missing >= line].step
        cells = [_cell(at.get(step, float("nan")), 2) for step in steps]
        cells += [_cell(start, 2), f"{points.test_psnr_missing.iloc[-1] - start:+.2f}", _cell(line, 2),
                  str(int(crossed.iloc[0])) if len(crossed) else "–"]  # fmt: skip
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def nfe_figure(sweep: pd.DataFrame, path) -> None:
    """Mean-of-K PSNR on missing pixels against NFE, one line per (approach, sampler)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for (name, sampler), rows in sweep.groupby(["approach", "sampler"]):
        ax.plot(rows.nfe, rows.psnr_missing, "o-", label=f"{name} · {sampler}")
    ax.set_xscale("log")
    ax.set_xlabel("NFE (network evaluations per sample)")
    ax.set_ylabel("PSNR, missing pixels, mean of K (dB)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def best_classical(table: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(dataset, scheme) → highest mean PSNR on missing pixels among approaches without NFE > 0."""
    psnr = table[(table.metric == "psnr") & (table.region == "missing") & (table.estimator == "mean")]
    nfe = table[table.metric == "nfe"].set_index("approach")["value"]
    classical = psnr[psnr.approach.map(nfe).fillna(0) == 0]
    return classical.groupby(["dataset", "scheme"])["value"].max().to_dict()


def compare(metrics, samples, data, masks, out_csv, out_md, fig_dir, *, train_logs=(), sweeps=(), out_sweep=None,
            images=(0, 1, 2, 3, 4, 5), lowlight=(), lowlight_samples=(), lowlight_tiles=()) -> None:  # fmt: skip
    """The stage entry point.

    Args:
        metrics, samples, data, masks: per approach (aligned lists) its metrics.csv,
            samples.h5, data HDF5 and masks HDF5.
        out_csv, out_md: comparison.csv and comparison.md.
        fig_dir: folder for `{dataset}_{scheme}.png`.
        train_logs, sweeps: train_log.csv and nfe_sweep.csv of each learned approach.
        out_sweep: every sweep in one CSV (empty without learned approaches).
        images: test images (positions in the test split) shown in the figures.
        lowlight, lowlight_samples, lowlight_tiles: per low-light approach (aligned lists) its
            metrics.csv, samples.h5 and its raw set's metadata.json (a table and `lowlight_{rawset}.png`).
    """
    table = (
        pd.concat([pd.read_csv(path) for path in metrics], ignore_index=True)
        if metrics
        else pd.DataFrame(columns=COLUMNS)
    )
    low = pd.concat([pd.read_csv(path) for path in lowlight], ignore_index=True) if lowlight else None
    groups: dict[tuple[str, str], tuple[str, str, dict]] = {}  # (dataset, scheme) → data, masks, results
    for samples_path, data_path, masks_path in zip(samples, data, masks, strict=True):
        result = read_samples(samples_path)
        key = (result.attrs["dataset"], result.attrs["scheme"])
        groups.setdefault(key, (data_path, masks_path, {}))[2][result.attrs["approach"]] = result
    Path(fig_dir).mkdir(parents=True, exist_ok=True)
    for (dataset, scheme), (data_path, masks_path, results) in sorted(groups.items()):
        common = set.intersection(*(set(result.index.tolist()) for result in results.values()))
        shown = [i for i in images if i in common]
        if not shown:
            continue
        truth = read_images(data_path, "test")[shown].astype(np.float32) / 255.0
        context, _ = read_masks(masks_path, "test")
        observed = dense_masks(torch.from_numpy(context[shown].astype(np.int64)), *truth.shape[1:3])[:, 0].numpy()
        predictions = {}
        for name, result in sorted(results.items()):
            rows = [int(np.flatnonzero(result.index == i)[0]) for i in shown]
            predictions[name] = result.mean[rows]
        figure(truth, observed, predictions, Path(fig_dir) / f"{dataset}_{scheme}.png", f"{dataset} · {scheme}")
    learning = ""
    if train_logs:
        logs = {Path(path).parent.name: pd.read_csv(path) for path in train_logs}
        where = table.drop_duplicates("approach").set_index("approach")[["dataset", "scheme"]]
        lines = best_classical(table)
        classical = {name: lines[tuple(where.loc[name])] for name in logs if tuple(where.loc[name]) in lines}
        learning_curves(logs, classical, Path(fig_dir) / "learning_curves.png")
        learning = learning_markdown(logs, classical)
    sweep = pd.concat([pd.read_csv(path) for path in sweeps], ignore_index=True) if sweeps else pd.DataFrame()
    if len(sweep):
        nfe_figure(sweep, Path(fig_dir) / "nfe_sweep.png")
    if out_sweep is not None:
        with atomic_path(out_sweep) as tmp:
            sweep.to_csv(tmp, index=False, float_format="%.6g")
    by_rawset: dict[str, tuple[str, dict]] = {}  # raw set -> metadata.json, {approach: Samples}
    for samples_path, tiles_path in zip(lowlight_samples, lowlight_tiles, strict=True):
        result = read_samples(samples_path)
        by_rawset.setdefault(result.attrs["dataset"], (tiles_path, {}))[1][result.attrs["approach"]] = result
    for rawset, (tiles_path, results) in sorted(by_rawset.items()):
        lowlight_figure(tiles_path, results, Path(fig_dir) / f"lowlight_{rawset}.png")
    with atomic_path(out_csv) as tmp:
        pd.concat([table, low], ignore_index=True).to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(out_md) as tmp:
        tmp.write_text(markdown_tables(table) + learning + (lowlight_markdown(low) if low is not None else ""))
