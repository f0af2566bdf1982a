"""The compare stage: every approach's outputs -> comparison.csv, comparison.md, nfe_sweep.csv, figures/.

All reading and writing happens here; the tables, intervals and figures come from
`sparsefield.report`, which touches no file but through `save_figure`. Approaches are grouped by
(dataset, scheme) from their samples.h5 attrs: only those that saw the same test images with the
same fixed masks share a table or a figure. Each samples.h5 is read once and dropped after its
per-image PSNRs and the shown images' predictions are taken.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sparsefield.data.images import read_images
from sparsefield.data.masks import observed_pixels, read_masks
from sparsefield.data.sets import CHUNK
from sparsefield.data.spectral import coverage, read_spectral
from sparsefield.data.tiles import linear_rgb, paired_test_tiles
from sparsefield.io import atomic_path
from sparsefield.report.bootstrap import N_BOOT, SEED, Differences, differences_to
from sparsefield.report.figures import figure_images, nfe_figure, reconstruction_figure, save_figure, shown_images
from sparsefield.report.learning import learning_curves, learning_markdown
from sparsefield.report.lowlight import lowlight_figure, lowlight_markdown, lowlight_shown
from sparsefield.report.priors import prior_figure, priors_markdown
from sparsefield.report.scores import headline_estimate, missing_psnr, unit_images
from sparsefield.report.sparsity import sparsity_figure, sparsity_markdown, sparsity_values
from sparsefield.report.spectral import band_figure, composite_figure, coverage_figure, spectral_markdown
from sparsefield.report.tables import best_classical, classical_by_approach, markdown_tables
from sparsefield.samples import iter_samples, read_attrs, read_index, read_rows
from sparsefield.scoring import COLUMNS

FIRST_SHOWN = (0, 1, 2, 3, 4, 5)  # figures.images null: these test images, where every approach scored them


@dataclass
class _Group:
    """The approaches of one (dataset, scheme), reduced to what the report needs of their samples."""

    images: np.ndarray  # (M, H, W, C) uint8: the test split
    context: np.ndarray  # (M, Kc) its fixed context pixels
    per_image: dict[str, pd.Series] = field(default_factory=dict)  # approach -> headline PSNR (missing) per image
    shown: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)  # approach -> {test image: mean}
    scored: dict[str, list[int]] = field(default_factory=dict)  # approach -> the test images it scored


def _read_csvs(paths, columns=None) -> pd.DataFrame | None:
    """The CSV files concatenated; with none, an empty table of `columns` (None if no columns given)."""
    if paths:
        return pd.concat([pd.read_csv(path) for path in paths], ignore_index=True)
    return pd.DataFrame(columns=columns) if columns is not None else None


def _scan(samples, data, masks, images) -> dict[tuple[str, str], _Group]:
    """Read every approach's samples.h5 a chunk at a time (its test split read once per file pair) into its group."""
    splits: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    groups: dict[tuple[str, str], _Group] = {}
    for samples_path, data_path, masks_path in zip(samples, data, masks, strict=True):
        attrs = read_attrs(samples_path)
        key = (str(data_path), str(masks_path))
        if key not in splits:
            splits[key] = (read_images(data_path, "test"), read_masks(masks_path, "test")[0])
        group = groups.setdefault((attrs["dataset"], attrs["scheme"]), _Group(*splits[key]))
        per_image, shown, scored = [], {}, group.scored.setdefault(attrs["approach"], [])
        for chunk in iter_samples(samples_path, rows=CHUNK):
            scored += [int(i) for i in chunk.index]
            _, estimate = headline_estimate(chunk)
            per_image.append(missing_psnr(estimate, group.images, group.context, chunk.index))
            shown |= {int(i): chunk.mean[row] for row, i in enumerate(chunk.index) if int(i) in images}
        group.per_image[attrs["approach"]] = pd.concat(per_image) if per_image else pd.Series(dtype=float)
        group.shown[attrs["approach"]] = {i: shown[i] for i in images if i in shown}
    return groups


def _reconstruction_figures(groups: dict[tuple[str, str], _Group], images, fig_dir: Path, strict: bool) -> None:
    """`{dataset}_{scheme}.png`: the test images of `images` that every approach of the group predicted."""
    for (dataset, scheme), group in sorted(groups.items()):
        names = sorted(group.shown)
        shown = figure_images({name: group.scored[name] for name in names}, images, f"{dataset} · {scheme}",
                              strict=strict)
        if not shown:
            continue
        truth = unit_images(group.images[shown])
        observed = observed_pixels(group.context[shown], *truth.shape[1:3])
        predictions = {name: np.stack([group.shown[name][i] for i in shown]) for name in names}
        fig = reconstruction_figure(truth, observed, predictions, f"{dataset} · {scheme}")
        save_figure(fig, fig_dir / f"{dataset}_{scheme}.png")


def _differences(table, groups, *, n_boot: int, seed: int) -> dict[tuple[str, str], Differences]:
    """Per (dataset, scheme) with a classical approach: every approach's PSNR difference to the best one."""
    out = {}
    for key, (reference, _) in best_classical(table).items():
        group = groups.get(key)
        if group is not None and reference in group.per_image:
            out[key] = differences_to(group.per_image, reference, n_boot=n_boot, seed=seed)
    return out


def _learning(table: pd.DataFrame, logs: dict[str, pd.DataFrame], fig_dir: Path) -> str:
    """learning_curves.png and the learning-curve Markdown ('' without learned approaches)."""
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


def _by_dataset(samples_paths, inputs) -> dict[str, tuple[str, dict]]:
    """dataset (or raw set) -> (its input file, {approach: (its samples.h5, index)}) of aligned samples.h5 and input
    lists (the index only: the rows shown are read later, `_at`)."""
    grouped: dict[str, tuple[str, dict]] = {}
    for samples_path, input_path in zip(samples_paths, inputs, strict=True):
        attrs = read_attrs(samples_path)
        grouped.setdefault(attrs["dataset"], (input_path, {}))[1][attrs["approach"]] = (
            samples_path, read_index(samples_path))  # fmt: skip
    return grouped


def _at(restored: dict, shown: list[int]) -> dict[str, np.ndarray]:
    """{approach: its means of the test items `shown`}, in the order of `shown` (approaches in `restored`'s order)."""
    out = {}
    for name, (path, index) in restored.items():
        rows = {int(i): row for row, i in enumerate(index)}
        out[name] = read_rows(path, "mean", [rows[i] for i in shown])
    return out


def _lowlight_figures(lowlight_samples, lowlight_tiles, fig_dir: Path) -> None:
    """`lowlight_{rawset}.png` per raw set: the first test pairs of every ratio, each approach's restoration."""
    for rawset, (tiles_path, restored) in sorted(_by_dataset(lowlight_samples, lowlight_tiles).items()):
        pairs = paired_test_tiles(tiles_path)
        ratios = np.array([record["ratio"] for record in pairs.records])
        shown = shown_images([index for _, index in restored.values()], lowlight_shown(ratios))
        if not shown:
            continue
        clean = np.stack([linear_rgb(pairs[i][1]) for i in shown])
        fig = lowlight_figure(Path(tiles_path).parent.name, ratios[shown], clean, _at(restored, shown))
        save_figure(fig, fig_dir / f"lowlight_{rawset}.png")


def _priors(prior_logs, prior_samples, fig_dir: Path) -> str:
    """`prior_{name}.png` per prior and the priors' Markdown ('' without priors)."""
    for path in prior_samples:  # results/priors/{prior}/samples.npz
        with np.load(path) as drawn:
            fig = prior_figure(Path(path).parent.name, drawn["samples"], drawn["real"], bool(drawn["linear"]))
        save_figure(fig, fig_dir / f"prior_{Path(path).parent.name}.png")
    return priors_markdown({Path(path).parent.name: pd.read_csv(path) for path in prior_logs})


def _spectral_figures(spectral_samples, spectral_data, images, fig_dir: Path, strict: bool) -> None:
    """Per multispectral dataset: `spectral_{dataset}.png` (every band, the false-colour composite and the SAM
    map of its first shown image), `composites_{dataset}.png` (the shown images) and `coverage_{dataset}.png`
    (the training masks' leaf coverage)."""
    for dataset, (data_path, restored) in sorted(_by_dataset(spectral_samples, spectral_data).items()):
        train = read_spectral(data_path, "train", images=False)  # the masks only
        save_figure(coverage_figure({dataset: coverage(train.masks)}), fig_dir / f"coverage_{dataset}.png")
        shown = figure_images({name: index for name, (_, index) in restored.items()}, images, dataset, strict=strict)
        if not shown:
            continue
        test = read_spectral(data_path, "test", shown)  # the shown images only, in that order
        predictions = _at(dict(sorted(restored.items())), shown)
        first = {name: prediction[0] for name, prediction in predictions.items()}
        title = f"{dataset} · test image {shown[0]}"
        fig = band_figure(test.bands, test.images[0], test.masks[0], first, title)
        save_figure(fig, fig_dir / f"spectral_{dataset}.png")
        fig = composite_figure(test.bands, test.images, test.masks, predictions, dataset)
        save_figure(fig, fig_dir / f"composites_{dataset}.png")


def _capped(markdown: str, groups: dict[tuple[str, str], _Group], n_images: int | None) -> str:
    """`markdown` with the heading of each group whose whole test split held fewer than `n_images`
    (evaluation.n_images) saying so, and a warning in the log (stderr) per such dataset."""
    if n_images is None:
        return markdown
    warned = set()
    for (dataset, scheme), group in sorted(groups.items()):
        held = len(group.images)
        if held >= n_images:
            continue
        if dataset not in warned:
            warned.add(dataset)
            print(f"warning: evaluation.n_images is {n_images}, but the test split of {dataset} holds {held} images: "
                  f"{held} scored", file=sys.stderr)  # fmt: skip
        heading = f"\n## {dataset} · {scheme} ({held} test images)\n"
        note = (f"\n## {dataset} · {scheme} ({held} test images: the whole test split; evaluation.n_images asked "
                f"for {n_images})\n")  # fmt: skip
        markdown = markdown.replace(heading, note)
    return markdown


def compare(metrics, samples, data, masks, out_csv, out_md, fig_dir, *, train_logs=(), sweeps=(), out_sweep=None,
            images=None, lowlight=(), lowlight_samples=(), lowlight_tiles=(), prior_logs=(),
            prior_samples=(), sparsity=None, spectral=(), spectral_samples=(), spectral_data=(), n_boot: int = N_BOOT,
            seed: int = SEED, n_images: int | None = None) -> None:  # fmt: skip
    """The stage entry point.

    Args:
        metrics, samples, data, masks: per approach (aligned lists) its metrics.csv, samples.h5,
            data HDF5 and masks HDF5.
        out_csv: comparison.csv, every metrics.csv (low-light ones too) concatenated.
        out_md: comparison.md, the tables (`sparsefield.report.tables`).
        fig_dir: folder for `{dataset}_{scheme}.png`, learning_curves.png, nfe_sweep.png, `lowlight_{rawset}.png`,
            `prior_{name}.png` and the multispectral figures.
        train_logs, sweeps: train_log.csv and nfe_sweep.csv of each learned approach.
        out_sweep: every sweep in one CSV (empty without learned approaches).
        images: test images (positions in the test split) shown in the figures (figures.images), each one
            checked; None: the first six that every approach scored (`FIRST_SHOWN`), unchecked.
        lowlight, lowlight_samples, lowlight_tiles: per low-light approach (aligned lists) its
            metrics.csv, samples.h5 and its raw set's metadata.json.
        prior_logs, prior_samples: per prior its train_log.csv and samples.npz (`prior_{name}.png`).
        sparsity: {label: {context ratio: approach}} (`config.sparsity_groups`): sparsity.png and its table.
        spectral, spectral_samples, spectral_data: per multispectral approach (aligned lists) its metrics.csv,
            samples.h5 and dataset HDF5 (`spectral_`, `composites_` and `coverage_{dataset}.png`).
        n_boot, seed: of the paired-bootstrap intervals of the headline tables.
        n_images: evaluation.n_images; a dataset whose test split held fewer is named in the log and its tables'
            headings (every test image scored), never capped unsaid.
    """
    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    table = _read_csvs(metrics, columns=COLUMNS)
    low, leaf = _read_csvs(lowlight), _read_csvs(spectral)
    strict = images is not None
    images = tuple(images) if strict else FIRST_SHOWN
    groups = _scan(samples, data, masks, images)
    _reconstruction_figures(groups, images, fig_dir, strict)
    differences = _differences(table, groups, n_boot=n_boot, seed=seed)
    logs = {Path(path).parent.name: pd.read_csv(path) for path in train_logs}  # results/{approach}/train_log.csv
    learning = _learning(table, logs, fig_dir)
    _sweeps(sweeps, out_sweep, fig_dir)
    _lowlight_figures(lowlight_samples, lowlight_tiles, fig_dir)
    _spectral_figures(spectral_samples, spectral_data, images, fig_dir, strict)
    priors = _priors(prior_logs, prior_samples, fig_dir)
    swept = sparsity_values(table, {k: {float(r): a for r, a in v.items()} for k, v in (sparsity or {}).items()})
    if not swept.empty:
        save_figure(sparsity_figure(swept), fig_dir / "sparsity.png")
    with atomic_path(out_csv) as tmp:
        parts = [part for part in (table, low, leaf) if part is not None and len(part)]
        (pd.concat(parts, ignore_index=True) if parts else table).to_csv(tmp, index=False, float_format="%.6g")
    markdown = _capped(markdown_tables(table, differences), groups, n_images)
    markdown += learning + (lowlight_markdown(low) if low is not None else "")
    markdown += sparsity_markdown(swept) + priors + (spectral_markdown(leaf, logs) if leaf is not None else "")
    with atomic_path(out_md) as tmp:
        tmp.write_text(markdown, encoding="utf-8")
