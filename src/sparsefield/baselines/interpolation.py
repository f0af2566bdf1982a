"""Classical reconstruction of whole images from a few observed (context) pixels.

Every method sees only the context pixels of an image, at their integer grid
coordinates (y, x) = (idx // W, idx % W), and fills in all the others:

    nearest     value of the nearest context pixel (scipy NearestNDInterpolator)
    linear      piecewise-linear on the Delaunay triangulation of the context (LinearNDInterpolator)
    cubic       Clough-Tocher piecewise-cubic, C1, on the same triangulation (CloughTocher2DInterpolator)
    biharmonic  solution of the discrete biharmonic equation with the context as boundary
                values (skimage.restoration.inpaint_biharmonic)
    normconv    multi-scale normalised convolution (sparsefield.baselines.normconv), batched in torch:
                the classical estimate the Perceiver IO fields start from

The scattered-data methods triangulate once per image with all channels as one
vector value; pixels outside the convex hull of the context (NaN) take the
nearest context value. Every output is clipped to [0, 1], and then the context
pixels are set to their observed values exactly.

Known answers (tested): `linear` and `cubic` reproduce a plane a + b y + c x
exactly inside the convex hull of the context, so everywhere once the four
corners are context pixels. `biharmonic` reproduces a plane only where the two
outermost pixel rings are observed: scikit-image truncates its 13-point stencil
at the image border, which bends planes there (max error 0.02 on a 32 x 32 plane
of slope 0.01-0.015 per pixel with 10% context plus the corners).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np
from scipy.interpolate import CloughTocher2DInterpolator, LinearNDInterpolator, NearestNDInterpolator
from scipy.spatial import Delaunay, QhullError
from skimage.restoration import inpaint_biharmonic
from threadpoolctl import threadpool_limits

from sparsefield.baselines import normconv

METHODS = ("nearest", "linear", "cubic", "biharmonic", "normconv")


def _scattered(values: np.ndarray, points: np.ndarray, grid: np.ndarray, method: str) -> np.ndarray:
    """Interpolate (Kc, C) values at (Kc, 2) points onto (H*W, 2) grid points -> (H*W, C)."""
    nearest = NearestNDInterpolator(points, values)
    if method == "nearest":
        return nearest(grid)
    try:
        tri = Delaunay(points)
    except QhullError:  # fewer than 3 points, or all on a line: no triangle to interpolate in
        return nearest(grid)
    interpolator = LinearNDInterpolator if method == "linear" else CloughTocher2DInterpolator
    out = interpolator(tri, values)(grid)
    holes = np.isnan(out).any(axis=1)  # outside the convex hull of the context
    out[holes] = nearest(grid[holes])
    return out


def _reconstruct_one(values: np.ndarray, context: np.ndarray, height: int, width: int, method: str) -> np.ndarray:
    """One image from its context values (Kc, C) at flat indices (Kc,) -> (H*W, C) float64."""
    channels = values.shape[1]
    if method == "biharmonic":
        image = np.zeros((height * width, channels))
        image[context] = values
        unknown = np.ones(height * width, dtype=bool)
        unknown[context] = False
        out = inpaint_biharmonic(
            image.reshape(height, width, channels), unknown.reshape(height, width), channel_axis=-1
        )
        out = out.reshape(height * width, channels)
    else:
        points = np.stack(np.divmod(context, width), axis=1).astype(np.float64)  # (Kc, 2) as (y, x)
        grid = np.stack(np.divmod(np.arange(height * width), width), axis=1).astype(np.float64)
        out = _scattered(values, points, grid, method)
    out = np.clip(out, 0.0, 1.0)
    out[context] = values
    return out


def _reconstruct_chunk(values: np.ndarray, context: np.ndarray, height: int, width: int, method: str) -> np.ndarray:
    """Images from context values (n, Kc, C) at indices (n, Kc) -> (n, H, W, C) float32."""
    out = np.empty((len(values), height * width, values.shape[2]), dtype=np.float32)
    # the triangulations call LAPACK on tiny systems, where OpenBLAS helper threads only spin:
    # measured 10-17x slower with two worker processes on two cores unless BLAS keeps to one thread
    with threadpool_limits(limits=1, user_api="blas"):
        for i in range(len(values)):
            out[i] = _reconstruct_one(values[i], context[i], height, width, method)
    return out.reshape(len(values), height, width, values.shape[2])


def reconstruct(images: np.ndarray, context: np.ndarray, *, method: str, workers: int = 1) -> np.ndarray:
    """Reconstruct every image from its context pixels only.

    Args:
        images: (N, H, W, C) float in [0, 1]; only the pixels at `context` are read.
        context: (N, Kc) int flat row-major pixel indices (y * W + x).
        method: one of METHODS.
        workers: processes over images (chunks of N / workers); 1 runs in this process.

    Returns:
        (N, H, W, C) float32 in [0, 1], equal to `images` at the context pixels.
    """
    if method not in METHODS:
        raise ValueError(f"unknown baseline method '{method}'; valid: {', '.join(METHODS)}")
    images = np.asarray(images)
    context = np.asarray(context).astype(np.intp)
    if images.ndim != 4 or context.ndim != 2 or len(context) != len(images):
        raise ValueError(f"need images (N, H, W, C) and context (N, Kc); got {images.shape}, {context.shape}")
    n, height, width, channels = images.shape
    if context.size and (context.min() < 0 or context.max() >= height * width):
        raise ValueError(f"context indices must lie in [0, {height * width}) for {height}x{width} images")
    if method == "normconv":
        return normconv.reconstruct(images, context)
    flat = images.reshape(n, height * width, channels)
    values = np.take_along_axis(flat, context[:, :, None], axis=1).astype(np.float64)  # (N, Kc, C)
    if workers <= 1 or n < 2:
        return _reconstruct_chunk(values, context, height, width, method)
    chunks = np.array_split(np.arange(n), min(workers, n))
    with ProcessPoolExecutor(max_workers=len(chunks)) as pool:
        job = partial(_reconstruct_chunk, height=height, width=width, method=method)
        return np.concatenate(list(pool.map(job, [values[c] for c in chunks], [context[c] for c in chunks])))
