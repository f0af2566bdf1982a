"""Score one approach's `samples.h5` on its fixed masks → `metrics.csv`.

Long format, one row per (approach, dataset, scheme, metric, region, estimator):

    estimator "mean"     the point estimate (mean of the K samples; the prediction itself for K = 1)
    estimator "sample"   a single sample (the first), only when K > 1
    estimator "samples"  sample-based scores (crps, coverage90), only when K > 1
    region/estimator "-" costs that belong to the whole approach (seconds_per_image, nfe, ...)

Extra regions: `query_alone` scores samples drawn at the query pixels alone (seed
002's sparse-to-sparse task, learned approaches); `full_2x` scores predictions on
the grid of twice the resolution against the true 2× test images (builtin data):
estimator "mean" for an approach's own 2× prediction, "bicubic" for bicubic
upsampling of its H×W mean prediction.

Image metrics are computed per image and then averaged over the scored images
(so PSNR is the mean of per-image PSNRs, not the PSNR of the pooled MSE).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch

from sparsefield.data.images import has_split, read_images
from sparsefield.data.masks import read_masks
from sparsefield.io import atomic_path
from sparsefield.metrics import REGIONS, crps_ensemble, image_metrics, interval_coverage, region_masks
from sparsefield.samples import read_samples

COLUMNS = ["approach", "dataset", "scheme", "metric", "region", "estimator", "value"]
COSTS = ("seconds_per_image", "nfe", "params", "train_seconds")


def _averaged(per_image: pd.DataFrame, estimator: str) -> pd.DataFrame:
    table = per_image.groupby(["metric", "region"], sort=False)["value"].mean().reset_index()
    return table.assign(estimator=estimator)


def _sample_scores(samples: np.ndarray, target: np.ndarray, masks: dict[str, np.ndarray]) -> pd.DataFrame:
    """CRPS and 90%-interval coverage per region, from samples (N, K, H, W, C)."""
    crps = crps_ensemble(np.moveaxis(samples, 1, 0), target)  # (N, H, W, C)
    covered = interval_coverage(np.moveaxis(samples, 1, 0), target, level=0.9)
    rows = []
    for region in REGIONS:
        inside = masks[region][..., None].repeat(target.shape[-1], axis=-1)
        if inside.any():
            rows.append(("crps", region, float(crps[inside].mean())))
            rows.append(("coverage90", region, float(covered[inside].mean())))
    return pd.DataFrame(rows, columns=["metric", "region", "value"]).assign(estimator="samples")


def _psnr_rows(pred: np.ndarray, target: np.ndarray, region: str, estimator: str) -> pd.DataFrame:
    """MSE, MAE and PSNR (per image, averaged) of pred against target, both (N, ...) in [0, 1]."""
    err = (pred - target).reshape(len(pred), -1)
    mse = (err**2).mean(1)
    with np.errstate(divide="ignore"):
        psnr = -10 * np.log10(mse)
    values = {"mse": mse.mean(), "mae": np.abs(err).mean(1).mean(), "psnr": psnr.mean()}
    return pd.DataFrame(
        {"metric": list(values), "region": region, "estimator": estimator, "value": list(values.values())}
    )


def bicubic_2x(images: np.ndarray) -> np.ndarray:
    """Bicubic upsampling ×2 of (N, H, W, C) images in [0, 1] (torch, align_corners=False), clipped."""
    x = torch.as_tensor(images).permute(0, 3, 1, 2)
    up = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    return up.clamp(0, 1).permute(0, 2, 3, 1).numpy()


def score(samples, images: np.ndarray, context: np.ndarray, query: np.ndarray, images_2x=None) -> pd.DataFrame:
    """Metrics of a :class:`~sparsefield.samples.Samples` against the test images it indexes.

    Args:
        samples: the approach's samples (N scored images).
        images: (M, H, W, C) uint8 test split; rows `samples.index` are scored.
        context, query: (M, K) fixed mask indices of the test split.
        images_2x: (M, 2H, 2W, C) uint8 true 2× test images, or None.

    Returns:
        DataFrame with columns metric, region, estimator, value.
    """
    index = samples.index
    target = images[index].astype(np.float32) / 255.0
    height, width = target.shape[1:3]
    masks = region_masks(context[index], query[index], height, width)
    parts = [_averaged(image_metrics(samples.mean, target, masks), "mean")]
    if samples.samples.shape[1] > 1:
        parts.append(_averaged(image_metrics(samples.samples[:, 0], target, masks), "sample"))
        parts.append(_sample_scores(samples.samples, target, masks))
    if "query_samples" in samples.extras:
        at_query = np.take_along_axis(
            target.reshape(len(index), -1, target.shape[-1]), query[index].astype(np.int64)[..., None], axis=1
        )
        parts.append(_psnr_rows(samples.extras["query_samples"].mean(1), at_query, "query_alone", "mean"))
    if images_2x is not None:
        truth_2x = images_2x[index].astype(np.float32) / 255.0
        parts.append(_psnr_rows(bicubic_2x(samples.mean), truth_2x, "full_2x", "bicubic"))
        if "mean_2x" in samples.extras:
            parts.append(_psnr_rows(samples.extras["mean_2x"], truth_2x, "full_2x", "mean"))
    costs = {key: samples.attrs[key] for key in COSTS if key in samples.attrs}
    costs.update(n_images=len(index), n_samples=samples.samples.shape[1])
    parts.append(pd.DataFrame({"metric": list(costs), "region": "-", "estimator": "-", "value": list(costs.values())}))
    return pd.concat(parts, ignore_index=True)


def evaluate(data_path, masks_path, samples_path, out_path: str | os.PathLike) -> None:
    """The stage entry point: score `samples_path` and write `out_path` (metrics.csv)."""
    samples = read_samples(samples_path)
    context, query = read_masks(masks_path, "test")
    images = read_images(data_path, "test")
    images_2x = read_images(data_path, "test_2x") if has_split(data_path, "test_2x") else None
    if samples.index.max(initial=-1) >= len(images):
        raise ValueError(f"{samples_path}: indexes test image {samples.index.max()} but {data_path} has {len(images)}")
    table = score(samples, images, context, query, images_2x)
    for key in ("scheme", "dataset", "approach"):
        table.insert(0, key, samples.attrs[key])
    with atomic_path(out_path) as tmp:
        table[COLUMNS].to_csv(tmp, index=False, float_format="%.6g")
