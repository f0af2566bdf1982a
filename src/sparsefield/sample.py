"""Sampling stage for learned approaches → `samples.h5` and `nfe_sweep.csv`.

For each scored test image, K samples are drawn three ways:

* jointly on every unobserved pixel of the H×W grid — trained on the query
  pixels only, asked for all of them (the generalisation the seeds care about);
  context pixels are kept as observed → `samples` (N, K, H, W, C);
* at the scheme's query pixels alone, as seed 002 scores them → `query_samples`;
* on the 2H×2W grid (arbitrary resolution), K samples averaged → `mean_2x`.

Noise comes from one generator per (seed, image, k, task): a result never
depends on the batch it was drawn in.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from sparsefield.data.fields import FieldBatch, from_unit, gather_pixels, grid_coords, pixel_coords, to_unit
from sparsefield.data.images import has_split, read_images
from sparsefield.data.masks import read_masks
from sparsefield.io import atomic_path
from sparsefield.models import load_model
from sparsefield.objectives import OBJECTIVES
from sparsefield.rng import SampleNoise, seed_of
from sparsefield.samples import write_samples
from sparsefield.train import resolve_device

JOINT, QUERY, HIRES = 0, 1, 2  # tasks: separate noise streams


def unobserved(context: torch.Tensor, n_pixels: int) -> torch.Tensor:
    """Flat indices (B, n_pixels − Ni) of the pixels not in `context` (B, Ni), sorted."""
    observed = torch.zeros(len(context), n_pixels, dtype=torch.bool)
    observed.scatter_(1, context.long(), True)
    return torch.nonzero(~observed)[:, 1].view(len(context), -1)


@torch.no_grad()
def sample_at(model, objective, images, context, targets, *, index, task, seed, k, steps, sampler, batch_size, device):
    """K samples at given output pixels/coordinates for every image.

    Args:
        images: (N, H, W, C) uint8; context: (N, Ni) observed flat indices.
        targets: function (images (B,H,W,C) uint8 tensor, context (B, Ni), rows slice) → (B, No, 2) coordinates.
        index: (N,) test-split positions (seed the noise).

    Returns:
        values (N, K, No, C) in [0, 1], NFE per sample, seconds per image.
    """
    n, height, width, _ = images.shape
    out, nfe, seconds = [], 0, 0.0
    for start in range(0, n, batch_size):
        rows = slice(start, start + batch_size)
        image, ctx = torch.as_tensor(images[rows]), torch.as_tensor(context[rows]).long()
        coords = targets(image, ctx, rows)
        batch = FieldBatch(
            input_coords=pixel_coords(ctx, height, width).repeat_interleave(k, 0),
            input_values=gather_pixels(to_unit(image), ctx).repeat_interleave(k, 0),
            output_coords=coords.repeat_interleave(k, 0),
            output_values=torch.zeros(len(image) * k, coords.shape[1], image.shape[-1]),
        ).to(device)
        noise = SampleNoise([seed_of(seed, int(i), j, task) for i in index[rows] for j in range(k)], device=device)
        tic = time.perf_counter()
        values, nfe = objective.sample(model, batch, noise, steps=steps, sampler=sampler)
        seconds += time.perf_counter() - tic
        out.append(from_unit(values.float().cpu()).view(len(image), k, *values.shape[1:]))
    return torch.cat(out).numpy(), nfe, seconds / n


def joint_grid(model, objective, images, context, **kw) -> tuple[np.ndarray, int, float]:
    """K samples of every unobserved pixel, jointly, on the full grid (N, K, H, W, C); NFE; s/image."""
    n, height, width, channels = images.shape
    missing = unobserved(torch.as_tensor(context), height * width)

    def targets(image, ctx, rows):
        return pixel_coords(missing[rows], height, width)

    values, nfe, seconds = sample_at(model, objective, images, context, targets, task=JOINT, **kw)
    return fill_unobserved(images, missing, values), nfe, seconds


def fill_unobserved(images: np.ndarray, missing: torch.Tensor, values) -> np.ndarray:
    """Full grids (N, K, H, W, C) in [0, 1]: observed pixels of uint8 `images` (N, H, W, C),
    `values` (N, K, Nm, C) in [0, 1] at the flat `missing` indices (N, Nm)."""
    n, height, width, channels = images.shape
    values = torch.as_tensor(values, dtype=torch.float32)
    k = values.shape[1]
    grid = torch.as_tensor(images, dtype=torch.float32).div(255).reshape(n, 1, -1, channels).repeat(1, k, 1, 1)
    grid.scatter_(2, missing[:, None, :, None].expand(-1, k, -1, channels), values)
    return grid.view(n, k, height, width, channels).numpy()


def missing_psnr(samples: np.ndarray, truth: np.ndarray, context: np.ndarray) -> float:
    """Mean over images of the PSNR of the mean of K samples (N, K, H, W, C) on unobserved pixels."""
    n, _, height, width, channels = samples.shape
    observed = np.zeros((n, height * width), bool)
    np.put_along_axis(observed, context.astype(np.int64), True, axis=1)
    err = ((samples.mean(1) - truth).reshape(n, -1, channels) ** 2).mean(-1)
    mse = np.where(observed, 0.0, err).sum(1) / (~observed).sum(1)
    return float(np.mean(-10 * np.log10(mse)))


def nfe_sweep(model, objective, images, context, budgets, **kw) -> pd.DataFrame:
    """Mean-of-K PSNR on missing pixels against NFE, for every sampler of the objective."""
    truth = images.astype(np.float32) / 255.0
    rows = []
    for sampler in objective.SAMPLERS:
        for budget in budgets:
            steps = objective.steps_for_nfe(budget, sampler)
            samples, nfe, seconds = joint_grid(model, objective, images, context, steps=steps, sampler=sampler, **kw)
            rows.append(dict(sampler=sampler, steps=steps, nfe=nfe, seconds_per_image=seconds,
                             psnr_missing=missing_psnr(samples, truth, context)))  # fmt: skip
    return pd.DataFrame(rows)


def sampling_stage(model_path, data_path, masks_path, out_path, sweep_path, *, train_log, approach: str, kind: str,
                   dataset: str, scheme: str, objective: dict, sampler: str, steps: int, n_samples: int,
                   n_images: int | None, sweep_nfe: list[int], sweep_images: int, batch_size: int,
                   seed: int, device: str = "auto") -> None:  # fmt: skip
    """The stage entry point: `samples.h5` and `nfe_sweep.csv` of one trained approach."""
    device = resolve_device(device)
    model = load_model(model_path, device)
    process = OBJECTIVES[kind](**objective)
    images = read_images(data_path, "test")
    context, query = read_masks(masks_path, "test")
    n = len(images) if n_images is None else min(n_images, len(images))
    images, context, query = images[:n], context[:n], query[:n]
    kw = dict(index=np.arange(n), seed=seed, k=n_samples, batch_size=batch_size, device=device)
    samples, nfe, seconds = joint_grid(model, process, images, context, steps=steps, sampler=sampler, **kw)
    height, width = images.shape[1:3]

    def at_query(image, ctx, rows):
        return pixel_coords(torch.as_tensor(query[rows]).long(), height, width)

    extras = {"query_samples": sample_at(model, process, images, context, at_query, task=QUERY, steps=steps,
                                         sampler=sampler, **kw)[0]}  # fmt: skip
    if has_split(data_path, "test_2x"):
        hires = grid_coords(2 * height, 2 * width)
        twice = sample_at(model, process, images, context, lambda image, ctx, rows: hires.expand(len(image), -1, -1),
                          task=HIRES, steps=steps, sampler=sampler, **kw)[0]  # fmt: skip
        extras["mean_2x"] = twice.mean(1).reshape(n, 2 * height, 2 * width, -1)
    write_samples(out_path, samples, np.arange(n), extras=extras, approach=approach, kind=kind, dataset=dataset,
                  scheme=scheme, nfe=nfe, seconds_per_image=seconds, sampler=sampler, steps=steps,
                  params=sum(p.numel() for p in model.parameters()),
                  train_seconds=float(pd.read_csv(train_log)["seconds"].max()))  # fmt: skip
    m = min(sweep_images, n)
    sweep = nfe_sweep(model, process, images[:m], context[:m], sweep_nfe, **{**kw, "index": np.arange(m)})
    with atomic_path(sweep_path) as tmp:
        sweep.assign(approach=approach, kind=kind).to_csv(tmp, index=False, float_format="%.6g")
