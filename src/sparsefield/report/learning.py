"""Learning curves of the learned approaches: test PSNR on missing pixels against training step.

Input: each approach's train_log.csv, whose evaluated steps carry `test_psnr_missing` (mean-of-K
PSNR of the learning curve's sampler on the first `evaluation.images` test images) and
`classical_psnr` (the classical estimate a residual model starts from — normconv, or the approach's
prior — on exactly those images); a family that has a one-NFE posterior mean also logs
`test_psnr_posterior_mean`.
"""

from __future__ import annotations

import pandas as pd

from sparsefield.report.figures import new_figure
from sparsefield.report.tables import cell


def _curves(logs: dict[str, pd.DataFrame], column: str = "test_psnr_missing") -> dict[str, pd.DataFrame]:
    """approach -> its evaluated rows; approaches without any evaluation (yet) are left out."""
    curves = {}
    for name, log in sorted(logs.items()):
        points = log.dropna(subset=[column]) if column in log else log.iloc[:0]
        if len(points):
            curves[name] = points
    return curves


def learning_curves(logs: dict[str, pd.DataFrame], classical: dict[str, float]):
    """Figure: one line per learned approach (dashed: its classical start; dotted: best classical).

    Args:
        logs: approach -> its train_log.csv (rows with test_psnr_missing are plotted).
        classical: approach -> PSNR of the best classical baseline on its dataset and scheme.
    """
    fig, axes = new_figure(1, 1, (6, 4))
    ax = axes[0, 0]
    for i, (name, points) in enumerate(_curves(logs).items()):
        color = f"C{i}"
        ax.plot(points.step, points.test_psnr_missing, "o-", color=color, label=name)
        ax.axhline(points.classical_psnr.iloc[0], color=color, linestyle="--", linewidth=0.8)
        if name in classical:
            ax.axhline(classical[name], color=color, linestyle=":", linewidth=0.8)
    ax.set_xlabel("training step")
    ax.set_ylabel("test PSNR, missing pixels (dB)")
    ax.set_title("learning curves (dashed: classical start on the same images; dotted: best classical)", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def learning_markdown(logs: dict[str, pd.DataFrame], classical: dict[str, float]) -> str:
    """The learning curves as tables: test PSNR on missing pixels at every evaluated step.

    Each approach's row also gives its classical start (the estimate a residual model starts from)
    on the same test images, the gain of the last evaluation over it, and the first step at or above
    the best classical baseline's table PSNR (`–`: never crossed). The curve is scored on the first
    `evaluation.images` test images and the table on `evaluation.n_images`: the curve's own
    reference is the classical-start column, on exactly its images. A second table gives the
    posterior mean's curve for the approaches that log one.
    """
    text = _learning_table(logs, classical, "test_psnr_missing", "mean-of-K test PSNR")
    if _curves(logs, "test_psnr_posterior_mean"):
        text += _learning_table(logs, classical, "test_psnr_posterior_mean", "posterior-mean test PSNR")
    return text


def _learning_table(logs, classical, column: str, what: str) -> str:
    curves = _curves(logs, column)
    steps = sorted({int(step) for points in curves.values() for step in points.step})
    lines = ["", f"## Learning curves ({what}, missing pixels, dB)", ""]
    lines.append("| approach | " + " | ".join(f"step {step}" for step in steps)
                 + " | classical start, same images | last − start | best classical | crosses at |")
    lines.append("|---|" + "---:|" * (len(steps) + 4))
    for name, points in curves.items():
        at = dict(zip(points.step.astype(int), points[column], strict=True))
        start = float(points.classical_psnr.iloc[0])
        line = classical.get(name, float("nan"))
        crossed = points[points[column] >= line].step
        cells = [cell(at.get(step, float("nan")), 2) for step in steps]
        cells += [cell(start, 2), f"{points[column].iloc[-1] - start:+.2f}", cell(line, 2),
                  str(int(crossed.iloc[0])) if len(crossed) else "–"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
