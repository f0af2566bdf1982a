"""The low-light part of the comparison: a table and a figure per raw set.

Low-light approaches restore a raw set's short exposures (`sparsefield.baselines.lowlight`); each
test tile is scored against the long exposure's tile at the same position, in linear RGB and after
the sRGB curve (`space`), per ratio (exposure time long / short).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sparsefield.baselines.lowlight import SPACES, to_srgb
from sparsefield.report.figures import new_figure
from sparsefield.report.tables import cell

# (metric, column title, digits) of the low-light tables
LOWLIGHT_TABLE = [("psnr", "PSNR", 2), ("ssim", "SSIM", 4), ("mae", "MAE", 4)]

INTRO = """
# Low light

Each test tile of a short exposure is restored and scored against the long exposure's tile at
the same position (itself a capture: low noise, not noise-free); metrics per tile, then averaged
over the tiles of a ratio (exposure time long / short). `space`: `linear` = linear RGB in [0, 1],
the values the tiles store; `srgb` = after the fixed sRGB transfer curve applied to both. Never set
these beside SID's published figures (sRGB of whole images through LibRaw, other images)."""


def _ratio(scheme: str) -> float:
    return float(scheme[1:])  # schemes are "x100", "x300", ...


def _rows(group: pd.DataFrame, scheme: str) -> list[str]:
    values = group.set_index(["approach", "scheme", "metric", "region"])["value"]
    lines = []
    for space in SPACES:
        names = sorted(group.approach.unique(), key=lambda name: -values.get((name, scheme, "psnr", space), -np.inf))
        for name in names:
            cells = [cell(values.get((name, scheme, metric, space), float("nan")), digits)
                     for metric, _, digits in LOWLIGHT_TABLE]
            cells.append(cell(values.get((name, scheme, "seconds_per_image", "-"), float("nan")), 5))
            lines.append(f"| ×{scheme[1:]} | {space} | {name} | " + " | ".join(cells) + " |")
    return lines


def lowlight_markdown(table: pd.DataFrame) -> str:
    """One Markdown table per raw set: rows by ratio, then space, then approach (best PSNR first)."""
    lines = [INTRO]
    for rawset, group in table.groupby("dataset", sort=True):
        schemes = sorted(group.scheme.unique(), key=_ratio)
        counts = ", ".join(f"{int(group[(group.scheme == s) & (group.metric == 'n_images')].value.max())} at {s}"
                           for s in schemes)
        lines += ["", f"## {rawset} (test tiles: {counts})", ""]
        lines.append("| ratio | space | approach | " + " | ".join(col[1] for col in LOWLIGHT_TABLE) + " | s / tile |")
        lines.append("|---|---|---|" + "---:|" * (len(LOWLIGHT_TABLE) + 1))
        for scheme in schemes:
            lines += _rows(group, scheme)
    return "\n".join(lines) + "\n"


def lowlight_shown(ratios, per_ratio: int = 2) -> list[int]:
    """Positions of the first `per_ratio` test pairs of every ratio (ratios ascending)."""
    ratios = np.asarray(ratios)
    return [int(i) for ratio in np.unique(ratios) for i in np.flatnonzero(ratios == ratio)[:per_ratio]]


def lowlight_figure(title: str, ratios, clean: np.ndarray, restorations: dict[str, np.ndarray]):
    """sRGB grid: a row per shown test pair, each approach's restoration then the long exposure.

    Args:
        title: the figure's title (the raw set).
        ratios: (B,) exposure ratio of each shown pair.
        clean: (B, T, T, 3) the long exposures, linear RGB in [0, 1].
        restorations: approach -> (B, T, T, 3) its restorations, linear RGB (`amplify` is the short
            exposure brightened, nothing else).
    """
    names = sorted(restorations)
    n_cols, n_rows = 1 + len(names), len(clean)
    fig, axes = new_figure(n_rows, n_cols, (1.6 * n_cols, 1.6 * n_rows))
    for row in range(n_rows):
        for col, image in enumerate([*(restorations[name][row] for name in names), clean[row]]):
            axes[row, col].imshow(to_srgb(image))
            axes[row, col].set_axis_off()
        axes[row, 0].text(-0.06, 0.5, f"x{ratios[row]:g}", rotation=90, ha="right", va="center", fontsize=7,
                          transform=axes[row, 0].transAxes)
    for col, label in enumerate([*names, "long exposure"]):
        axes[0, col].set_title(label, fontsize=7)
    fig.suptitle(f"{title}: test tiles after the sRGB curve", fontsize=8)
    fig.tight_layout()
    return fig
