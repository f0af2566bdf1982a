"""Paired-bootstrap intervals of per-image PSNR differences between two approaches on the same images.

With a few dozen test images a 0.1 dB difference of mean PSNRs is near the noise. For approaches
a and b scored on the same images i = 1..n, d_i = PSNR_a(i) − PSNR_b(i); the estimate is the mean
of d, and its 95 % interval is the percentile interval of the means of B resamples of the n images
drawn with replacement (the same resample for a and b: "paired", so what the two approaches share
about an image, e.g. that it is hard, cancels). Fixed seed: the same inputs give the same interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

N_BOOT = 10_000
LEVEL = 0.95
SEED = 0
_BLOCK_VALUES = 1 << 22  # resampled values per block: bounds memory for any number of images


@dataclass(frozen=True)
class Interval:
    """Mean difference and its bootstrap percentile interval, over `n` paired images."""

    mean: float
    low: float
    high: float
    n: int


def paired_bootstrap(a, b, *, n_boot: int = N_BOOT, level: float = LEVEL, seed: int = SEED) -> Interval:
    """Mean of a − b over paired values and its paired-bootstrap percentile interval.

    Args:
        a, b: (n,) per-image values of two approaches on the same images, in the same order. Pairs
            where either value is not finite (an empty region's NaN, an exact reconstruction's +inf)
            are left out.
        n_boot: bootstrap resamples B.
        level: central coverage of the interval (0.95: the 2.5 % and 97.5 % quantiles).
        seed: seed of the resampling (numpy's default generator).

    Returns:
        Interval(mean, low, high, n); all NaN with n = 0 when no pair is finite.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired_bootstrap needs two (n,) arrays of the same length, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    diff = a[keep] - b[keep]
    n = len(diff)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    step = max(1, _BLOCK_VALUES // n)
    for start in range(0, n_boot, step):
        rows = min(step, n_boot - start)
        means[start : start + rows] = diff[rng.integers(0, n, size=(rows, n))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(diff.mean()), float(low), float(high), n)


@dataclass(frozen=True)
class Differences:
    """Every approach's per-image difference to one reference approach of the same (dataset, scheme)."""

    reference: str
    intervals: dict[str, Interval]  # approach -> (approach − reference), the reference left out
    n_reference: int  # images the reference scored
    n_boot: int
    seed: int


def differences_to(
    per_image: dict[str, pd.Series], reference: str, *, n_boot: int = N_BOOT, seed: int = SEED
) -> Differences:
    """Each approach's per-image values minus the reference's, on the images both scored.

    Args:
        per_image: approach -> Series of per-image values indexed by test image (position in the split).
        reference: the approach subtracted.
        n_boot, seed: of `paired_bootstrap` (every approach gets the same seed).
    """
    base = per_image[reference]
    intervals = {}
    for name, values in sorted(per_image.items()):
        if name == reference:
            continue
        common = values.index.intersection(base.index).sort_values()
        a, b = values.loc[common].to_numpy(), base.loc[common].to_numpy()
        intervals[name] = paired_bootstrap(a, b, n_boot=n_boot, seed=seed)
    return Differences(reference, intervals, int(np.isfinite(base.to_numpy()).sum()), n_boot, seed)
