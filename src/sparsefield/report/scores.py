"""Per-image PSNRs the report recomputes from samples.h5, for the paired-bootstrap differences.

metrics.csv holds only means over images; a paired interval needs each image's value. They are
computed here through the package's one PSNR path (`sparsefield.metrics.missing_psnr_per_image`) on
the same missing pixels (`sparsefield.data.images.masks.observed_pixels` of the fixed context) as the scorer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sparsefield.metrics import missing_psnr_per_image

HEADLINE_ESTIMATORS = ("posterior_mean", "mean")  # an approach's headline estimate: the first it has


def headline_estimate(samples) -> tuple[str, np.ndarray]:
    """(estimator, (N, H, W, C)) of a `Samples`: the first of HEADLINE_ESTIMATORS it holds."""
    arrays = {"posterior_mean": samples.extras.get("posterior_mean"), "mean": samples.mean}
    estimator = next(name for name in HEADLINE_ESTIMATORS if arrays[name] is not None)
    return estimator, arrays[estimator]


def unit_images(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float64 in [0, 1] (float64: the per-image PSNRs match the scorer's to ~1e-6 dB)."""
    return np.asarray(images, dtype=np.float64) / 255.0


def missing_psnr_by_image(prediction: np.ndarray, images: np.ndarray, context: np.ndarray,
                          index: np.ndarray) -> pd.Series:
    """Per-image PSNR on the missing pixels, as a Series indexed by test image.

    Args:
        prediction: (N, H, W, C) in [0, 1], row i the estimate of test image index[i].
        images: (M, H, W, C) uint8, the whole test split.
        context: (M, Kc) flat indices of the test split's fixed context pixels.
        index: (N,) positions of the predicted images in the test split.
    """
    index = np.asarray(index, dtype=np.int64)
    per_image = missing_psnr_per_image(prediction, images[index], context[index])
    return pd.Series(per_image, index=pd.Index(index, name="image"))
