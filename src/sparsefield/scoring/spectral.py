"""Score reconstructions of multispectral leaf images on the leaf pixels and on the whole image.

Regions: "leaf" (the mask's pixels only, the background excluded) and "full" (every pixel).
Per image i, region R and band c (reflectance in [0, 1], data range 1):

    mse_{band}   Σ_{p∈R} (x̂ − x)² / |R|;      psnr_{band} = 10 log10(1 / mse_{band})
    psnr, mse    the mean over bands of psnr_{band} and of mse_{band}
    sam          the spectral angle arccos(⟨x̂_p, x_p⟩ / (‖x̂_p‖ ‖x_p‖)) in degrees (cosine clipped to [−1, 1],
                 float64), averaged over the pixels of R where both spectra have a nonzero norm
    ssim_{band}  the SSIM map of band c (`metrics._ssim_map`, torchmetrics' definition) averaged over R;
                 ssim = the mean over bands

then averaged over the images (an image with an empty region is left out of that region's mean).
Costs (region and estimator "-"): seconds_per_image, nfe, params, train_seconds, latent_per_pixel
when recorded, and n_images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from sparsefield.metrics import _ssim_map, psnr
from sparsefield.scoring.masks import COSTS as IMAGE_COSTS

COSTS = (*IMAGE_COSTS, "latent_per_pixel")


def spectral_angle_degrees(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(...) angle in degrees between spectra (..., C); NaN where either norm is 0."""
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    norms = np.linalg.norm(pred, axis=-1) * np.linalg.norm(target, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.clip((pred * target).sum(-1) / norms, -1.0, 1.0)
    return np.where(norms > 0, np.degrees(np.arccos(cosine)), np.nan)


def _region_means(values: np.ndarray, region: np.ndarray) -> np.ndarray:
    """(N, ...) per-image means of values (N, H, W, ...) over region (N, H, W); NaN for an empty region."""
    weight = region.reshape(*region.shape, *([1] * (values.ndim - 3))).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nansum(values * weight, axis=(1, 2)) / weight.sum(axis=(1, 2))


SCORE_PIXELS = 256 * 32 * 32  # pixels scored at once: 256 tiles of 32, 16 of 128 (its float64 SSIM maps)


def _per_image(samples, data) -> dict[tuple[str, str], np.ndarray]:
    """{(metric, region): (n,) values} of one chunk of rows, NaN where the image does not count (empty region);
    scored SCORE_PIXELS pixels at a time (each image's values do not depend on it)."""
    index = samples.index
    if index.max(initial=-1) >= len(data.images):
        raise ValueError(f"samples index test image {index.max()}, the test split has {len(data.images)}")
    if samples.mean.shape[-1] != len(data.bands):
        raise ValueError(f"samples have {samples.mean.shape[-1]} bands, the dataset {len(data.bands)} ({data.bands})")
    rows = max(1, SCORE_PIXELS // (samples.mean.shape[1] * samples.mean.shape[2]))
    parts: dict[tuple[str, str], list[np.ndarray]] = {}
    for start in range(0, len(index), rows):
        block = slice(start, start + rows)
        for key, values in _scores(samples.mean[block], data.images[index[block]], data.masks[index[block]] > 0,
                                   list(data.bands)).items():
            parts.setdefault(key, []).append(values)
    return {key: np.concatenate(values) for key, values in parts.items()}


def _scores(pred, truth, masks, bands) -> dict[tuple[str, str], np.ndarray]:
    pred, truth = pred.astype(np.float64), truth.astype(np.float64)
    angle = spectral_angle_degrees(pred, truth)
    ssim = _ssim_map(torch.from_numpy(pred).permute(0, 3, 1, 2), torch.from_numpy(truth).permute(0, 3, 1, 2))
    ssim = ssim.permute(0, 2, 3, 1).numpy()
    out = {}
    for region, inside in (("leaf", masks), ("full", np.ones_like(masks))):
        mse = _region_means((pred - truth) ** 2, inside)  # (N, C)
        has = inside.reshape(len(inside), -1).any(1)
        values = {f"mse_{b}": mse[:, c] for c, b in enumerate(bands)}
        values |= {f"psnr_{b}": psnr(mse[:, c]) for c, b in enumerate(bands)}
        values |= {"mse": mse.mean(1), "psnr": psnr(mse).mean(1)}
        ssim_bands = _region_means(ssim, inside)
        values |= {f"ssim_{b}": ssim_bands[:, c] for c, b in enumerate(bands)} | {"ssim": ssim_bands.mean(1)}
        values["sam"] = _region_means(np.nan_to_num(angle), inside & np.isfinite(angle))
        out |= {(metric, region): np.where(has, per_image, np.nan) for metric, per_image in values.items()}
    return out


def score(chunks, data) -> pd.DataFrame:
    """Rows of metrics.csv (without approach, dataset and scheme) of a multispectral approach's samples, read a
    chunk at a time (`samples.iter_samples`; each chunk's `index` into the test split `data`)."""
    parts: dict[tuple[str, str], list[np.ndarray]] = {}
    n, attrs = 0, {}
    for samples in chunks:
        for key, values in _per_image(samples, data).items():
            parts.setdefault(key, []).append(values)
        n, attrs = n + len(samples.index), samples.attrs
    rows = []
    for (metric, region), values in parts.items():
        kept = np.concatenate(values)
        kept = kept[~np.isnan(kept)]
        rows.append(dict(metric=metric, region=region, estimator="mean",
                         value=float(kept.mean()) if len(kept) else float("nan")))
    rows += [dict(metric=key, region="-", estimator="-", value=float(attrs[key])) for key in COSTS if key in attrs]
    rows.append(dict(metric="n_images", region="-", estimator="-", value=float(n)))
    return pd.DataFrame(rows)
