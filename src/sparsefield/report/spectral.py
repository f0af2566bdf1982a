"""The multispectral part of the comparison: tables and figures of the leaf-image approaches."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sparsefield.objectives.spectral import HIGH_COVERAGE, LOW_COVERAGE
from sparsefield.report.figures import new_figure
from sparsefield.report.tables import cell
from sparsefield.scoring.spectral import spectral_angle_degrees

INTRO = """
# Multispectral leaves

Each test image is encoded and reconstructed; `leaf` scores the leaf-mask pixels only (the
background excluded), `full` every pixel. SAM: the spectral angle between reconstructed and true
spectra in degrees (lower is better), averaged over pixels; PSNR per band (data range 1), then the
mean over bands; SSIM likewise. The pca rows are the per-pixel linear reference at `latent / pixel`
numbers per pixel: read the learned rows against them."""

HEADLINE = [("sam", "leaf", "leaf SAM °", 2), ("psnr", "leaf", "leaf PSNR", 2), ("ssim", "leaf", "leaf SSIM", 4),
            ("sam", "full", "full SAM °", 2), ("psnr", "full", "full PSNR", 2)]


def spectral_markdown(table: pd.DataFrame, logs: dict[str, pd.DataFrame] | None = None) -> str:
    """Per dataset: a headline table (best leaf SAM first), leaf PSNR per band, and the learning curves.

    Args:
        table: the multispectral approaches' metrics (long format).
        logs: approach -> its train_log.csv; the learned approaches' evaluated steps carry
            test_{sam,psnr}_{leaf,full} (`methods.vae.learning_curve`).
    """
    if table is None or not len(table):
        return ""
    lines = [INTRO]
    for dataset, group in table.groupby("dataset", sort=True):
        values = group.set_index(["approach", "metric", "region"])["value"]
        names = sorted(group.approach.unique(), key=lambda n: (values.get((n, "sam", "leaf"), np.inf), n))
        n_images = int(group[group.metric == "n_images"].value.max())
        lines += ["", f"## {dataset} (test images: {n_images})", ""]
        lines.append("| approach | " + " | ".join(h[2] for h in HEADLINE) + " | latent / pixel | s / image |")
        lines.append("|---|" + "---:|" * (len(HEADLINE) + 2))
        for name in names:
            cells = [cell(values.get((name, metric, region), float("nan")), digits)
                     for metric, region, _, digits in HEADLINE]
            cells += [cell(values.get((name, key, "-"), float("nan")), d) for key, d in
                      (("latent_per_pixel", 2), ("seconds_per_image", 5))]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        bands = [m[5:] for m in dict.fromkeys(group.metric) if m.startswith("psnr_")]
        lines += ["", "Leaf PSNR per band (dB):", "", "| approach | " + " | ".join(bands) + " |",
                  "|---|" + "---:|" * len(bands)]
        for name in names:
            cells = [cell(values.get((name, f"psnr_{b}", "leaf"), float("nan")), 2) for b in bands]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += _learning_lines(values, names, {n: logs[n] for n in names if n in (logs or {})})
    return "\n".join(lines) + "\n"


CURVE = (("sam", "leaf SAM °"), ("psnr", "leaf PSNR"))


def _learning_lines(values: pd.Series, names: list[str], logs: dict[str, pd.DataFrame]) -> list[str]:
    """Leaf SAM and PSNR of each learned approach at every evaluated step, against its own table row and the
    reference (unlearned) rows: the curve is scored on the first `evaluation.images` test images, the table
    on all of them."""
    curves = {name: log.dropna(subset=["test_sam_leaf"]) for name, log in logs.items() if "test_sam_leaf" in log}
    curves = {name: points for name, points in curves.items() if len(points)}
    if not curves:
        return []
    steps = sorted({int(step) for points in curves.values() for step in points.step})
    references = [name for name in names if name not in logs]
    lines = ["", "Learning curves (leaf SAM ° / leaf PSNR dB on the first `evaluation.images` test images; "
             "table: all test images):", "", "| approach | " + " | ".join(f"step {s}" for s in steps) + " | table |",
             "|---|" + "---:|" * (len(steps) + 1)]
    for name, points in curves.items():
        for metric, label in CURVE:
            at = dict(zip(points.step.astype(int), points[f"test_{metric}_leaf"], strict=True))
            cells = [cell(at.get(step, float("nan")), 2) for step in steps]
            cells.append(cell(values.get((name, metric, "leaf"), float("nan")), 2))
            lines.append(f"| {name}, {label} | " + " | ".join(cells) + " |")
    for name in references:
        for metric, label in CURVE:
            cells = [""] * len(steps) + [cell(values.get((name, metric, "leaf"), float("nan")), 2)]
            lines.append(f"| {name}, {label} | " + " | ".join(cells) + " |")
    return lines


def _false_colour(bands, images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(…, H, W, 3) composite R, G, B = NIR, red, green, stretched by the reference's 2nd–98th percentiles."""
    names = list(bands)
    pick = [names.index(b) if b in names else default for b, default in
            (("nir", len(names) - 1), ("red", len(names) // 2), ("green", 0))]
    low = np.percentile(reference[..., pick], 2, axis=tuple(range(reference.ndim - 1)))
    high = np.percentile(reference[..., pick], 98, axis=tuple(range(reference.ndim - 1)))
    return np.clip((images[..., pick] - low) / np.maximum(high - low, 1e-6), 0.0, 1.0)


def band_figure(bands, truth, mask, predictions: dict[str, np.ndarray], title: str):
    """One image: rows truth + approaches; columns every band, the false-colour composite, the SAM map (degrees)."""
    names = list(predictions)
    n_cols = len(bands) + 2
    fig, axes = new_figure(1 + len(names), n_cols, (1.4 * n_cols, 1.4 * (1 + len(names))))
    sam = {name: spectral_angle_degrees(pred, truth) for name, pred in predictions.items()}
    top = max([np.nanmax(v) for v in sam.values()] + [1e-3])
    for r, (name, image) in enumerate([("truth", truth), *predictions.items()]):
        for c, band in enumerate(bands):
            axes[r, c].imshow(image[..., c], cmap="gray", vmin=truth[..., c].min(), vmax=truth[..., c].max())
            if r == 0:
                axes[r, c].set_title(band, fontsize=7)
        axes[r, len(bands)].imshow(_false_colour(bands, image, truth))
        shown = mask if name == "truth" else sam[name]
        last = axes[r, len(bands) + 1].imshow(shown, cmap="gray" if name == "truth" else "magma", vmin=0,
                                              vmax=1 if name == "truth" else top)
        axes[r, 0].set_ylabel(name, fontsize=7)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, len(bands)].set_title("NIR-R-G", fontsize=7)
    axes[0, len(bands) + 1].set_title("mask / SAM °", fontsize=7)
    if names:
        fig.colorbar(last, ax=axes[1:, -1].tolist(), shrink=0.8)
    fig.suptitle(title, fontsize=8)
    return fig


def composite_figure(bands, truth, masks, predictions: dict[str, np.ndarray], title: str):
    """Images as columns; rows: the truth's false colour, then per approach its false colour and SAM map."""
    names = list(predictions)
    n_rows, n_cols = 1 + 2 * len(names), len(truth)
    fig, axes = new_figure(n_rows, n_cols, (1.3 * n_cols, 1.3 * n_rows))
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    sam = {name: spectral_angle_degrees(pred, truth) for name, pred in predictions.items()}
    top = max([np.nanmax(v) for v in sam.values()] + [1e-3])
    for i in range(n_cols):
        axes[0, i].imshow(_false_colour(bands, truth[i], truth))
        for j, name in enumerate(names):
            axes[1 + 2 * j, i].imshow(_false_colour(bands, predictions[name][i], truth))
            axes[2 + 2 * j, i].imshow(sam[name][i], cmap="magma", vmin=0, vmax=top)
    axes[0, 0].set_ylabel("truth", fontsize=7)
    for j, name in enumerate(names):
        axes[1 + 2 * j, 0].set_ylabel(name, fontsize=7)
        axes[2 + 2 * j, 0].set_ylabel("SAM °", fontsize=7)
    fig.suptitle(f"{title}: NIR-R-G composites and SAM maps (0–{top:.1f}°)", fontsize=8)
    return fig


def coverage_figure(coverages: dict[str, np.ndarray]):
    """Histogram of the training masks' leaf coverage per dataset, with the training warning thresholds."""

    fig, axes = new_figure(1, 1, (5, 3.2))
    ax = axes[0, 0]
    for name, values in coverages.items():
        ax.hist(values, bins=40, range=(0, 1), alpha=0.7, label=f"{name} (mean {np.mean(values):.2f})")
    for line in (LOW_COVERAGE, HIGH_COVERAGE):
        ax.axvline(line, color="k", linestyle="--", linewidth=0.8)
    ax.set_xlabel("leaf coverage of a training image")
    ax.set_ylabel("images")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
