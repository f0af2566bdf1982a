"""Classical baselines: known answers on planes, context kept, nothing else read, the stage end to end."""

import h5py
import numpy as np
import pytest
from scipy.spatial import Delaunay

from sparsefield.baselines.interpolation import METHODS, reconstruct
from sparsefield.samples import read_samples
from sparsefield.stages.reconstruct import reconstruct as reconstruct_stage

H, W = 24, 20


def plane_images(n=2):
    """Images whose channels are planes a + b y + c x, inside [0.1, 0.9]."""
    y, x = np.mgrid[:H, :W]
    channels = [0.1 + 0.015 * y + 0.02 * x, 0.9 - 0.01 * y - 0.02 * x, 0.5 + 0.01 * y - 0.008 * x]
    image = np.stack(channels, axis=-1).astype(np.float32)
    return np.repeat(image[None], n, axis=0)


def random_context(rng, n, k, extra=()):
    """(n, k + len(extra)) sorted flat indices: k random pixels plus the pixels `extra`."""
    extra = np.asarray(extra, dtype=np.int64)
    free = np.setdiff1d(np.arange(H * W), extra)
    return np.stack([np.union1d(rng.choice(free, k, replace=False), extra) for _ in range(n)])


CORNERS = np.array([0, W - 1, (H - 1) * W, H * W - 1])


@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_planes_are_exact_inside_the_convex_hull(method):
    rng = np.random.default_rng(0)
    images = plane_images()
    context = random_context(rng, 2, 48)
    out = reconstruct(images, context, method=method)
    grid = np.stack(np.divmod(np.arange(H * W), W), axis=1)
    for i in range(2):
        inside = Delaunay(np.stack(np.divmod(context[i], W), axis=1)).find_simplex(grid) >= 0
        np.testing.assert_allclose(out[i].reshape(-1, 3)[inside], images[i].reshape(-1, 3)[inside], atol=1e-5)
        assert 0 < inside.sum() < H * W  # the test covers both cases: the hull is not the whole image


@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_planes_are_exact_everywhere_with_the_corners_in_the_context(method):
    rng = np.random.default_rng(1)
    images = plane_images()
    context = random_context(rng, 2, 48, extra=CORNERS)
    np.testing.assert_allclose(reconstruct(images, context, method=method), images, atol=1e-5)


def test_biharmonic_is_exact_for_planes_when_the_border_frame_is_known():
    # scikit-image's biharmonic stencil is truncated at the image border, so planes are
    # only reproduced where the two outermost pixel rings are observed (measured: up to
    # 0.02 error near the border with 10% context + corners on a 32 x 32 plane).
    rng = np.random.default_rng(2)
    frame = np.ones((H, W), dtype=bool)
    frame[2:-2, 2:-2] = False
    context = random_context(rng, 2, 30, extra=np.flatnonzero(frame))
    images = plane_images()
    np.testing.assert_allclose(reconstruct(images, context, method="biharmonic"), images, atol=1e-5)


def test_nearest_takes_a_nearest_context_value():
    rng = np.random.default_rng(3)
    context = random_context(rng, 1, 30)
    images = rng.random((1, H, W, 1)).astype(np.float32)
    out = reconstruct(images, context, method="nearest")[0, ..., 0].ravel()
    points = np.stack(np.divmod(context[0], W), axis=1)
    grid = np.stack(np.divmod(np.arange(H * W), W), axis=1)
    dist = ((grid[:, None, :] - points[None, :, :]) ** 2).sum(-1)  # (H*W, Kc)
    values = images[0, ..., 0].ravel()[context[0]]
    nearest = dist == dist.min(axis=1, keepdims=True)  # ties allowed
    assert all(out[p] in values[nearest[p]] for p in range(H * W))


@pytest.mark.parametrize("method", METHODS)
def test_context_kept_and_nothing_else_read(method):
    rng = np.random.default_rng(4)
    n = 3
    images = rng.random((n, H, W, 3)).astype(np.float32)
    context = random_context(rng, n, 40)
    out = reconstruct(images, context, method=method)
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    flat_out, flat_in = out.reshape(n, -1, 3), images.reshape(n, -1, 3)
    for i in range(n):
        np.testing.assert_array_equal(flat_out[i, context[i]], flat_in[i, context[i]])
    garbage = np.full_like(images, np.nan).reshape(n, -1, 3)
    for i in range(n):
        garbage[i, context[i]] = flat_in[i, context[i]]
    np.testing.assert_array_equal(reconstruct(garbage.reshape(images.shape), context, method=method), out)


def test_workers_give_the_same_result():
    rng = np.random.default_rng(5)
    images = rng.random((5, H, W, 3)).astype(np.float32)
    context = random_context(rng, 5, 40)
    serial = reconstruct(images, context, method="linear")
    np.testing.assert_array_equal(reconstruct(images, context, method="linear", workers=2), serial)


def test_degenerate_context_falls_back_to_nearest():
    images = plane_images(1)
    context = np.array([[0, 1, 2]])  # three points on one line: no triangle
    np.testing.assert_array_equal(
        reconstruct(images, context, method="linear"), reconstruct(images, context, method="nearest")
    )


def test_unknown_method_and_bad_shapes():
    images, context = plane_images(1), np.array([[0, 5, 9]])
    with pytest.raises(ValueError, match="'telea'.*nearest, linear, cubic, biharmonic"):
        reconstruct(images, context, method="telea")
    with pytest.raises(ValueError, match="in \\[0, 480\\)"):
        reconstruct(images, np.array([[0, 480, 3]]), method="linear")
    with pytest.raises(ValueError, match="N, Kc"):
        reconstruct(images[0], context, method="linear")


# ---- the stage


def write_inputs(tmp_path, n=4, mask_hw=(H, W)):
    rng = np.random.default_rng(6)
    images = rng.integers(0, 256, (n, H, W, 3), dtype=np.uint8)
    context = np.stack([rng.permutation(H * W)[:60] for _ in range(n)])
    data_path, masks_path = tmp_path / "data.h5", tmp_path / "masks.h5"
    with h5py.File(data_path, "w") as f:
        f["test/images"] = images
        f.attrs.update(H=H, W=W, C=3)
    with h5py.File(masks_path, "w") as f:
        f["test/context"] = context[:, :48].astype(np.int16)
        f["test/query"] = context[:, 48:].astype(np.int16)
        f.attrs.update(H=mask_hw[0], W=mask_hw[1])
    return data_path, masks_path, images, context[:, :48]


def run_baseline(data_path, masks_path, out_path, *, method, approach, dataset, scheme, n_images=None):
    """The reconstruct stage for a classical kind (what the reconstruct rule runs)."""
    reconstruct_stage({"data": data_path, "masks": masks_path}, out_path, approach=approach, kind=method, settings={},
                      dataset=dataset, scheme=scheme, n_images=n_images)


def test_run_baseline_end_to_end(tmp_path):
    data_path, masks_path, images, context = write_inputs(tmp_path)
    out_path = tmp_path / "linear" / "samples.h5"
    run_baseline(data_path, masks_path, out_path, method="linear", approach="linear_ddo", dataset="tiny",
                 scheme="ddo", n_images=3)
    result = read_samples(out_path)
    assert result.samples.shape == (3, 1, H, W, 3)
    np.testing.assert_array_equal(result.index, np.arange(3))
    truth = images[:3].astype(np.float32) / 255
    expected = reconstruct(truth, context[:3], method="linear")
    np.testing.assert_array_equal(result.samples[:, 0], expected)
    np.testing.assert_array_equal(result.mean, expected)
    assert not result.std.any()
    attrs = result.attrs
    names = (attrs["approach"], attrs["kind"], attrs["dataset"], attrs["scheme"])
    assert names == ("linear_ddo", "linear", "tiny", "ddo")
    assert attrs["nfe"] == 0 and attrs["n_samples"] == 1 and attrs["seconds_per_image"] > 0

    run_baseline(data_path, masks_path, out_path, method="nearest", approach="n", dataset="t", scheme="s")
    assert read_samples(out_path).samples.shape[0] == 4  # n_images=None: all


def test_run_baseline_errors(tmp_path):
    data_path, masks_path, _, _ = write_inputs(tmp_path, mask_hw=(32, 32))
    with pytest.raises(ValueError, match=f"{masks_path}.*32x32.*{data_path}.*{H}x{W}"):
        run_baseline(data_path, masks_path, tmp_path / "out.h5", method="linear", approach="a", dataset="d", scheme="s")
    with pytest.raises(FileNotFoundError, match="nothere.h5"):
        run_baseline(
            tmp_path / "nothere.h5",
            masks_path,
            tmp_path / "out.h5",
            method="linear",
            approach="a",
            dataset="d",
            scheme="s",
        )
    assert not (tmp_path / "out.h5").exists()
