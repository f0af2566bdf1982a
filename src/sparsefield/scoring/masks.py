"""Score one approach's reconstructions of images on their fixed masks' regions.

Rows (metrics.csv, long format), per (metric, region, estimator):

    estimator "posterior_mean"  the model's own estimate of E[x | observed pixels] (stochastic learned
                                approaches: x̂0 at the sampler's first, noisiest step; see the method)
    estimator "mean"            the mean of the K samples (a deterministic approach's prediction)
    estimator "sample"          a single sample (the first), only when K > 1
    estimator "samples"         CRPS from all K samples, for every approach (K = 1: CRPS = MAE, the
                                deterministic case), and 90%-interval coverage when K > 1
    region/estimator "-"        costs of the whole approach (seconds_per_image, nfe, params, ...)

Extra regions: `query_alone` scores samples drawn at the query pixels alone (the
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


def _averaged(per_image: list[pd.DataFrame], estimator: str) -> pd.DataFrame:
    """The mean over images of per-image rows (metric, region, value), the chunks' tables concatenated."""
    table = pd.concat(per_image, ignore_index=True).groupby(["metric", "region"], sort=False)["value"].mean()
    return table.reset_index().assign(estimator=estimator)


def _sample_sums(samples: np.ndarray, target: np.ndarray, masks: dict[str, np.ndarray]) -> dict:
    """{(metric, region): (sum, count)} of CRPS (any K) and, for K > 1, 90%-interval coverage over the region's
    elements, from samples (N, K, H, W, C): pooled over the chunks, then divided once."""
    members = np.moveaxis(samples, 1, 0)  # (K, N, H, W, C)
    crps = crps_ensemble(members, target)  # (N, H, W, C)
    covered = interval_coverage(members, target, level=0.9) if len(members) > 1 else None
    sums = {}
    for region in REGIONS:
        inside = masks[region][..., None].repeat(target.shape[-1], axis=-1)
        if inside.any():
            sums[("crps", region)] = (crps[inside].sum(), int(inside.sum()))
            if covered is not None:
                sums[("coverage90", region)] = (covered[inside].sum(), int(inside.sum()))
    return sums


def _psnr_rows(mse: np.ndarray, mae: np.ndarray, region: str, estimator: str) -> pd.DataFrame:
    """MSE, MAE and PSNR rows, the means over images of the per-image mse and mae (N,) given."""
    values = {"mse": mse.mean(), "mae": mae.mean(), "psnr": psnr(mse).mean()}
    return pd.DataFrame(
        {"metric": list(values), "region": region, "estimator": estimator, "value": list(values.values())}
    )


def _errors(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image MSE and MAE (N,) of pred against target, both (N, ...) in [0, 1]."""
    return mse_per_image(pred, target), np.abs(pred - target).reshape(len(pred), -1).mean(1)


def bicubic_2x(images: np.ndarray) -> np.ndarray:
    """Bicubic upsampling ×2 of (N, H, W, C) images in [0, 1] (torch, align_corners=False), clipped."""
    x = torch.as_tensor(images).permute(0, 3, 1, 2)
    up = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    return up.clamp(0, 1).permute(0, 2, 3, 1).numpy()


def score(chunks, data) -> pd.DataFrame:
    """Metrics of an approach's samples.h5, read a chunk at a time, against the test images it indexes.

    Args:
        chunks: the approach's `sparsefield.samples.Samples` in chunks of rows (`samples.iter_samples`; N scored
            images in all, each chunk's `index` into the test split).
        data: a `sparsefield.data.images.sets.MaskedImages` of the whole test split (images (M, H, W, C)
            uint8, context and query (M, K) fixed mask indices, images_2x or None).

    Returns:
        DataFrame with columns metric, region, estimator, value: per-image metrics averaged over the N images,
        CRPS and coverage pooled over their elements, as if all N were scored at once.
    """
    per_image: dict[str, list[pd.DataFrame]] = {}
    errors: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = {}
    pooled: dict[tuple[str, str], list[tuple[float, int]]] = {}
    n, k, attrs = 0, 1, {}
    for samples in chunks:
        index, attrs, k = samples.index, samples.attrs, samples.samples.shape[1]
        if index.max(initial=-1) >= len(data.images):
            raise ValueError(f"samples index test image {index.max()} but the test split has {len(data.images)}")
        target = data.images[index].astype(np.float32) / 255.0
        masks = region_masks(data.context[index], data.query[index], *target.shape[1:3])
        estimates = {"mean": samples.mean, "posterior_mean": samples.extras.get("posterior_mean"),
                     "sample": samples.samples[:, 0] if k > 1 else None}
        for estimator, pred in estimates.items():
            if pred is not None:
                per_image.setdefault(estimator, []).append(image_metrics(pred, target, masks))
        for key, value in _sample_sums(samples.samples, target, masks).items():
            pooled.setdefault(key, []).append(value)
        if "query_samples" in samples.extras:
            flat = target.reshape(len(index), -1, target.shape[-1])
            at_query = np.take_along_axis(flat, data.query[index].astype(np.int64)[..., None], axis=1)
            errors.setdefault(("query_alone", "mean"), []).append(_errors(samples.extras["query_samples"].mean(1),
                                                                          at_query))
        if data.images_2x is not None:
            truth_2x = data.images_2x[index].astype(np.float32) / 255.0
            errors.setdefault(("full_2x", "bicubic"), []).append(_errors(bicubic_2x(samples.mean), truth_2x))
            if "mean_2x" in samples.extras:
                errors.setdefault(("full_2x", "mean"), []).append(_errors(samples.extras["mean_2x"], truth_2x))
        n += len(index)
    parts = [_averaged(tables, estimator) for estimator, tables in per_image.items()]
    rows = [(metric, region, float(np.sum([s for s, _ in sums])) / sum(c for _, c in sums))
            for (metric, region), sums in pooled.items()]
    parts.append(pd.DataFrame(rows, columns=["metric", "region", "value"]).assign(estimator="samples"))
    for (region, estimator), pairs in errors.items():
        parts.append(_psnr_rows(*(np.concatenate(v) for v in zip(*pairs, strict=True)), region, estimator))
    costs = {key: attrs[key] for key in COSTS if key in attrs}
    costs.update(n_images=n, n_samples=k)
    parts.append(pd.DataFrame({"metric": list(costs), "region": "-", "estimator": "-", "value": list(costs.values())}))
    return pd.concat(parts, ignore_index=True)
