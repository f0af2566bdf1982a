"""Every approach kind by name, in one explicit dict.

A kind names the stages its approach runs through; the workflow picks rules
from this table, so adding an approach in config never edits a rule.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    stages: tuple[str, ...]  # Snakemake stages that produce samples.h5, in order ("lowlight": raw sets)
    description: str
    samplers: tuple[str, ...] = ()  # sampler names of a learned kind (its objective's SAMPLERS)


KINDS: dict[str, Kind] = {
    "nearest": Kind(("baseline",), "nearest observed pixel (scipy griddata)"),
    "linear": Kind(("baseline",), "piecewise-linear on the Delaunay triangulation (scipy griddata)"),
    "cubic": Kind(("baseline",), "Clough-Tocher C1 cubic on the triangulation (scipy griddata)"),
    "biharmonic": Kind(("baseline",), "biharmonic inpainting (scikit-image)"),
    "normconv": Kind(("baseline",), "multi-scale normalised convolution: the learned approaches' starting point"),
    "score": Kind(
        ("train", "sample"),
        "VP-SDE score model; reverse-SDE Euler-Maruyama (+ Langevin corrector)",
        ("euler_maruyama", "pc"),
    ),
    "denoiser": Kind(("train", "sample"), "x0-denoiser on a cosine schedule; DDPM / DDIM sampling", ("ddpm", "ddim")),
    "flow": Kind(
        ("train", "sample"), "conditional flow matching on the straight path; Euler / Heun", ("euler", "heun")
    ),
    # low-light approaches: a raw set's short-exposure test tiles, scored against the long exposure
    "amplify": Kind(("lowlight",), "short exposure x exposure ratio, clipped (sparsefield.lowlight)"),
    "amplify_denoise": Kind(("lowlight",), "amplify, then a scikit-image denoiser (non-local means / wavelet)"),
}


def approaches_in_stage(approaches: dict[str, dict], stage: str) -> list[str]:
    """Names of the configured approaches whose kind runs `stage`."""
    return sorted(name for name, entry in approaches.items() if stage in KINDS[entry["kind"]].stages)
