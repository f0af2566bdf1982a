"""Score one approach's reconstructions of images on their fixed masks' regions.

Rows (metrics.csv, long format), per (metric, region, estimator):

    estimator "posterior_mean"  the model's own estimate of E[x | observed pixels] (stochastic learned
                                approaches: x̂0 at the sampler's first, noisiest step; see the method)
    estimator "mean"            the mean of the K samples (a deterministic approach's prediction)
    estimator "sample"          a single sample (the first), only when K > 1
    estimator "samples"         CRPS from all K samples, for every approach (K = 1: CRPS = MAE, the
                                deterministic case), and 90%-interval coverage when K > 1
    region/estimator "-"        costs of the whole approach (seconds_per_image, nfe, params, ...)

Extra regions: `query_alone` scores samples drawn at the query pixels alone (seed 002's
sparse-to-sparse task, learned approaches); `full_2x` scores predictions on the grid of twice the
resolution against the true 2× test images: estimator "mean" for an approach's own 2× prediction,
"bicubic" for bicubic upsampling of its H×W mean prediction.

Image metrics are computed per image and then averaged over the scored images (PSNR is the mean
of per-image PSNRs, not the PSNR of the pooled MSE), all through `sparsefield.metrics`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from sparsefield.metrics import (
    REGIONS,
    crps_ensemble,
    image_metrics,
    interval_coverage,
    mse_per_image,
    psnr,
    region_masks,
)

COSTS = ("seconds_per_image", "nfe", "params", "train_seconds")


def _averaged(per_image: pd.DataFrame, estimator: str) -> pd.DataFrame:
    table = per_image.groupby(["metric", "region"], sort=False)["value"].mean().reset_index()
    return table.assign(estimator=estimator)


def _sample_scores(samples: np.ndarray, target: np.ndarray, masks: dict[str, np.ndarray]) -> pd.DataFrame:
    """CRPS (any K) and, for K > 1, 90%-interval coverage per region, from samples (N, K, H, W, C)."""
    members = np.moveaxis(samples, 1, 0)  # (K, N, H, W, C)
    crps = crps_ensemble(members, target)  # (N, H, W, C)
    covered = interval_coverage(members, target, level=0.9) if len(members) > 1 else None
    rows = []
    for region in REGIONS:
        inside = masks[region][..., None].repeat(target.shape[-1], axis=-1)
        if inside.any():
            rows.append(("crps", region, float(crps[inside].mean())))
            if covered is not None:
                rows.append(("coverage90", region, float(covered[inside].mean())))
    return pd.DataFrame(rows, columns=["metric", "region", "value"]).assign(estimator="samples")


def _psnr_rows(pred: np.ndarray, target: np.ndarray, region: str, estimator: str) -> pd.DataFrame:
    """MSE, MAE and PSNR (per image, averaged) of pred against target, both (N, ...) in [0, 1]."""
    mse = mse_per_image(pred, target)
    mae = np.abs(pred - target).reshape(len(pred), -1).mean(1)
    values = {"mse": mse.mean(), "mae": mae.mean(), "psnr": psnr(mse).mean()}
    return pd.DataFrame(
        {"metric": list(values), "region": region, "estimator": estimator, "value": list(values.values())}
    )


def bicubic_2x(images: np.ndarray) -> np.ndarray:
    """Bicubic upsampling ×2 of (N, H, W, C) images in [0, 1] (torch, align_corners=False), clipped."""
    x = torch.as_tensor(images).permute(0, 3, 1, 2)
    up = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    return up.clamp(0, 1).permute(0, 2, 3, 1).numpy()


def score(samples, data) -> pd.DataFrame:
    """Metrics of a `sparsefield.samples.Samples` against the test images it indexes.

    Args:
        samples: the approach's samples (N scored images, `samples.index` into the test split).
        data: a `sparsefield.data.sets.MaskedImages` of the whole test split (images (M, H, W, C)
            uint8, context and query (M, K) fixed mask indices, images_2x or None).

    Returns:
        DataFrame with columns metric, region, estimator, value.
    """
    index = samples.index
    if index.max(initial=-1) >= len(data.images):
        raise ValueError(f"samples index test image {index.max()} but the test split has {len(data.images)}")
    target = data.images[index].astype(np.float32) / 255.0
    height, width = target.shape[1:3]
    masks = region_masks(data.context[index], data.query[index], height, width)
    parts = [_averaged(image_metrics(samples.mean, target, masks), "mean")]
    if "posterior_mean" in samples.extras:
        parts.append(_averaged(image_metrics(samples.extras["posterior_mean"], target, masks), "posterior_mean"))
    if samples.samples.shape[1] > 1:
        parts.append(_averaged(image_metrics(samples.samples[:, 0], target, masks), "sample"))
    parts.append(_sample_scores(samples.samples, target, masks))
    if "query_samples" in samples.extras:
        flat = target.reshape(len(index), -1, target.shape[-1])
        at_query = np.take_along_axis(flat, data.query[index].astype(np.int64)[..., None], axis=1)
        parts.append(_psnr_rows(samples.extras["query_samples"].mean(1), at_query, "query_alone", "mean"))
    if data.images_2x is not None:
        truth_2x = data.images_2x[index].astype(np.float32) / 255.0
        parts.append(_psnr_rows(bicubic_2x(samples.mean), truth_2x, "full_2x", "bicubic"))
        if "mean_2x" in samples.extras:
            parts.append(_psnr_rows(samples.extras["mean_2x"], truth_2x, "full_2x", "mean"))
    costs = {key: samples.attrs[key] for key in COSTS if key in samples.attrs}
    costs.update(n_images=len(index), n_samples=samples.samples.shape[1])
    parts.append(pd.DataFrame({"metric": list(costs), "region": "-", "estimator": "-", "value": list(costs.values())}))
    return pd.concat(parts, ignore_index=True)
