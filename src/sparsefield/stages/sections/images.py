"""The images section: per (dataset, scheme), the headline tables with paired-bootstrap intervals against the best
classical approach, `{dataset}_{scheme}.png`, and the sparsity sweep (`sparsity.png`).

Approaches are grouped by (dataset, scheme) from their samples.h5 attrs: only those that saw the same test
images with the same fixed masks share a table or a figure. Each samples.h5 is read a chunk at a time and
dropped after its per-image PSNRs and the shown images' predictions are taken.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sparsefield.data.images.masks import observed_pixels, read_masks
from sparsefield.data.images.sets import CHUNK
from sparsefield.data.images.sources import read_images
from sparsefield.report.bootstrap import Differences, differences_to
from sparsefield.report.figures import figure_images, reconstruction_figure, save_figure
from sparsefield.report.scores import headline_estimate, missing_psnr_by_image, unit_images
from sparsefield.report.sparsity import sparsity_figure, sparsity_markdown, sparsity_values
from sparsefield.report.tables import best_classical, markdown_tables
from sparsefield.samples import iter_samples, read_attrs
from sparsefield.stages.sections import Context, Run

FIRST_SHOWN = (0, 1, 2, 3, 4, 5)  # figures.images null: these test images, where every approach scored them


@dataclass
class _Group:
    """The approaches of one (dataset, scheme), reduced to what the report needs of their samples."""

    images: np.ndarray  # (M, H, W, C) uint8: the test split
    context: np.ndarray  # (M, Kc) its fixed context pixels
    per_image: dict[str, pd.Series] = field(default_factory=dict)  # approach -> headline PSNR (missing) per image
    shown: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)  # approach -> {test image: mean}
    scored: dict[str, list[int]] = field(default_factory=dict)  # approach -> the test images it scored


def _scan(runs: dict[str, Run], images) -> dict[tuple[str, str], _Group]:
    """Read every approach's samples.h5 a chunk at a time (its test split read once per file pair) into its group."""
    splits: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    groups: dict[tuple[str, str], _Group] = {}
    for run in runs.values():
        attrs, data_path, masks_path = read_attrs(run.samples), run.files["data"], run.files["masks"]
        key = (str(data_path), str(masks_path))
        if key not in splits:
            splits[key] = (read_images(data_path, "test"), read_masks(masks_path, "test")[0])
        group = groups.setdefault((attrs["dataset"], attrs["scheme"]), _Group(*splits[key]))
        per_image, shown, scored = [], {}, group.scored.setdefault(attrs["approach"], [])
        for chunk in iter_samples(run.samples, rows=CHUNK):
            scored += [int(i) for i in chunk.index]
            _, estimate = headline_estimate(chunk)
            per_image.append(missing_psnr_by_image(estimate, group.images, group.context, chunk.index))
            shown |= {int(i): chunk.mean[row] for row, i in enumerate(chunk.index) if int(i) in images}
        group.per_image[attrs["approach"]] = pd.concat(per_image) if per_image else pd.Series(dtype=float)
        group.shown[attrs["approach"]] = {i: shown[i] for i in images if i in shown}
    return groups


def _reconstruction_figures(groups: dict[tuple[str, str], _Group], images, context: Context, strict: bool) -> None:
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
        save_figure(fig, context.fig_dir / f"{dataset}_{scheme}.png")


def _differences(table, groups, *, n_boot: int, seed: int) -> dict[tuple[str, str], Differences]:
    """Per (dataset, scheme) with a classical approach: every approach's PSNR difference to the best one."""
    out = {}
    for key, (reference, _) in best_classical(table).items():
        group = groups.get(key)
        if group is not None and reference in group.per_image:
            out[key] = differences_to(group.per_image, reference, n_boot=n_boot, seed=seed)
    return out


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
                  f"{held} scored", file=sys.stderr)
        heading = f"\n## {dataset} · {scheme} ({held} test images)\n"
        note = (f"\n## {dataset} · {scheme} ({held} test images: the whole test split; evaluation.n_images asked "
                f"for {n_images})\n")
        markdown = markdown.replace(heading, note)
    return markdown


def section(runs: dict[str, Run], table: pd.DataFrame, context: Context) -> str:
    """The headline tables (`report.tables`), `{dataset}_{scheme}.png` and the sparsity sweep."""
    strict = context.images is not None
    images = context.images if strict else FIRST_SHOWN
    groups = _scan(runs, images)
    _reconstruction_figures(groups, images, context, strict)
    differences = _differences(table, groups, n_boot=context.n_boot, seed=context.seed)
    swept = sparsity_values(table, {k: {float(r): a for r, a in v.items()} for k, v in context.sparsity.items()})
    if not swept.empty:
        save_figure(sparsity_figure(swept), context.fig_dir / "sparsity.png")
    return _capped(markdown_tables(table, differences), groups, context.n_images) + sparsity_markdown(swept)
