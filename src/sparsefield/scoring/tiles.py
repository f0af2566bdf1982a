"""Score low-light restorations of a raw set's test pairs against the long exposures.

MSE, MAE, PSNR and SSIM of `sparsefield.metrics` (data range 1, per tile, then averaged over the
tiles of a ratio) against the long exposure's tile at the same position, twice:

    region "linear"  on linear RGB in [0, 1], the values the tiles store
    region "srgb"    after the fixed sRGB transfer curve (IEC 61966-2-1) applied to both

Rows: dataset = the raw set, scheme = the ratio ("x100"), region = the space, estimator "mean";
costs (seconds_per_image = seconds per tile, nfe, params and train_seconds when learned, n_images =
tiles) per ratio with region and estimator "-". The long exposure is itself a capture (low noise,
not noise-free), as in SID. Never set these figures beside SID's published ones: those are sRGB
PSNR of whole images developed by LibRaw with its own white balance, on other images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sparsefield.baselines.lowlight import SPACES, to_srgb
from sparsefield.data.raw.tiles import linear_rgb
from sparsefield.metrics import image_metrics

TRANSFORMS = dict(zip(SPACES, (np.asarray, to_srgb), strict=True))  # linear RGB as stored; after the sRGB curve


def scheme_of(ratio: float) -> str:
    """The scheme column of a ratio's rows: 100 -> 'x100'."""
    return f"x{ratio:g}"


def per_tile(pred: np.ndarray, truth: np.ndarray, ratios: np.ndarray) -> pd.DataFrame:
    """Metrics of every tile, in both spaces: predictions (N, T, T, 3) against long exposures, linear RGB in [0, 1].

    Returns:
        DataFrame with columns ratio, space, metric, value (tile by tile).
    """
    full = {"full": np.ones(pred.shape[:3], dtype=bool)}
    parts = []
    for space, transform in TRANSFORMS.items():
        table = image_metrics(transform(pred), transform(truth), full)
        parts.append(table.assign(ratio=ratios[table["image"].to_numpy()], space=space))
    return pd.concat(parts, ignore_index=True)[["ratio", "space", "metric", "value"]]


def averaged(tiles: pd.DataFrame) -> pd.DataFrame:
    """Per ratio and space, the mean over tiles of `per_tile`'s rows: columns scheme ("x100"), metric, region (the
    space), estimator, value."""
    parts = []
    for ratio in np.unique(tiles["ratio"]):
        for space in TRANSFORMS:
            rows = tiles[(tiles["ratio"] == ratio) & (tiles["space"] == space)]
            mean = rows.groupby("metric", sort=False)["value"].mean()
            parts.append(pd.DataFrame({"scheme": scheme_of(ratio), "metric": mean.index, "region": space,
                                       "estimator": "mean", "value": mean.values}))
    return pd.concat(parts, ignore_index=True)


def score_restorations(pred: np.ndarray, truth: np.ndarray, ratios: np.ndarray) -> pd.DataFrame:
    """Metrics per ratio and space of predictions (N, T, T, 3) against long exposures, linear RGB in [0, 1].

    Returns:
        DataFrame with columns scheme ("x100"), metric, region (the space), estimator, value.
    """
    return averaged(per_tile(pred, truth, ratios))


def score(chunks, pairs) -> pd.DataFrame:
    """Rows of metrics.csv (without approach and dataset) of a low-light approach's samples, read a chunk at a time.

    Args:
        chunks: the approach's `sparsefield.samples.Samples` in chunks of rows (`samples.iter_samples`): linear RGB
            (B, 1, T, T, 3), each chunk's `index` the positions of its tiles in `pairs`.
        pairs: the raw set's `data.raw.tiles.paired_test_tiles`, whole (the tiles a chunk names are read, one by one).
    """
    tables, counts, attrs = [], {}, {}
    for samples in chunks:
        attrs = samples.attrs
        if samples.index.max(initial=-1) >= len(pairs):
            raise ValueError(f"samples index test pair {samples.index.max()}, the raw set has {len(pairs)} test pairs")
        part = pairs.take(samples.index)
        truth = np.stack([linear_rgb(part[i][1]) for i in range(len(part))])
        ratios = np.array([record["ratio"] for record in part.records])
        tables.append(per_tile(samples.mean.astype(np.float64), truth, ratios))
        for ratio in ratios:
            counts[ratio] = counts.get(ratio, 0) + 1
    if not tables:
        raise ValueError("samples hold no test pair")
    table = averaged(pd.concat(tables, ignore_index=True))
    shared = [(key, float(attrs[key])) for key in ("seconds_per_image", "nfe", "params", "train_seconds")
              if key in attrs]
    costs = [
        {"scheme": scheme_of(ratio), "metric": metric, "region": "-", "estimator": "-", "value": value}
        for ratio in sorted(counts)
        for metric, value in (*shared, ("n_images", counts[ratio]))
    ]
    return pd.concat([table, pd.DataFrame(costs)], ignore_index=True)
