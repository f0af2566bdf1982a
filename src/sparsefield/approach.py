"""Training stage for learned approaches: images + fixed masks → `model.pt`, `train_log.csv`.

Training follows seed 000's query-only loss: each training image is observed at
its fixed context pixels and supervised at its fixed query pixels only. The
learning curve (test PSNR on missing pixels every `eval_every` steps) is logged
beside the classical estimate the model starts from, so the log shows where
training crosses the classical line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from sparsefield.data.fields import FieldDataset, field_batch, from_unit
from sparsefield.data.images import read_images
from sparsefield.data.masks import read_masks
from sparsefield.models import FieldModel
from sparsefield.normconv import normalized_convolution
from sparsefield.objectives import OBJECTIVES
from sparsefield.sample import fill_unobserved, joint_grid, missing_psnr, unobserved
from sparsefield.train import resolve_device
from sparsefield.train import train as fit


def classical_psnr(images: np.ndarray, context: np.ndarray) -> float:
    """Missing-pixel PSNR of the classical estimate (normalised convolution) the models start from."""
    height, width = images.shape[1:3]
    ctx = torch.as_tensor(context).long()
    missing = unobserved(ctx, height * width)
    batch = field_batch(torch.as_tensor(images), ctx, missing)
    with torch.no_grad():
        prior = normalized_convolution(batch.input_coords, batch.input_values, batch.output_coords)
    grid = fill_unobserved(images, missing, from_unit(prior)[:, None])  # (N, 1, H, W, C)
    return missing_psnr(grid, images / 255.0, context)


def training_stage(data_path, masks_path, out_dir, *, kind: str, objective: dict, model: dict, train_params: dict,
                   evaluation: dict, seed: int, device: str = "auto", code: str = "") -> dict:  # fmt: skip
    """The stage entry point: `out_dir`/model.pt and `out_dir`/train_log.csv.

    `model`: FieldModel kwargs; `train_params`: `train.train` kwargs; `evaluation`:
    learning-curve settings (images, k, steps, sampler, every). Checkpoints live in
    `out_dir`/run-<key>, the key hashing every setting and the code fingerprint
    `code`: a killed job resumes there, a changed one starts afresh.
    """
    settings = dict(kind=kind, objective=objective, model=model, train=train_params, evaluation=evaluation, seed=seed)
    key = hashlib.sha256(json.dumps([settings, code], sort_keys=True).encode()).hexdigest()[:12]
    out_dir = Path(out_dir)
    run_dir = out_dir / f"run-{key}"
    for stale in out_dir.glob("run-*"):
        if stale != run_dir:
            shutil.rmtree(stale)
    summary = _fit(data_path, masks_path, run_dir, device=resolve_device(device), **settings)
    for name in ("train_log.csv", "model.pt"):  # model.pt last: it marks the run complete
        os.replace(run_dir / name, out_dir / name)
    shutil.rmtree(run_dir)
    return summary


def _fit(data_path, masks_path, run_dir, *, kind, objective, model, train, evaluation, seed, device) -> dict:
    process = OBJECTIVES[kind](**objective)
    images = read_images(data_path, "train")
    context, query = read_masks(masks_path, "train")
    dataset = FieldDataset(images, context, query)
    test = read_images(data_path, "test")[: evaluation["images"]]
    test_context = read_masks(masks_path, "test")[0][: len(test)]
    classical = classical_psnr(test, test_context)
    kw = dict(index=np.arange(len(test)), seed=seed, k=evaluation["k"], batch_size=len(test), device=device)

    def learning_curve(ema_model, step):
        ema_model.eval()
        samples, _, _ = joint_grid(ema_model, process, test, test_context, steps=evaluation["steps"],
                                   sampler=evaluation["sampler"], **kw)  # fmt: skip
        ema_model.train()
        return {"test_psnr_missing": missing_psnr(samples, test / 255.0, test_context), "classical_psnr": classical}

    torch.manual_seed(seed)
    net = FieldModel(**model)

    def loss_fn(network, batch, noise):
        return process.loss(network, batch, noise)  # (B, No, C) per element; the loop takes the mean

    return fit(model=net, loss_fn=loss_fn, dataset=dataset, out_dir=run_dir, eval_fn=learning_curve,
               eval_every=evaluation["every"], seed=seed, device=str(device), progress=False, **train)  # fmt: skip
