"""Normalised convolution: a slow reference, constants, planes, own pixels, far points, batches, gradients."""

import math

import numpy as np
import pytest
import torch

import sparsefield.baselines.normconv as normconv
from sparsefield.baselines.normconv import SCALES, WEIGHTS, normalized_convolution, reconstruct
from sparsefield.data.images.fields import grid_coords, pixel_coords

H = W = 32


def random_field(b=3, n_in=40, n_out=50, channels=3, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(b, n_in, 2, generator=g, dtype=dtype)
    v = torch.rand(b, n_in, channels, generator=g, dtype=dtype)
    q = torch.rand(b, n_out, 2, generator=g, dtype=dtype)
    return p, v, q


def reference(p, v, q, scales, weights):
    """est(q) = Σ_i K(q - p_i) v_i / Σ_i K(q - p_i), one point at a time in float64."""
    p, v, q = (np.asarray(t, dtype=np.float64) for t in (p, v, q))
    h = 1 / math.sqrt(len(p))
    out = np.zeros((len(q), v.shape[1]))
    for j, point in enumerate(q):
        d2 = ((point - p) ** 2).sum(axis=1)
        k = sum(w * np.exp(-d2 / (2 * (s * h) ** 2)) for s, w in zip(scales, weights, strict=True))
        out[j] = (k[:, None] * v).sum(axis=0) / k.sum()
    return out


@pytest.mark.parametrize("scales, weights", [(SCALES, WEIGHTS), ((0.5, 2.0), (1.0, 0.3)), ((1.0,), (1.0,))])
def test_matches_a_per_point_reference(scales, weights):
    p, v, q = random_field(b=2, n_in=9, n_out=7)
    out = normalized_convolution(p, v, q, scales=scales, weights=weights)
    for i in range(2):
        np.testing.assert_allclose(out[i].numpy(), reference(p[i], v[i], q[i], scales, weights), atol=2e-5)


def test_constant_fields_are_exact():
    p, _, q = random_field()
    v = torch.full((3, 40, 3), 0.37)
    torch.testing.assert_close(normalized_convolution(p, v, q), torch.full((3, 50, 3), 0.37))


def test_own_pixels_are_reproduced_with_a_fine_enough_finest_scale():
    """Context pixels of a 32x32 image are >= 1 px = 0.32 h apart at 10%: a Gaussian of 0.02 h isolates them."""
    rng = np.random.default_rng(0)
    index = torch.as_tensor(np.stack([rng.choice(H * W, 102, replace=False) for _ in range(2)]))
    p = pixel_coords(index, H, W)
    v = torch.rand(2, 102, 3)
    torch.testing.assert_close(normalized_convolution(p, v, p, scales=(0.02,), weights=(1.0,)), v)
    # a coarse scale of negligible weight leaves them: the mixture is dominated by its finest term
    torch.testing.assert_close(normalized_convolution(p, v, p, scales=(0.02, 1.0), weights=(1.0, 1e-9)), v)
    # with the default scales an own pixel is a weighted mean of it and its neighbours, by design
    assert not torch.allclose(normalized_convolution(p, v, p), v, atol=1e-3)


def test_planes_are_reproduced_approximately_in_the_interior():
    """Kernel regression is biased on a plane only by the local asymmetry of the observations."""
    y, x = np.mgrid[:H, :W]
    image = np.stack([0.1 + 0.015 * y + 0.01 * x, 0.9 - 0.01 * y - 0.012 * x, 0.5 + 0.005 * y], -1)
    images = np.repeat(image[None], 4, axis=0).astype(np.float32)
    rng = np.random.default_rng(1)
    context = np.stack([np.sort(rng.choice(H * W, 204, replace=False)) for _ in range(4)])
    err = np.abs(reconstruct(images, context) - images)[:, 4:-4, 4:-4]  # slope <= 0.018 per pixel
    assert err.mean() < 0.006 and err.max() < 0.04  # measured 0.0045 and 0.025


def test_far_points_fall_back_to_the_nearest_observation():
    """Where every Gaussian underflows (a naive ratio is 0 / 0), the estimate goes to the nearest value."""
    p = torch.tensor([[[0.1, 0.1], [0.9, 0.9], [0.5, 0.05]]])
    v = torch.tensor([[[1.0], [2.0], [3.0]]])
    q = torch.tensor([[[40.0, 40.0], [-30.0, -30.0], [0.5, -300.0]]])
    h = 1 / math.sqrt(3)
    naive = sum(
        w * torch.exp(-(torch.cdist(q, p) ** 2) / (2 * (s * h) ** 2)) for s, w in zip(SCALES, WEIGHTS, strict=True)
    )
    assert (naive.sum(-1) == 0).all()
    torch.testing.assert_close(normalized_convolution(p, v, q), torch.tensor([[[2.0], [1.0], [3.0]]]))


def test_batch_independence_and_chunking(monkeypatch):
    p, v, q = random_field(b=5, n_in=30, n_out=70)
    full = normalized_convolution(p, v, q)
    torch.testing.assert_close(normalized_convolution(p[3:4], v[3:4], q[3:4]), full[3:4])
    monkeypatch.setattr(normconv, "_CHUNK_ELEMENTS", 100)  # blocks of 1 sample x 32 outputs
    torch.testing.assert_close(normalized_convolution(p, v, q), full)


def test_gradients_flow_to_values_and_coordinates():
    p, v, q = random_field(b=2, n_in=6, n_out=5, dtype=torch.float64)
    p.requires_grad_(True), v.requires_grad_(True), q.requires_grad_(True)
    normalized_convolution(p, v, q).square().sum().backward()
    assert v.grad.abs().min() > 0 and torch.isfinite(p.grad).all()
    assert torch.autograd.gradcheck(
        lambda *t: normalized_convolution(*t, scales=(0.5, 2.0), weights=(1, 0.1)), (p, v, q)
    )


def test_reconstruct_keeps_context_and_fills_the_grid():
    rng = np.random.default_rng(2)
    images = rng.random((3, H, W, 3)).astype(np.float32)
    context = np.stack([np.sort(rng.choice(H * W, 102, replace=False)) for _ in range(3)]).astype(np.int16)
    out = reconstruct(images, context)
    assert out.shape == images.shape and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    flat, idx = out.reshape(3, -1, 3), context.astype(np.int64)[:, :, None]
    np.testing.assert_array_equal(
        np.take_along_axis(flat, idx, 1), np.take_along_axis(images.reshape(3, -1, 3), idx, 1)
    )
    values = torch.from_numpy(np.take_along_axis(images.reshape(3, -1, 3), idx, 1))
    est = normalized_convolution(
        pixel_coords(torch.from_numpy(idx[..., 0]), H, W), values, grid_coords(H, W).expand(3, -1, -1)
    )
    missing = np.ones((3, H * W), dtype=bool)
    np.put_along_axis(missing, idx[..., 0], False, axis=1)
    np.testing.assert_allclose(flat[missing], est.numpy()[missing], atol=1e-6)


def test_needs_one_weight_per_scale():
    p, v, q = random_field()
    with pytest.raises(ValueError, match="one weight per scale"):
        normalized_convolution(p, v, q, scales=(1.0, 2.0), weights=(1.0,))


def test_autocast_and_low_precision_inputs_compute_in_float32():
    """bf16 would round |q|² + |p|² - 2 q·p far above the squared pixel spacing (~1e-3)."""
    p, v, q = random_field()
    full = normalized_convolution(p, v, q)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.testing.assert_close(normalized_convolution(p, v, q), full)
    low = normalized_convolution(p.bfloat16(), v.bfloat16(), q.bfloat16())
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, normalized_convolution(*(t.bfloat16().float() for t in (p, v, q))))
