"""The priors part of the comparison: what each unconditional prior learned, before any posterior use.

Per prior (results/priors/{prior}/): its validation denoising PSNR/SSIM at fixed σ at the end of
training (train_log.csv's last evaluated row; σ in x units, PSNR/SSIM with data range 1 on the
[0, 1] values), its training seconds, and a figure of unconditional draws beside real validation
images (samples.npz). Raw priors model linear RGB: both rows are shown after the sRGB curve.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sparsefield.baselines.lowlight import to_srgb
from sparsefield.report.figures import new_figure
from sparsefield.report.tables import cell

INTRO = ("Denoising of the validation images at fixed σ (x units; PSNR/SSIM on [0, 1] values) by each prior's "
         "EMA weights at the end of training: what the posterior approaches start from.")


def _columns(log: pd.DataFrame, metric: str) -> list[str]:
    return sorted((c for c in log.columns if c.startswith(f"val_{metric}_")), key=lambda c: float(c.split("_")[-1]))


def priors_markdown(logs: dict[str, pd.DataFrame]) -> str:
    """A Markdown table: per prior, the last validation row's PSNR and SSIM at every σ, steps and seconds."""
    if not logs:
        return ""
    lines = ["", "# Priors", "", INTRO, ""]
    for name, log in sorted(logs.items()):
        evaluated = log.dropna(subset=_columns(log, "psnr")[:1])
        if not len(evaluated):
            continue
        last = evaluated.iloc[-1]
        sigmas = [c.split("_")[-1] for c in _columns(log, "psnr")]
        lines += [f"## {name}", "", "| σ | " + " | ".join(sigmas) + " |", "|---|" + "---:|" * len(sigmas)]
        lines.append("| PSNR (dB) | " + " | ".join(cell(last[f"val_psnr_{s}"], 2) for s in sigmas) + " |")
        lines.append("| SSIM | " + " | ".join(cell(last[f"val_ssim_{s}"], 4) for s in sigmas) + " |")
        lines += ["", f"{int(last.step)} steps, {cell(float(log.seconds.max()), 1)} s of training.", ""]
    return "\n".join(lines) + "\n"


def prior_figure(name: str, samples: np.ndarray, real: np.ndarray, linear: bool):
    """Two rows: unconditional draws of the prior, then real validation images, (n, H, W, C) in [0, 1]."""
    n = len(samples)
    fig, axes = new_figure(2, n, (1.2 * n, 2.7))
    for row, images in enumerate((samples, real)):
        for col in range(n):
            axes[row, col].imshow(to_srgb(images[col]) if linear else np.clip(images[col], 0, 1))
            axes[row, col].set_axis_off()
    axes[0, 0].set_title("prior samples", fontsize=7, loc="left")
    axes[1, 0].set_title("real", fontsize=7, loc="left")
    shown = " after the sRGB curve" if linear else ""
    fig.suptitle(f"{name}: unconditional draws (Heun, 35 NFE){shown}", fontsize=8)
    fig.tight_layout()
    return fig
