"""Per-image reconstruction metrics on pixel regions, and scores of K-sample ensembles.

Regions: boolean (N, H, W) masks built from an image's fixed context and query pixels.

    context    the pixels the approach observed
    query      the held-out pixels scored during training (disjoint from context)
    remaining  neither context nor query
    missing    everything the approach did not observe: query ∪ remaining (= not context)
    full       every pixel

Metrics, per image i and region R with |R| pixels, C channels and e = pred - target
(images in [0, 1], data range 1):

    MSE   = Σ_{p∈R, c} e² / (|R| C)
    MAE   = Σ_{p∈R, c} |e| / (|R| C)
    PSNR  = 10 log10(1 / MSE) dB, +inf where MSE = 0 (`psnr`). One value per image, so a mean over
            images downstream is "PSNR per image, then averaged" (not the PSNR of the mean MSE).
    SSIM  = the mean over p ∈ R and channels of the SSIM map of torchmetrics'
            `structural_similarity_index_measure` (Gaussian window, sigma 1.5, 11 x 11,
            k1 0.01, k2 0.03, data range 1; computed here in float64 by `_ssim_map`, equal to
            torchmetrics' map to ~1e-12 but ~50x faster on a CPU). torchmetrics reflect-pads the
            image by 5 pixels, so the map has one value per pixel and its mean over `full` is
            torchmetrics' per-image SSIM; scikit-image instead averages only the interior,
            cropping 5 border pixels, so its numbers differ slightly. A pixel's SSIM value
            describes its 11 x 11 neighbourhood, which reaches outside small regions: SSIM on
            `context` or `query` is the local structural agreement at those pixels, not the SSIM
            of an image made of the region alone.

An empty region gives NaN for all four. Needs H, W >= 6 (the reflect padding).

Ensembles (K samples per target, for stochastic approaches):

    CRPS(F, y) = E|X - y| - 1/2 E|X - X'|, X, X' ~ F independent. `crps_ensemble` uses the
        standard estimator by default: F = the empirical distribution of the K samples, so
        E|X - X'| = Σ_{i,j} |x_i - x_j| / K²; with K = 1 it is the absolute error. It is
        biased upwards, by sigma / (sqrt(pi) K) for a Gaussian, relative to the CRPS of the
        distribution the samples come from; `fair=True` divides by K (K - 1) instead, which
        removes that bias (needs K >= 2). Compare approaches at equal K either way.
    coverage: whether y lies in the central `level` interval of the samples, between their
        (1 - level)/2 and (1 + level)/2 quantiles (np.quantile, linear interpolation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from sparsefield.data.images.masks import observed_pixels

REGIONS = ("context", "query", "remaining", "missing", "full")
METRICS = ("mse", "mae", "psnr", "ssim")
_BLOCK_VALUES = 1 << 18  # pixel values per block of images in image_metrics: stays in cache (measured)
_CHUNK_ELEMENTS = 1 << 20  # target elements per block in the ensemble scores


def region_masks(context: np.ndarray, query: np.ndarray, height: int, width: int) -> dict[str, np.ndarray]:
    """Boolean (N, H, W) masks of every region in REGIONS.

    Args:
        context: (N, Kc) int flat row-major pixel indices (y * width + x).
        query: (N, Kq) int flat pixel indices, disjoint from `context` per image.
        height, width: image size.

    Returns:
        {region: (N, H, W) bool} for context, query, remaining, missing, full.
    """
    context, query = np.asarray(context, dtype=np.int64), np.asarray(query, dtype=np.int64)
    for name, indices in (("context", context), ("query", query)):
        if indices.size and (indices.min() < 0 or indices.max() >= height * width):
            raise ValueError(f"{name} indices must lie in [0, {height * width}) for {height}x{width} images")
    observed = observed_pixels(context, height, width)  # one scatter each
    query_mask = observed_pixels(query, height, width)
    overlap = (observed & query_mask).any(axis=(1, 2))
    if overlap.any():
        first = np.flatnonzero(overlap)[0]
        raise ValueError(f"context and query overlap in {overlap.sum()} images (first: image {first})")
    return {
        "context": observed,
        "query": query_mask,
        "remaining": ~(observed | query_mask),
        "missing": ~observed,
        "full": np.ones_like(observed),
    }


def psnr(mse: np.ndarray) -> np.ndarray:
    """PSNR in dB of per-image MSEs on [0, 1] data (data range 1): 10 log10(1 / MSE), +inf where MSE = 0.

    The one conversion every PSNR in the package goes through: the tables (`image_metrics`), the
    extra regions, the learning curve and the NFE sweep (`psnr_per_image`).
    """
    with np.errstate(divide="ignore"):
        return -10.0 * np.log10(mse)


def mse_per_image(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(N,) MSE of each image over the pixels of `mask` (N, H, W) and every channel (all pixels if None).

    pred, target: (N, ..., C) in [0, 1], computed in their own dtype. An empty region gives NaN.
    """
    err2 = (np.asarray(pred) - np.asarray(target)) ** 2
    n, channels = len(err2), err2.shape[-1]
    if mask is None:
        return err2.reshape(n, -1).mean(1)
    inside = np.asarray(mask).reshape(n, -1)
    per_pixel = err2.reshape(n, -1, channels).mean(-1)
    with np.errstate(invalid="ignore"):
        return np.where(inside, per_pixel, 0.0).sum(1) / inside.sum(1)


def psnr_per_image(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(N,) PSNR (dB) of each image over `mask`'s pixels: `psnr(mse_per_image(...))`."""
    return psnr(mse_per_image(pred, target, mask))


def missing_psnr_per_image(pred: np.ndarray, images: np.ndarray, context: np.ndarray) -> np.ndarray:
    """(N,) PSNR of predictions (N, H, W, C) in [0, 1] of uint8 `images` on the pixels not in `context` (N, Kc)."""
    truth = np.asarray(images, dtype=np.float64) / 255.0
    return psnr_per_image(pred, truth, ~observed_pixels(context, *truth.shape[1:3]))


def mean_missing_psnr(pred: np.ndarray, images: np.ndarray, context: np.ndarray) -> float:
    """The mean over images of `missing_psnr_per_image`: a learning curve's and an NFE sweep's number."""
    return float(missing_psnr_per_image(pred, images, context).mean())


def _blur_matrix(size: int, sigma: float = 1.5, taps: int = 11) -> torch.Tensor:
    """(size, size) float64 A with A @ x = torchmetrics' 1D Gaussian blur of x after reflect padding.

    Taps exp(-d² / (2 sigma²)), d = -5..5, normalised to sum 1; the reflect padding by
    taps // 2 pixels is folded in, so a 2D blur of an image X is A_H @ X @ A_W^T.
    """
    half = taps // 2
    offsets = torch.arange(-half, half + 1)
    gauss = torch.exp(-0.5 * (offsets.double() / sigma) ** 2)
    gauss = gauss / gauss.sum()
    source = torch.arange(size)[:, None] + offsets[None, :]  # (size, taps) padded positions
    source = torch.where(source < 0, -source, source)  # reflect about 0 ...
    source = torch.where(source > size - 1, 2 * (size - 1) - source, source)  # ... and about size - 1
    rows = torch.arange(size)[:, None].expand_as(source)
    matrix = torch.zeros(size, size, dtype=torch.float64)
    return matrix.index_put_((rows, source), gauss.expand_as(source), accumulate=True)


def _ssim_map(pred: torch.Tensor, target: torch.Tensor, k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """torchmetrics' SSIM map (Gaussian 11 x 11, sigma 1.5, data range 1) of (B, C, H, W) -> (B, C, H, W).

    The same formula as `torchmetrics.functional.image.structural_similarity_index_measure(...,
    return_full_image=True)`, but the separable blur runs as two batched matrix products
    instead of a grouped 11 x 11 convolution: 10000 images of 32 x 32 x 3 in float64 take
    seconds instead of minutes on a CPU. Tests check it against torchmetrics.
    """
    a_h, a_w = _blur_matrix(pred.shape[-2]).to(pred), _blur_matrix(pred.shape[-1]).to(pred)
    stats = torch.stack([pred, target, pred * pred, target * target, pred * target])
    mu_p, mu_t, e_pp, e_tt, e_pt = a_h @ stats @ a_w.T  # local means of p, t, p², t², p t
    c1, c2 = k1**2, k2**2  # (k data_range)², data range 1
    mu_pt = mu_p * mu_t
    var_p = (e_pp - mu_p.square_()).clamp_(min=0.0)  # mu_p, mu_t become their squares here
    var_t = (e_tt - mu_t.square_()).clamp_(min=0.0)
    numerator = (2 * mu_pt + c1).mul_(2 * (e_pt - mu_pt) + c2)  # (2 mu_p mu_t + c1)(2 cov + c2)
    return numerator.div_((mu_p + mu_t + c1).mul_(var_p + var_t + c2))


def _chunk_metrics(pred: torch.Tensor, target: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """MSE, MAE and SSIM of images (B, C, H, W) float64 on region masks (B, H*W, R) float64 -> (B, R, 3)."""
    batch, channels = pred.shape[:2]
    err = pred - target
    per_pixel = torch.stack([err.square().sum(1), err.abs().sum(1), _ssim_map(pred, target).sum(1)], dim=1)
    sums = per_pixel.view(batch, 3, -1) @ masks  # (B, 3, R): region sums of e², |e|, SSIM over channels
    mse, mae, ssim = (sums / (masks.sum(1) * channels)[:, None, :]).unbind(1)  # (B, R) each
    return torch.stack([mse, mae, ssim], dim=2)


def image_metrics(pred: np.ndarray, target: np.ndarray, masks: dict[str, np.ndarray]) -> pd.DataFrame:
    """MSE, MAE, PSNR and SSIM of every image on every region (definitions: module docstring).

    Args:
        pred: (N, H, W, C) float in [0, 1], channels last.
        target: (N, H, W, C) float in [0, 1].
        masks: {region: (N, H, W) bool}, e.g. from `region_masks`.

    Returns:
        Long table with columns image (position 0..N-1), region, metric, value; rows ordered
        by image, then region (in the order of `masks`), then metric (mse, mae, psnr, ssim).
    """
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(f"pred and target must both be (N, H, W, C); got {pred.shape} and {target.shape}")
    n, height, width, channels = pred.shape
    if min(height, width) < 6:
        raise ValueError(f"SSIM needs images of at least 6x6 pixels (reflect pad 5), got {height}x{width}")
    for region, mask in masks.items():
        if mask.shape != (n, height, width):
            raise ValueError(f"mask '{region}' has shape {mask.shape}, expected {(n, height, width)}")
    regions = list(masks)
    values = np.empty((n, len(regions), len(METRICS)))
    step = max(1, _BLOCK_VALUES // (height * width * channels))  # 85 images of 32 x 32 x 3
    for start in range(0, n, step):
        block = slice(start, start + step)
        p = torch.from_numpy(np.asarray(pred[block], dtype=np.float64)).permute(0, 3, 1, 2)  # (B, C, H, W)
        t = torch.from_numpy(np.asarray(target[block], dtype=np.float64)).permute(0, 3, 1, 2)
        m = np.stack([masks[r][block].reshape(-1, height * width) for r in regions], axis=2)  # (B, H*W, R)
        m = torch.from_numpy(m.astype(np.float64))
        mse, mae, ssim = _chunk_metrics(p.contiguous(), t.contiguous(), m).numpy().transpose(2, 0, 1)
        values[block] = np.stack([mse, mae, psnr(mse), ssim], axis=2)
    return pd.DataFrame(
        {
            "image": np.repeat(np.arange(n), len(regions) * len(METRICS)),
            "region": np.tile(np.repeat(regions, len(METRICS)), n),
            "metric": np.tile(METRICS, n * len(regions)),
            "value": values.ravel(),
        }
    )


def _per_element(samples: np.ndarray, target: np.ndarray, score) -> np.ndarray:
    """Apply score(samples (K, M), target (M,)) -> (M,) over blocks of the flattened elements."""
    samples, target = np.asarray(samples), np.asarray(target)
    if samples.ndim < 1 or samples.shape[1:] != target.shape:
        raise ValueError(f"samples must be (K, *target.shape); got {samples.shape} and target {target.shape}")
    flat_s, flat_t = samples.reshape(len(samples), -1), target.reshape(-1)
    out = [
        score(flat_s[:, i : i + _CHUNK_ELEMENTS], flat_t[i : i + _CHUNK_ELEMENTS])
        for i in range(0, flat_t.size, _CHUNK_ELEMENTS)
    ]
    return (np.concatenate(out) if out else np.empty(0)).reshape(target.shape)


def crps_ensemble(samples: np.ndarray, target: np.ndarray, *, fair: bool = False) -> np.ndarray:
    """CRPS of a K-member ensemble per element: E|X - y| - 1/2 E|X - X'| (module docstring).

    Args:
        samples: (K, ...) ensemble members.
        target: (...) observed values.
        fair: use the fair (unbiased) spread term Σ|x_i - x_j| / (K (K - 1)) instead of / K².

    Returns:
        (...) float64 CRPS, in the units of the data; 0 is perfect.
    """
    k = len(samples)
    if k < 1 or (fair and k < 2):
        raise ValueError(f"crps_ensemble needs K >= {2 if fair else 1} samples, got {k}")

    def score(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = np.sort(x.astype(np.float64), axis=0)  # (K, M) order statistics x_(1..K)
        skill = np.abs(x - y).mean(axis=0)  # E|X - y|
        weights = 2.0 * np.arange(1, k + 1) - k - 1  # Σ_{i,j} |x_i - x_j| = 2 Σ_i (2i - K - 1) x_(i)
        pair_sum = 2.0 * (weights @ x)
        spread = pair_sum / (k * (k - 1) if fair else k * k)  # E|X - X'|
        return skill - 0.5 * spread

    return _per_element(samples, target, score)


def interval_coverage(samples: np.ndarray, target: np.ndarray, level: float = 0.9) -> np.ndarray:
    """Whether each target lies inside the central `level` interval of its samples.

    Args:
        samples: (K, ...) ensemble members.
        target: (...) observed values.
        level: probability mass of the central interval, in (0, 1).

    Returns:
        (...) bool: q_{(1-level)/2} <= y <= q_{(1+level)/2} of the K samples (np.quantile).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")

    def score(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        low, high = np.quantile(x, [(1.0 - level) / 2, (1.0 + level) / 2], axis=0)
        return (low <= y) & (y <= high)

    return _per_element(samples, target, score).astype(bool)
