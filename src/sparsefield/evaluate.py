"""Score one approach's `samples.h5` on its fixed masks → `metrics.csv`.

Long format, one row per (approach, dataset, scheme, metric, region, estimator):

    estimator "mean"     the point estimate (mean of the K samples; the prediction itself for K = 1)
    estimator "sample"   a single sample (the first), only when K > 1
    estimator "samples"  sample-based scores (crps, coverage90), only when K > 1
    region/estimator "-" costs that belong to the whole approach (seconds_per_image, nfe, ...)

Image metrics are computed per image and then averaged over the scored images
(so PSNR is the mean of per-image PSNRs, not the PSNR of the pooled MSE).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from sparsefield.data.images import read_images
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


def score(samples, images: np.ndarray, context: np.ndarray, query: np.ndarray) -> pd.DataFrame:
    """Metrics of a :class:`~sparsefield.samples.Samples` against the test images it indexes.

    Args:
        samples: the approach's samples (N scored images).
        images: (M, H, W, C) uint8 test split; rows `samples.index` are scored.
        context, query: (M, K) fixed mask indices of the test split.

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
    costs = {key: samples.attrs[key] for key in COSTS if key in samples.attrs}
    costs.update(n_images=len(index), n_samples=samples.samples.shape[1])
    parts.append(pd.DataFrame({"metric": list(costs), "region": "-", "estimator": "-", "value": list(costs.values())}))
    return pd.concat(parts, ignore_index=True)


def evaluate(data_path, masks_path, samples_path, out_path: str | os.PathLike) -> None:
    """The stage entry point: score `samples_path` and write `out_path` (metrics.csv)."""
    samples = read_samples(samples_path)
    context, query = read_masks(masks_path, "test")
    images = read_images(data_path, "test")
    if samples.index.max(initial=-1) >= len(images):
        raise ValueError(f"{samples_path}: indexes test image {samples.index.max()} but {data_path} has {len(images)}")
    table = score(samples, images, context, query)
    for key in ("scheme", "dataset", "approach"):
        table.insert(0, key, samples.attrs[key])
    with atomic_path(out_path) as tmp:
        table[COLUMNS].to_csv(tmp, index=False, float_format="%.6g")
