"""Low-light baselines on a raw set's paired test tiles, scored against the long exposure.

    amplify          x_hat = clip(r y, 0, 1)       y: a short exposure's tile, linear RGB in [0, 1];
                                                   r: its exposure ratio (long / short)
    amplify_denoise  x_hat = D(clip(r y, 0, 1))    D: a classical scikit-image denoiser, non-local
                                                   means or wavelet shrinkage, run in linear RGB or
                                                   after the sRGB curve (`space`)

Scores (`evaluate_lowlight`): MSE, MAE, PSNR and SSIM of `sparsefield.metrics` (data range 1,
per tile, then averaged over the tiles of a ratio) against the long exposure's tile at the same
position, twice:

    region "linear"  on linear RGB in [0, 1], the values the tiles store
    region "srgb"    after the fixed sRGB transfer curve (IEC 61966-2-1) applied to both

metrics.csv has evaluate.py's columns: dataset = the raw set, scheme = the ratio ("x100"),
region = the space, estimator "mean"; costs (seconds_per_image = seconds per tile, nfe 0,
n_images = tiles) have region and estimator "-". The long exposure is itself a capture (low
noise, not noise-free), as in SID. Never set these figures beside SID's published ones: those
are sRGB PSNR of whole images developed by LibRaw with its own white balance, on other images.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import torch

from sparsefield.data.tiles import TileDataset
from sparsefield.evaluate import COLUMNS
from sparsefield.io import atomic_path
from sparsefield.metrics import image_metrics
from sparsefield.samples import read_samples, write_samples

SPACES = ("linear", "srgb")
DENOISERS = ("wavelet", "nl_means")


def to_srgb(x: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve of linear values, clipped to [0, 1] first."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def from_srgb(v: np.ndarray) -> np.ndarray:
    """Inverse of `to_srgb` on [0, 1]."""
    v = np.clip(v, 0.0, 1.0)
    return np.where(v <= 0.04045, v / 12.92, np.power((v + 0.055) / 1.055, 2.4))


def amplify(short: np.ndarray, ratio: float) -> np.ndarray:
    """(H, W, 3) linear short exposure in [0, 1] -> clip(ratio * short, 0, 1)."""
    return np.clip(short * ratio, 0.0, 1.0)


def denoise(image: np.ndarray, *, denoiser: str = "nl_means", space: str = "linear", sigma: float | None = None,
            wavelet: str = "db1", mode: str = "soft", method: str = "BayesShrink", h: float = 1.6,
            patch_size: int = 5, patch_distance: int = 8) -> np.ndarray:  # fmt: skip
    """Denoise a linear RGB image (H, W, 3) in [0, 1] with scikit-image; returns linear RGB in [0, 1].

    Args:
        denoiser: 'wavelet' (denoise_wavelet in YCbCr) or 'nl_means' (denoise_nl_means, fast mode).
        space: 'linear' denoises the linear values; 'srgb' denoises after the sRGB curve (which
            compresses the bright, shot-noise dominated values) and maps back.
        sigma: noise std in that space; None estimates it per image (skimage estimate_sigma).
        wavelet, mode, method: denoise_wavelet's wavelet, thresholding mode and threshold rule.
        h: non-local means filter strength as a multiple of sigma.
        patch_size, patch_distance: non-local means patch side and search radius.
    """
    from skimage.restoration import denoise_nl_means, denoise_wavelet, estimate_sigma

    if denoiser not in DENOISERS or space not in SPACES:
        raise ValueError(f"denoise: denoiser must be in {DENOISERS} and space in {SPACES}, got {denoiser!r}, {space!r}")
    x = to_srgb(image) if space == "srgb" else np.clip(image, 0.0, 1.0)
    if denoiser == "wavelet":
        out = denoise_wavelet(x, sigma=sigma, wavelet=wavelet, mode=mode, method=method, channel_axis=-1,
                              convert2ycbcr=True, rescale_sigma=True)  # fmt: skip
    else:
        s = float(np.mean(estimate_sigma(x, channel_axis=-1))) if sigma is None else sigma
        s = max(s, 1e-6)  # a flat image estimates 0
        out = denoise_nl_means(x, h=h * s, sigma=s, patch_size=patch_size, patch_distance=patch_distance,
                               fast_mode=True, channel_axis=-1)  # fmt: skip
    out = np.clip(out, 0.0, 1.0)
    return from_srgb(out) if space == "srgb" else out


def restore(kind: str, short: np.ndarray, ratio: float, **params) -> np.ndarray:
    """The low-light approach `kind` ('amplify' or 'amplify_denoise') on one short tile (H, W, 3)."""
    if kind == "amplify":
        if params:
            raise ValueError(f"amplify takes no parameters, got {sorted(params)}")
        return amplify(short, ratio)
    if kind == "amplify_denoise":
        return denoise(amplify(short, ratio), **params)
    raise ValueError(f"lowlight: unknown kind {kind!r}; choose 'amplify' or 'amplify_denoise'")


def _linear(tile: torch.Tensor) -> np.ndarray:
    """A stored tile (3, T, T) in [-1, 1] -> linear RGB (T, T, 3) in [0, 1], float64."""
    return (tile.double().permute(1, 2, 0).numpy() + 1.0) / 2.0


def paired_test_tiles(metadata: str | os.PathLike) -> TileDataset:
    """The validated noisy/clean pairs of the raw set's test split (the order every stage shares)."""
    pairs = TileDataset(metadata, split="test", pairs=True)
    pairs.validate()
    return pairs


def lowlight_stage(metadata, out_path, *, approach: str, kind: str, rawset: str, **params) -> None:
    """The stage entry point: restore every test pair's short tile -> `out_path` (samples.h5, K = 1).

    Samples are linear RGB in [0, 1], (N, 1, T, T, 3), in `paired_test_tiles` order (index 0..N-1).
    """
    pairs = paired_test_tiles(metadata)
    shorts = [(_linear(pairs[i][0]), float(pairs[i][2])) for i in range(len(pairs))]
    start = time.perf_counter()
    restored = np.stack([restore(kind, short, ratio, **params) for short, ratio in shorts])
    seconds = (time.perf_counter() - start) / len(shorts)
    write_samples(out_path, restored[:, None], np.arange(len(shorts)), approach=approach, kind=kind,
                  dataset=rawset, scheme="lowlight", nfe=0, seconds_per_image=seconds)  # fmt: skip


def scheme_of(ratio: float) -> str:
    """The scheme column of a ratio's rows: 100 -> 'x100'."""
    return f"x{ratio:g}"


def score(pred: np.ndarray, truth: np.ndarray, ratios: np.ndarray) -> pd.DataFrame:
    """Metrics per ratio and space of predictions against the long exposures.

    Args:
        pred, truth: (N, T, T, 3) linear RGB in [0, 1].
        ratios: (N,) exposure ratio of each pair.

    Returns:
        DataFrame with columns scheme ("x100"), metric, region (the space), estimator, value.
    """
    parts = []
    for ratio in np.unique(ratios):
        rows = ratios == ratio
        full = {"full": np.ones(pred[rows].shape[:3], dtype=bool)}
        for space, transform in (("linear", np.asarray), ("srgb", to_srgb)):
            table = image_metrics(transform(pred[rows]), transform(truth[rows]), full)
            mean = table.groupby("metric", sort=False)["value"].mean()
            parts.append(pd.DataFrame({"scheme": scheme_of(ratio), "metric": mean.index, "region": space,
                                       "estimator": "mean", "value": mean.values}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def evaluate_lowlight(metadata, samples_path, out_path: str | os.PathLike) -> None:
    """The stage entry point: score a low-light approach's samples.h5 -> `out_path` (metrics.csv)."""
    samples = read_samples(samples_path)
    pairs = paired_test_tiles(metadata)
    if len(samples.index) != len(pairs) or not np.array_equal(samples.index, np.arange(len(pairs))):
        raise ValueError(f"{samples_path}: holds {len(samples.index)} tiles, {metadata} has {len(pairs)} test pairs")
    truth = np.stack([_linear(pairs[i][1]) for i in range(len(pairs))])
    ratios = np.array([record["ratio"] for record in pairs.records])
    table = score(samples.mean.astype(np.float64), truth, ratios)
    costs = [
        {"scheme": scheme_of(ratio), "metric": metric, "region": "-", "estimator": "-", "value": value}
        for ratio in np.unique(ratios)
        for metric, value in (("seconds_per_image", samples.attrs["seconds_per_image"]), ("nfe", 0),
                              ("n_images", int((ratios == ratio).sum())))
    ]  # fmt: skip
    table = pd.concat([table, pd.DataFrame(costs)], ignore_index=True)
    table.insert(0, "dataset", samples.attrs["dataset"])
    table.insert(0, "approach", samples.attrs["approach"])
    with atomic_path(out_path) as tmp:
        table[COLUMNS].to_csv(tmp, index=False, float_format="%.6g")
