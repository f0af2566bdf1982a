"""The prior stage: a `priors:` entry's training data -> results/priors/{prior}/model.pt, train_log.csv and
samples.npz (unconditional draws beside validation images, for the figures).

A prior is trained once and serves every posterior approach that names it (`prior:`); the posterior
approaches' settings never reach this stage, so a sampler edit never retrains it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sparsefield.device import resolve_device
from sparsefield.io import atomic_path
from sparsefield.params import bind, canonical
from sparsefield.registry import PRIOR_METHOD, load
from sparsefield.stages.train import run


def train_prior(inputs, out_dir, *, prior: str, source: dict, settings: dict, device: str = "auto",
                code: str = "") -> dict:
    """Train prior `prior` on `source` ({"rawset": name} or {"dataset": name}) into `out_dir`."""
    method = load(PRIOR_METHOD)
    params = bind(method.PriorParams, settings, f"priors.{prior}.params")
    device = resolve_device(device, job=f"prior {prior}")
    torch.manual_seed(params.seed)  # the model's initial weights
    windows, val = method.prior_data(source, inputs, params)  # read once: training, validation, the figure
    loop = method.prior_training(params, source, windows, val, device)
    summary = run(loop, out_dir, key=[canonical(source), canonical(settings), code], device=device)
    model = method.load(Path(out_dir) / "model.pt", device)
    drawn = method.unconditional(model, val, linear="rawset" in source, n=params.validation.draws,
                                 steps=params.validation.draw_steps, seed=params.seed, device=device)
    with atomic_path(Path(out_dir) / "samples.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **drawn)
    return summary
