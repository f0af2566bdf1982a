"""The compare stage: every approach's outputs -> comparison.csv, comparison.md, nfe_sweep.csv, figures/.

The compare job gets its approaches as {reads: {approach: Run}} (`sections.Run`: metrics.csv, samples.h5
and the files it read). Each modality present writes its section of comparison.md and its figures with its
registry row's `report` module (`stages.sections`); then the sections every learned approach shares: the
learning curves (`learning_curves.png`), the NFE sweeps (`nfe_sweep.png`, nfe_sweep.csv) and the priors
(`prior_{name}.png`). comparison.csv is every metrics.csv, modality by modality in the registry's order.
A new modality is a registry row and its section module: nothing here names one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sparsefield.io import atomic_path
from sparsefield.registry import MODALITIES, load
from sparsefield.report.bootstrap import N_BOOT, SEED
from sparsefield.report.figures import nfe_figure, save_figure
from sparsefield.report.learning import learning_curves, learning_markdown
from sparsefield.report.priors import prior_figure, priors_markdown
from sparsefield.report.tables import classical_by_approach
from sparsefield.scoring import COLUMNS
from sparsefield.stages.sections import Context, Run


def _read_csvs(paths, columns=None) -> pd.DataFrame:
    """The CSV files concatenated; with none, an empty table of `columns`."""
    if paths:
        return pd.concat([pd.read_csv(path) for path in paths], ignore_index=True)
    return pd.DataFrame(columns=columns if columns is not None else [])


def _learning(table: pd.DataFrame, logs: dict[str, pd.DataFrame], fig_dir: Path) -> str:
    """learning_curves.png and the learning-curve Markdown ('' without learned approaches); `table` holds the
    classical approaches each learned one is drawn against."""
    if not logs:
        return ""
    classical = classical_by_approach(table, logs)
    save_figure(learning_curves(logs, classical), fig_dir / "learning_curves.png")
    return learning_markdown(logs, classical)


def _sweeps(sweeps, out_sweep, fig_dir: Path) -> None:
    """nfe_sweep.png and every nfe_sweep.csv in one (empty without learned approaches)."""
    sweep = _read_csvs(sweeps, columns=[])
    if len(sweep):
        save_figure(nfe_figure(sweep), fig_dir / "nfe_sweep.png")
    if out_sweep is not None:
        with atomic_path(out_sweep) as tmp:
            sweep.to_csv(tmp, index=False, float_format="%.6g")


def _priors(prior_logs, prior_samples, fig_dir: Path) -> str:
    """`prior_{name}.png` per prior and the priors' Markdown ('' without priors)."""
    for path in prior_samples:  # results/priors/{prior}/samples.npz
        with np.load(path) as drawn:
            fig = prior_figure(Path(path).parent.name, drawn["samples"], drawn["real"], bool(drawn["linear"]))
        save_figure(fig, fig_dir / f"prior_{Path(path).parent.name}.png")
    return priors_markdown({Path(path).parent.name: pd.read_csv(path) for path in prior_logs})


def compare(runs: dict[str, dict[str, dict]], out_csv, out_md, fig_dir, *, train_logs=(), sweeps=(), out_sweep=None,
            prior_logs=(), prior_samples=(), images=None, sparsity=None, n_images: int | None = None,
            n_boot: int = N_BOOT, seed: int = SEED) -> None:
    """The stage entry point.

    Args:
        runs: {reads: {approach: {"metrics": metrics.csv, "samples": samples.h5, "files": {name: path}}}}, the
            approaches of each modality (the compare rule's `runs`).
        out_csv, out_md: comparison.csv (every metrics.csv) and comparison.md (every section).
        fig_dir: the folder of every figure.
        train_logs, sweeps: train_log.csv and nfe_sweep.csv of each learned approach; out_sweep: every sweep in
            one CSV (empty without learned approaches).
        prior_logs, prior_samples: per prior its train_log.csv and samples.npz (`prior_{name}.png`).
        images: figures.images, each one checked; None: the first six test images every approach scored.
        sparsity: {label: {context ratio: approach}} (`config.sparsity_groups`): sparsity.png and its table.
        n_images: evaluation.n_images; a dataset whose test split held fewer is named in the log and its tables'
            headings (every test image scored), never capped unsaid.
        n_boot, seed: of the paired-bootstrap intervals of the headline tables.
    """
    unknown = sorted(set(runs) - set(MODALITIES))
    if unknown:
        raise ValueError(f"compare: unknown reads {unknown}; the registry's modalities are {list(MODALITIES)}")
    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    logs = {Path(path).parent.name: pd.read_csv(path) for path in train_logs}  # results/{approach}/train_log.csv
    context = Context(fig_dir, logs, None if images is None else tuple(images), n_images, sparsity or {}, n_boot,
                      seed)
    tables, markdown = {}, ""
    for reads, modality in MODALITIES.items():
        if not runs.get(reads):
            continue
        members = {name: Run(**run) for name, run in runs[reads].items()}
        tables[reads] = _read_csvs([run.metrics for run in members.values()], columns=COLUMNS)
        markdown += load(modality.report).section(members, tables[reads], context)
    classical = tables.get("images", pd.DataFrame(columns=COLUMNS))  # what the learning curves are drawn against
    markdown += _learning(classical, logs, fig_dir)
    _sweeps(sweeps, out_sweep, fig_dir)
    markdown += _priors(prior_logs, prior_samples, fig_dir)
    with atomic_path(out_csv) as tmp:
        parts = [part for part in tables.values() if len(part)]
        (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)).to_csv(
            tmp, index=False, float_format="%.6g")
    with atomic_path(out_md) as tmp:
        tmp.write_text(markdown, encoding="utf-8")
