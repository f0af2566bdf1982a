"""Family `lowlight` (kinds amplify, amplify_denoise): a raw set's short-exposure test tiles, brightened
and optionally denoised (the math: `sparsefield.baselines.lowlight`)."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Params:
    """amplify_denoise's denoiser (`baselines.lowlight.denoise`); amplify takes none (the schema says so)."""

    denoiser: str = "nl_means"  # "nl_means" or "wavelet"
    space: str = "linear"  # denoise linear RGB, or after the sRGB curve and back ("srgb")
    sigma: float | None = None  # noise std in that space; None = estimated per tile
    h: float = 1.6  # non-local means strength, a multiple of sigma
    patch_size: int = 5  # non-local means patch side
    patch_distance: int = 8  # non-local means search radius
    wavelet: str = "db1"  # wavelet shrinkage: the wavelet, thresholding mode and rule
    mode: str = "soft"
    method: str = "BayesShrink"


def reconstruct(kind: str, params: Params, pairs, **_):
    """Restore every test pair's short tile of `pairs` (`data.tiles.paired_test_tiles`), in its order.

    Samples are linear RGB in [0, 1], (N, 1, T, T, 3).
    """
    from dataclasses import asdict

    import numpy as np

    from sparsefield.baselines.lowlight import amplify, denoise
    from sparsefield.data.tiles import linear_rgb
    from sparsefield.samples import Reconstruction

    shorts = [(linear_rgb(pairs[i][0]), float(pairs[i][2])) for i in range(len(pairs))]
    start = time.perf_counter()
    if kind == "amplify":
        restored = [amplify(short, ratio) for short, ratio in shorts]
    else:
        restored = [denoise(amplify(short, ratio), **asdict(params)) for short, ratio in shorts]
    seconds = (time.perf_counter() - start) / len(shorts)
    return Reconstruction(np.stack(restored)[:, None], dict(nfe=0, seconds_per_image=seconds))
