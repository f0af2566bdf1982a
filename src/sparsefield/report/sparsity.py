"""The sparsity sweep: one model (one prior, one interpolant) across context ratios.

Groups come from `config.sparsity_groups`: approaches identical but for their mask scheme, on schemes
that differ only in the share of context pixels. Values: each approach's headline PSNR on the missing
pixels (its posterior mean if it has one, else the mean of its K samples), mean over the test images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sparsefield.report.figures import new_figure
from sparsefield.report.tables import _indexed, cell, headline_estimator


def sparsity_values(table: pd.DataFrame, groups: dict[str, dict[float, str]]) -> pd.DataFrame:
    """(context ratio) x (group label) headline missing-pixel PSNR; NaN where an approach has no score."""
    values = _indexed(table)
    columns = {}
    for label, members in groups.items():
        column = {}
        for ratio, name in members.items():
            estimator = headline_estimator(values, name)
            column[float(ratio)] = values.get((name, "psnr", "missing", estimator), np.nan) if estimator else np.nan
        columns[label] = column
    return pd.DataFrame(columns).sort_index()


def sparsity_markdown(frame: pd.DataFrame) -> str:
    if frame.empty:
        return ""
    lines = ["", "# Sparsity sweep", "", "PSNR (dB) on missing pixels of one model at every share of context pixels "
             "(the headline estimator; the same test images at every ratio).", ""]
    lines += ["| context | " + " | ".join(frame.columns) + " |", "|---|" + "---:|" * len(frame.columns)]
    for ratio, row in frame.iterrows():
        lines.append(f"| {100 * ratio:g} % | " + " | ".join(cell(v, 2) for v in row) + " |")
    return "\n".join(lines) + "\n"


def sparsity_figure(frame: pd.DataFrame):
    fig, axes = new_figure(1, 1, (5, 3.5))
    ax = axes[0, 0]
    for label in frame.columns:
        ax.plot(100 * frame.index, frame[label], "o-", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("context pixels (%)")
    ax.set_ylabel("PSNR, missing pixels (dB)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
