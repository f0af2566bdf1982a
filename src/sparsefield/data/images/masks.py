"""Fixed sparse masks: for every image, disjoint `context` and `query` pixel sets.

Image i of a split always gets the same pixels (a "fixed mask"), and its
mask depends only on (seed, split, i): never on the number of images, their order,
the batch or the chunk it is generated in. That makes it a counter-based
construction rather than a stream of draws:

    u_j(i) = hash(seed, split, i, j)            j = 0, 1, 2, ...   (32-bit, `_fmix32`)
    p_j(i) = floor(u_j(i) * H*W / 2**32)        a uniform pixel, drawn with replacement

The first `n_context + n_query` *distinct* values of the stream p_0, p_1, ... form
a uniformly random ordered sample without replacement (sequential sampling); the
first `n_context` are the context, the next `n_query` the query. Each image's
stream is fixed, so drawing more of it (`m` below) never changes the result.
"""

from __future__ import annotations

import math
import os
import zlib

import h5py
import numpy as np
import torch

from sparsefield.io import atomic_path, open_h5, write_array

FORMAT_VERSION = 1
_U32 = np.uint32
_GOLDEN = _U32(0x9E3779B9)  # 2**32 / golden ratio: Weyl-sequence increment
_CHUNK = 4096  # images per vectorised block: keeps the working set in cache


def _fmix32(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (a bijection with full avalanche), in place."""
    x ^= x >> _U32(16)
    x *= _U32(0x85EBCA6B)
    x ^= x >> _U32(13)
    x *= _U32(0xC2B2AE35)
    x ^= x >> _U32(16)
    return x


def _stream_keys(seed: int, split: str, index: np.ndarray) -> np.ndarray:
    """One 32-bit key per image from (seed, split, image index), (N,) uint32."""
    head = _fmix32(np.array([seed & 0xFFFFFFFF], dtype=_U32))
    head = _fmix32(head ^ _U32(zlib.crc32(split.encode())))
    return _fmix32(index.astype(_U32) * _GOLDEN + head)


def _first_distinct(keys: np.ndarray, n_pixels: int, k: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """First k distinct pixels of each image's stream among its first m draws.

    Returns:
        picks: (N, k) int64 pixel indices in draw order (rows with ok=False are garbage).
        ok: (N,) bool, False where fewer than k distinct pixels were drawn.
    """
    draws = _fmix32(keys[:, None] + np.arange(m, dtype=_U32)[None, :] * _GOLDEN)  # (N, m)
    pixels = (draws.astype(np.uint64) * np.uint64(n_pixels)) >> np.uint64(32)
    pixels = pixels.astype(np.uint16 if n_pixels <= 1 << 16 else np.int64)  # uint16: radix sort
    order = np.argsort(pixels, axis=1, kind="stable")  # equal pixels keep draw order
    ranked = np.take_along_axis(pixels, order, axis=1)
    first_ranked = np.ones(ranked.shape, dtype=bool)
    first_ranked[:, 1:] = ranked[:, 1:] != ranked[:, :-1]  # earliest draw of each pixel
    first = np.empty_like(first_ranked)
    np.put_along_axis(first, order, first_ranked, axis=1)  # back to draw order
    keep = first & (np.cumsum(first, axis=1) <= k)
    ok = keep.sum(axis=1) == k
    picks = np.zeros((len(keys), k), dtype=np.int64)
    picks[ok] = pixels[ok][keep[ok]].reshape(-1, k)
    return picks, ok


def generate_masks(
    *, seed: int, split: str, index: np.ndarray, height: int, width: int, n_context: int, n_query: int
) -> tuple[np.ndarray, np.ndarray]:
    """Fixed context and query pixel indices for the images `index` of `split`.

    Args:
        seed: mask seed.
        split: split name ("train", "test"); hashed into the stream.
        index: (N,) image positions in the split.
        height, width: image size; indices are flat row-major (y * width + x).
        n_context, n_query: pixels per image, n_context + n_query <= height * width.

    Returns:
        context: (N, n_context) sorted pixel indices; query: (N, n_query), disjoint from context.
    """
    n_pixels, k = height * width, n_context + n_query
    if not (0 < n_context and 0 <= n_query and k <= n_pixels):
        raise ValueError(f"masks: need 0 < n_context, 0 <= n_query, n_context + n_query <= {n_pixels}")
    dtype = np.int16 if n_pixels <= np.iinfo(np.int16).max + 1 else np.int32
    index = np.asarray(index, dtype=np.int64)
    context = np.empty((len(index), n_context), dtype=dtype)
    query = np.empty((len(index), n_query), dtype=dtype)
    # draws needed for k distinct pixels on average (coupon collector), with a margin;
    # images that still fall short are redrawn from a longer prefix of the same stream
    m0 = math.ceil(1.25 * n_pixels * -math.log1p(-min(k, n_pixels - 0.5) / n_pixels)) + 32
    for start in range(0, len(index), _CHUNK):
        keys = _stream_keys(seed, split, index[start : start + _CHUNK])
        picks = np.empty((len(keys), k), dtype=np.int64)
        todo, m = np.arange(len(keys)), m0
        while len(todo):
            picks[todo], ok = _first_distinct(keys[todo], n_pixels, k, m)
            todo, m = todo[~ok], 2 * m
        context[start : start + len(keys)] = np.sort(picks[:, :n_context], axis=1)
        query[start : start + len(keys)] = np.sort(picks[:, n_context:], axis=1)
    return context, query


def counts(height: int, width: int, context_ratio: float, query_ratio: float) -> tuple[int, int]:
    """Pixels per image for the ratios: floor(ratio * H * W) (102 of 1024 at 0.1)."""
    n_pixels = height * width
    return int(context_ratio * n_pixels), int(query_ratio * n_pixels)


def build_masks(
    data_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    scheme: str,
    context_ratio: float,
    query_ratio: float,
    seed: int,
) -> None:
    """Write `{split}/context` and `{split}/query` for every split of a data HDF5.

    The stage entry point: reads image counts and size from `data_path`
    (`results/data/{dataset}.h5`) and writes `results/masks/{dataset}/{scheme}.h5`.
    """
    with open_h5(data_path, "images") as data:
        height, width = int(data.attrs["H"]), int(data.attrs["W"])
        sizes = {split: len(data[split]["images"]) for split in ("train", "test")}
    n_context, n_query = counts(height, width, context_ratio, query_ratio)
    if n_context < 1:
        raise ValueError(f"schemes.{scheme}.context_ratio = {context_ratio} gives no context pixel on {height}x{width}")
    with atomic_path(out_path) as tmp, h5py.File(tmp, "w") as f:
        for split, n in sizes.items():
            context, query = generate_masks(
                seed=seed,
                split=split,
                index=np.arange(n),
                height=height,
                width=width,
                n_context=n_context,
                n_query=n_query,
            )
            group = f.create_group(split)
            write_array(group, "context", context)
            write_array(group, "query", query)
        f.attrs.update(
            scheme=scheme,
            seed=seed,
            context_ratio=context_ratio,
            query_ratio=query_ratio,
            H=height,
            W=width,
            n_context=n_context,
            n_query=n_query,
            format_version=FORMAT_VERSION,
        )


def read_masks(path: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(context, query) index arrays of one split of a masks HDF5."""
    with open_h5(path, "masks") as f:
        if split not in f:
            raise KeyError(f"{path}: no split '{split}' (has {sorted(f)}); rebuild the masks")
        return f[split]["context"][()], f[split]["query"][()]


def dense_masks(indices: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Boolean masks (B, 1, H, W) from flat pixel indices (B, K), in one scatter."""
    mask = torch.zeros(indices.shape[0], height * width, dtype=torch.bool, device=indices.device)
    mask.scatter_(1, indices.long(), True)
    return mask.view(-1, 1, height, width)


def observed_pixels(context, height: int, width: int):
    """(N, H, W) bool numpy mask of the flat pixel indices `context` (N, Kc) (from `dense_masks`)."""
    return dense_masks(torch.as_tensor(np.asarray(context, dtype=np.int64)), height, width)[:, 0].numpy()


def context_image(images: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Images (B, C, H, W) with only the pixels at `indices` (B, K) kept, zeros elsewhere."""
    batch, channels, height, width = images.shape
    return images * dense_masks(indices, height, width).to(images.dtype)


def unobserved(context: torch.Tensor, n_pixels: int) -> torch.Tensor:
    """Flat indices (B, n_pixels − Ni) of the pixels not in `context` (B, Ni), sorted (from `dense_masks`)."""
    observed = dense_masks(torch.as_tensor(context), 1, n_pixels).view(len(context), -1)
    return torch.nonzero(~observed)[:, 1].view(len(context), -1)
