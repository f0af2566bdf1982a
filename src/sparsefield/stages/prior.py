"""The prior stage: a `priors:` entry's training data -> results/priors/{prior}/model.pt, train_log.csv and
samples.npz (unconditional draws beside validation images, for the figures).

A prior is trained once and serves every posterior approach that names it (`prior:`); the posterior
approaches' settings never reach this stage, so a sampler edit never retrains it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sparsefield.data.images.sources import read_images
from sparsefield.data.raw.tiles import TileDataset
from sparsefield.data.windows import CaptureCrops, CropDataset
from sparsefield.device import resolve_device
from sparsefield.io import atomic_path, load_model
from sparsefield.params import bind, canonical
from sparsefield.registry import PRIOR_METHOD, load
from sparsefield.stages.train import run


def read_source(source: dict, inputs, params) -> tuple:
    """(training windows, validation images (N, C, H, W) in x units) of a prior's source.

    Windows are read as drawn (`data.raw.tiles.CaptureCrops`, `CropDataset` over the uint8 images): a job holds
    the windows a batch draws, not the training set in x units. Every validation tile is checked: a bad one
    is named.
    """
    if "rawset" in source:
        val = TileDataset(inputs["metadata"], split="val", data_type="clean")
        val.validate()
        val = torch.stack([val[i] for i in range(min(len(val), params.validation.images))])
        return CaptureCrops(inputs["metadata"], split="train", crop=params.crop, stride=params.stride), val
    train = read_images(inputs["data"], "train")  # uint8 (N, H, W, C)
    crop = min(params.crop, *train.shape[1:3])
    val = torch.as_tensor(read_images(inputs["data"], "test")[: params.validation.images])
    return CropDataset(train, crop, params.stride), val.permute(0, 3, 1, 2).float() / 127.5 - 1.0


def train_prior(inputs, out_dir, *, prior: str, source: dict, settings: dict, device: str = "auto",
                code: str = "") -> dict:
    """Train prior `prior` on `source` ({"rawset": name} or {"dataset": name}) into `out_dir`."""
    method = load(PRIOR_METHOD)
    params = bind(method.PriorParams, settings, f"priors.{prior}.params")
    device = resolve_device(device, job=f"prior {prior}")
    torch.manual_seed(params.seed)  # the model's initial weights
    windows, val = read_source(source, inputs, params)  # read once: training, validation, the figure
    loop = method.prior_training(params, source, windows, val, device)
    summary = run(loop, out_dir, key=[canonical(source), canonical(settings), code], device=device)
    model = load_model(Path(out_dir) / "model.pt", device, method.rebuild)
    drawn = method.unconditional(model, val, linear="rawset" in source, n=params.validation.draws,
                                 steps=params.validation.draw_steps, seed=params.seed, device=device)
    with atomic_path(Path(out_dir) / "samples.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **drawn)
    return summary
