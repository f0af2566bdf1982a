"""Compare every approach: one CSV, a Markdown table a person reads, and figures.

Approaches are grouped by (dataset, scheme): only approaches that saw the same
images and the same fixed masks share a table or a figure.
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
from sparsefield.io import atomic_path  # noqa: E402
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
            images=(0, 1, 2, 3, 4, 5)) -> None:  # fmt: skip
    """The stage entry point.

    Args:
        metrics, samples, data, masks: per approach (aligned lists) its metrics.csv,
            samples.h5, data HDF5 and masks HDF5.
        out_csv, out_md: comparison.csv and comparison.md.
        fig_dir: folder for `{dataset}_{scheme}.png`.
        train_logs, sweeps: train_log.csv and nfe_sweep.csv of each learned approach.
        out_sweep: every sweep in one CSV (empty without learned approaches).
        images: test images (positions in the test split) shown in the figures.
    """
    table = pd.concat([pd.read_csv(path) for path in metrics], ignore_index=True)
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
    if train_logs:
        logs = {Path(path).parent.name: pd.read_csv(path) for path in train_logs}
        where = table.drop_duplicates("approach").set_index("approach")[["dataset", "scheme"]]
        lines = best_classical(table)
        classical = {name: lines[tuple(where.loc[name])] for name in logs if tuple(where.loc[name]) in lines}
        learning_curves(logs, classical, Path(fig_dir) / "learning_curves.png")
    sweep = pd.concat([pd.read_csv(path) for path in sweeps], ignore_index=True) if sweeps else pd.DataFrame()
    if len(sweep):
        nfe_figure(sweep, Path(fig_dir) / "nfe_sweep.png")
    if out_sweep is not None:
        with atomic_path(out_sweep) as tmp:
            sweep.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(out_md) as tmp:
        tmp.write_text(markdown_tables(table))
