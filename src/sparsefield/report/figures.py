"""Figures of the comparison, and the one helper every figure is made and saved with.

`new_figure` is the only place pyplot is touched (Agg backend: no display needed); `save_figure`
writes a figure atomically as PNG at 110 dpi and closes it. The plotting functions return the
figure; the compare stage saves it where it belongs.
"""

from __future__ import annotations

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sparsefield.io import atomic_path  # noqa: E402

DPI = 110


def new_figure(rows: int, cols: int, size: tuple[float, float]):
    """(figure, axes) with axes always a (rows, cols) array."""
    return plt.subplots(rows, cols, figsize=size, squeeze=False)


def save_figure(fig, path: str | os.PathLike) -> None:
    """Write `fig` to `path` as PNG (dpi 110, atomically) and close it, also when writing fails."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=DPI, format="png")
    finally:
        plt.close(fig)


def shown_images(indices, wanted) -> list[int]:
    """The test images of `wanted` (positions in the test split) that every index array in `indices` holds."""
    common = set.intersection(*(set(np.asarray(index).tolist()) for index in indices)) if indices else set()
    return [int(i) for i in wanted if i in common]


def _span(indices) -> str:
    """Test images `indices` in words: "0..63" when they run without a gap."""
    indices = sorted(indices)
    if not indices:
        return "none"
    if indices[-1] - indices[0] == len(indices) - 1:
        return f"{indices[0]}..{indices[-1]}"
    return f"{len(indices)} images from {indices[0]} to {indices[-1]}"


def figure_images(scored: dict[str, object], wanted, where: str, *, strict: bool = True) -> list[int]:
    """`shown_images` of the approaches `scored` ({approach: its test item positions}) for the figure of `where`,
    checked when `strict` (figures.images given): an index of `wanted` that is left out goes to the log (stderr),
    and none left at all is an error naming figures.images and the indices that every approach scored.

    Raises:
        ValueError: one line, e.g. "config key figures.images: none of [70] is a test image every approach of
            builtin · cq_10_10 scored (0..63); give indices in 0..63".
    """
    wanted = [int(i) for i in wanted]
    shown = shown_images(list(scored.values()), wanted)
    if not wanted or not strict:
        return shown
    sets = {name: set(np.asarray(index).tolist()) for name, index in scored.items()}
    common = set.intersection(*sets.values()) if sets else set()
    if not shown:
        raise ValueError(f"config key figures.images: none of {wanted} is a test image every approach of {where} "
                         f"scored ({_span(common)}); give indices in {_span(common)}")
    for i in wanted:
        if i not in common:
            missing = sorted(name for name, indices in sets.items() if i not in indices)
            print(f"warning: figures.images: test image {i} is not shown for {where}: not scored by "
                  f"{', '.join(missing)} (every approach scored {_span(common)})", file=sys.stderr)
    return shown


def reconstruction_figure(truth, observed, predictions: dict[str, np.ndarray], title: str):
    """Grid: per image, a row of context / truth / predictions and a row of |error|.

    Args:
        truth: (B, H, W, C) in [0, 1].
        observed: (B, H, W) bool, the context pixels.
        predictions: approach name -> (B, H, W, C) in [0, 1], in column order.
    """
    names = list(predictions)
    n_rows, n_cols = 2 * len(truth), 2 + len(names)
    fig, axes = new_figure(n_rows, n_cols, (1.3 * n_cols, 1.3 * n_rows))
    for ax in axes.ravel():
        ax.set_axis_off()
    for i in range(len(truth)):
        axes[2 * i, 0].imshow(np.where(observed[i][..., None], truth[i], 0.5))  # unobserved pixels grey
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
    return fig


def nfe_figure(sweep: pd.DataFrame):
    """PSNR against NFE, one line per (approach, sampler) of nfe_sweep.csv rows: a panel for the image approaches
    (mean-of-K PSNR on missing pixels, `psnr_missing`) and one for the low-light ones (sRGB PSNR, `psnr_srgb`)."""
    panels = [(column, label) for column, label in (("psnr_missing", "PSNR, missing pixels, mean of K (dB)"),
                                                    ("psnr_srgb", "PSNR, sRGB, low-light test tiles (dB)"))
              if column in sweep.columns and sweep[column].notna().any()]
    fig, axes = new_figure(1, len(panels), (6 * len(panels), 4))
    for ax, (column, label) in zip(axes[0], panels, strict=True):
        rows_of = sweep[sweep[column].notna()].sort_values("nfe")
        for (name, sampler), rows in rows_of.groupby(["approach", "sampler"]):
            ax.plot(rows.nfe, rows[column], "o-", label=f"{name} · {sampler}")
        ax.set_xscale("log")
        ax.set_xlabel("NFE (network evaluations per sample)")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
