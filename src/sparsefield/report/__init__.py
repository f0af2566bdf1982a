"""The comparison report: comparison.md's tables and the figures, from arrays and tables (no file reading).

Modules:

    tables     headline and detailed Markdown tables per (dataset, scheme), best-of-column marks,
               the best classical approach
    bootstrap  paired-bootstrap intervals of per-image PSNR differences
    scores     per-image PSNRs on missing pixels, recomputed from an approach's samples
    figures    the one figure maker and saver (`new_figure`, `save_figure`), reconstruction and
               NFE figures
    learning   learning-curve figure and table
    lowlight   low-light table and figure per raw set

The compare stage (`sparsefield.stages.compare`) reads the files, calls these and writes the outputs.
"""

from sparsefield.report.bootstrap import Differences, Interval, differences_to, paired_bootstrap
from sparsefield.report.figures import nfe_figure, reconstruction_figure, save_figure, shown_images
from sparsefield.report.learning import learning_curves, learning_markdown
from sparsefield.report.lowlight import lowlight_figure, lowlight_markdown, lowlight_shown
from sparsefield.report.scores import headline_estimate, missing_psnr_by_image
from sparsefield.report.tables import (
    best_classical,
    classical_by_approach,
    detail_table,
    headline_table,
    mark_best,
    markdown_tables,
)

__all__ = [
    "Differences",
    "Interval",
    "best_classical",
    "classical_by_approach",
    "detail_table",
    "differences_to",
    "headline_estimate",
    "headline_table",
    "learning_curves",
    "learning_markdown",
    "lowlight_figure",
    "lowlight_markdown",
    "lowlight_shown",
    "mark_best",
    "markdown_tables",
    "missing_psnr_by_image",
    "nfe_figure",
    "paired_bootstrap",
    "reconstruction_figure",
    "save_figure",
    "shown_images",
]
