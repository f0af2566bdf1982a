"""Low-light restoration of a short exposure's linear RGB tile (the classical low-light rows).

    amplify          x_hat = clip(r y, 0, 1)       y: a short exposure's tile, linear RGB in [0, 1];
                                                   r: its exposure ratio (long / short)
    amplify_denoise  x_hat = D(clip(r y, 0, 1))    D: a classical scikit-image denoiser, non-local
                                                   means or wavelet shrinkage, run in linear RGB or
                                                   after the sRGB curve (`space`)

The sRGB transfer curve (IEC 61966-2-1) and its inverse live here too: the scorer
(`sparsefield.scoring.tiles`) and the figures use them.
"""

from __future__ import annotations

import numpy as np
from skimage.restoration import denoise_nl_means, denoise_wavelet, estimate_sigma

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
            patch_size: int = 5, patch_distance: int = 8) -> np.ndarray:
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

    if denoiser not in DENOISERS or space not in SPACES:
        raise ValueError(f"denoise: denoiser must be in {DENOISERS} and space in {SPACES}, got {denoiser!r}, {space!r}")
    x = to_srgb(image) if space == "srgb" else np.clip(image, 0.0, 1.0)
    if denoiser == "wavelet":
        out = denoise_wavelet(x, sigma=sigma, wavelet=wavelet, mode=mode, method=method, channel_axis=-1,
                              convert2ycbcr=True, rescale_sigma=True)
    else:
        s = float(np.mean(estimate_sigma(x, channel_axis=-1))) if sigma is None else sigma
        s = max(s, 1e-6)  # a flat image estimates 0
        out = denoise_nl_means(x, h=h * s, sigma=s, patch_size=patch_size, patch_distance=patch_distance,
                               fast_mode=True, channel_axis=-1)
    out = np.clip(out, 0.0, 1.0)
    return from_srgb(out) if space == "srgb" else out
