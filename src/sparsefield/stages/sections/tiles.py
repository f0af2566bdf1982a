"""The low-light section: per raw set, the restorations' table and `lowlight_{rawset}.png`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sparsefield.data.raw.tiles import linear_rgb, paired_test_tiles
from sparsefield.report.figures import save_figure, shown_images
from sparsefield.report.lowlight import lowlight_figure, lowlight_markdown, lowlight_shown
from sparsefield.stages.sections import Context, Run, at, by_dataset


def section(runs: dict[str, Run], table: pd.DataFrame, context: Context) -> str:
    """`lowlight_{rawset}.png` per raw set (the first test pairs of every ratio, each approach's restoration) and
    the low-light tables."""
    for rawset, (tiles_path, restored) in sorted(by_dataset(runs, "metadata").items()):
        pairs = paired_test_tiles(tiles_path)
        ratios = np.array([record["ratio"] for record in pairs.records])
        shown = shown_images([index for _, index in restored.values()], lowlight_shown(ratios))
        if not shown:
            continue
        clean = np.stack([linear_rgb(pairs[i][1]) for i in shown])
        fig = lowlight_figure(Path(tiles_path).parent.name, ratios[shown], clean, at(restored, shown))
        save_figure(fig, context.fig_dir / f"lowlight_{rawset}.png")
    return lowlight_markdown(table)
