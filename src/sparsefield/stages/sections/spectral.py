"""The multispectral section: per dataset, the leaf tables and `spectral_`, `composites_`, `coverage_{dataset}.png`."""

from __future__ import annotations

import pandas as pd

from sparsefield.data.spectral.sets import coverage, read_spectral
from sparsefield.report.figures import figure_images, save_figure
from sparsefield.report.spectral import band_figure, composite_figure, coverage_figure, spectral_markdown
from sparsefield.stages.sections import Context, Run, at, by_dataset
from sparsefield.stages.sections.images import FIRST_SHOWN


def section(runs: dict[str, Run], table: pd.DataFrame, context: Context) -> str:
    """Per multispectral dataset: `spectral_{dataset}.png` (every band, the false-colour composite and the SAM
    map of its first shown image), `composites_{dataset}.png` (the shown images) and `coverage_{dataset}.png`
    (the training masks' leaf coverage); then the leaf tables."""
    strict = context.images is not None
    images = context.images if strict else FIRST_SHOWN
    for dataset, (data_path, restored) in sorted(by_dataset(runs, "data").items()):
        train = read_spectral(data_path, "train", images=False)  # the masks only
        save_figure(coverage_figure({dataset: coverage(train.masks)}), context.fig_dir / f"coverage_{dataset}.png")
        shown = figure_images({name: index for name, (_, index) in restored.items()}, images, dataset, strict=strict)
        if not shown:
            continue
        test = read_spectral(data_path, "test", shown)  # the shown images only, in that order
        predictions = at(dict(sorted(restored.items())), shown)
        first = {name: prediction[0] for name, prediction in predictions.items()}
        fig = band_figure(test.bands, test.images[0], test.masks[0], first, f"{dataset} · test image {shown[0]}")
        save_figure(fig, context.fig_dir / f"spectral_{dataset}.png")
        fig = composite_figure(test.bands, test.images, test.masks, predictions, dataset)
        save_figure(fig, context.fig_dir / f"composites_{dataset}.png")
    return spectral_markdown(table, context.logs)
