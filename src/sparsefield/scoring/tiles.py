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
from sparsefield.data.tiles import linear_rgb
from sparsefield.metrics import image_metrics

TRANSFORMS = dict(zip(SPACES, (np.asarray, to_srgb), strict=True))  # linear RGB as stored; after the sRGB curve


def scheme_of(ratio: float) -> str:
    """The scheme column of a ratio's rows: 100 -> 'x100'."""
    return f"x{ratio:g}"


def score_restorations(pred: np.ndarray, truth: np.ndarray, ratios: np.ndarray) -> pd.DataFrame:
    """Metrics per ratio and space of predictions (N, T, T, 3) against long exposures, linear RGB in [0, 1].

    Returns:
        DataFrame with columns scheme ("x100"), metric, region (the space), estimator, value.
    """
    parts = []
    for ratio in np.unique(ratios):
        rows = ratios == ratio
        full = {"full": np.ones(pred[rows].shape[:3], dtype=bool)}
        for space, transform in TRANSFORMS.items():
            table = image_metrics(transform(pred[rows]), transform(truth[rows]), full)
            mean = table.groupby("metric", sort=False)["value"].mean()
            parts.append(pd.DataFrame({"scheme": scheme_of(ratio), "metric": mean.index, "region": space,
                                       "estimator": "mean", "value": mean.values}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def score(samples, pairs) -> pd.DataFrame:
    """Rows of metrics.csv (without approach and dataset) of a low-light approach's Samples.

    Args:
        samples: `sparsefield.samples.Samples`, linear RGB (N, 1, T, T, 3) in `pairs` order.
        pairs: the raw set's `data.tiles.paired_test_tiles`.
    """
    if len(samples.index) != len(pairs) or not np.array_equal(samples.index, np.arange(len(pairs))):
        raise ValueError(f"samples hold {len(samples.index)} tiles, the raw set has {len(pairs)} test pairs")
    truth = np.stack([linear_rgb(pairs[i][1]) for i in range(len(pairs))])
    ratios = np.array([record["ratio"] for record in pairs.records])
    table = score_restorations(samples.mean.astype(np.float64), truth, ratios)
    shared = [(key, float(samples.attrs[key])) for key in ("seconds_per_image", "nfe", "params", "train_seconds")
              if key in samples.attrs]  # fmt: skip
    costs = [
        {"scheme": scheme_of(ratio), "metric": metric, "region": "-", "estimator": "-", "value": value}
        for ratio in np.unique(ratios)
        for metric, value in (*shared, ("n_images", int((ratios == ratio).sum())))
    ]
    return pd.concat([table, pd.DataFrame(costs)], ignore_index=True)
