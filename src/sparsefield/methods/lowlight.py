"""Family `lowlight` (kinds amplify, amplify_denoise): a raw set's short-exposure test tiles, brightened
and optionally denoised (the math: `sparsefield.baselines.lowlight`)."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np

from sparsefield.baselines.lowlight import amplify, denoise
from sparsefield.samples import Reconstruction


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


def _restore(short, ratio: float, *, kind: str, params: dict):

    bright = amplify(short, ratio)
    return (bright if kind == "amplify" else denoise(bright, **params)).astype("float32")


def reconstruct(kind: str, params: Params, pairs, *, threads: int = 1, **_):
    """Restore every test pair's short tile of `pairs` (`data.raw.tiles.paired_test_tiles`), in its order.

    `threads` worker processes share amplify_denoise's tiles (scikit-image's non-local means runs on one core;
    SID's test set is ~10^5 tiles); the result does not depend on it. seconds_per_image is the wall clock per
    tile. Samples are linear RGB in [0, 1], float32, (N, 1, T, T, 3).
    """

    from sparsefield.data.raw.tiles import linear_rgb

    shorts = [linear_rgb(pairs[i][0]) for i in range(len(pairs))]
    ratios = [float(pairs[i][2]) for i in range(len(pairs))]
    job = partial(_restore, kind=kind, params=asdict(params))
    start = time.perf_counter()
    if kind == "amplify" or threads <= 1 or len(shorts) < 2:
        restored = list(map(job, shorts, ratios))
    else:
        workers = min(threads, len(shorts))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            restored = list(pool.map(job, shorts, ratios, chunksize=-(-len(shorts) // workers)))
    seconds = (time.perf_counter() - start) / len(shorts)
    return Reconstruction(np.stack(restored)[:, None], dict(nfe=0, seconds_per_image=seconds))
