"""comparison.md's section of each modality, with its figures (the registry's `Modality.report`).

Each module's `section(runs, table, context) -> str` reads what its modality's approaches wrote: `runs`
{approach: Run} in name order (its metrics.csv, samples.h5 and the files it read, by its reader's names),
`table` their metrics.csv rows concatenated, `context` the compare job's settings (`Context`). A section
saves its own figures under context.fig_dir and returns its Markdown. The math of the tables and the
figures is `sparsefield.report`'s, which reads no file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sparsefield.samples import read_attrs, read_index, read_rows


@dataclass(frozen=True)
class Run:
    """One approach's outputs and the files it read (`registry.reads_files`)."""

    metrics: str
    samples: str
    files: dict[str, str]


@dataclass(frozen=True)
class Context:
    """The compare job's settings every section may use."""

    fig_dir: Path
    logs: dict[str, pd.DataFrame] = field(default_factory=dict)  # approach -> train_log.csv (learned ones)
    images: tuple[int, ...] | None = None  # figures.images (checked), or None: the first six scored (unchecked)
    n_images: int | None = None  # evaluation.n_images
    sparsity: dict = field(default_factory=dict)  # {label: {context ratio: approach}} (`config.sparsity_groups`)
    n_boot: int = 1000
    seed: int = 0


def by_dataset(runs: dict[str, Run], name: str) -> dict[str, tuple[str, dict]]:
    """dataset (or raw set) -> (its input file `name`, {approach: (its samples.h5, index)}) (the index only: the
    rows shown are read later, `at`)."""
    grouped: dict[str, tuple[str, dict]] = {}
    for run in runs.values():
        attrs = read_attrs(run.samples)
        grouped.setdefault(attrs["dataset"], (run.files[name], {}))[1][attrs["approach"]] = (
            run.samples, read_index(run.samples))
    return grouped


def at(restored: dict, shown: list[int]) -> dict[str, np.ndarray]:
    """{approach: its means of the test items `shown`}, in the order of `shown` (approaches in `restored`'s order)."""
    out = {}
    for name, (path, index) in restored.items():
        rows = {int(i): row for row, i in enumerate(index)}
        out[name] = read_rows(path, "mean", [rows[i] for i in shown])
    return out
