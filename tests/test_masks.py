"""Fixed masks: invariants, per-image determinism, HDF5 round trip, dense helpers."""

import h5py
import numpy as np
import pytest
import torch

from sparsefield.data.images.masks import build_masks, context_image, counts, dense_masks, generate_masks, read_masks

SIZE = dict(height=32, width=32, n_context=102, n_query=102)


def test_disjoint_exact_counts_in_range():
    context, query = generate_masks(seed=42, split="train", index=np.arange(2000), **SIZE)
    assert context.shape == (2000, 102) and query.shape == (2000, 102)
    both = np.concatenate([context, query], axis=1).astype(np.int64)
    assert both.min() >= 0 and both.max() < 1024
    ranked = np.sort(both, axis=1)
    assert (np.diff(ranked, axis=1) > 0).all()  # 204 distinct pixels per image: disjoint, no repeats


def test_mask_depends_only_on_seed_split_index():
    full_c, full_q = generate_masks(seed=7, split="train", index=np.arange(9000), **SIZE)
    # another N, another order, and chunks that straddle the internal block size
    pick = np.array([8999, 4096, 3, 4095, 5000])
    c, q = generate_masks(seed=7, split="train", index=pick, **SIZE)
    np.testing.assert_array_equal(c, full_c[pick])
    np.testing.assert_array_equal(q, full_q[pick])
    parts = [generate_masks(seed=7, split="train", index=np.arange(a, b), **SIZE)[0] for a, b in [(0, 5), (5, 9000)]]
    np.testing.assert_array_equal(np.concatenate(parts), full_c)
    # and it does change with the seed and the split
    assert not np.array_equal(generate_masks(seed=8, split="train", index=pick, **SIZE)[0], c)
    assert not np.array_equal(generate_masks(seed=7, split="test", index=pick, **SIZE)[0], c)


def test_pixels_are_uniform():
    context, query = generate_masks(seed=0, split="test", index=np.arange(20000), **SIZE)
    hits = np.bincount(context.ravel().astype(np.int64), minlength=1024)
    expected = 20000 * 102 / 1024
    # binomial counts: the spread must match sqrt(n p (1 - p)), within 15 %
    assert abs(hits.mean() - expected) < 1e-9
    assert 0.85 < hits.std() / np.sqrt(expected * (1 - 102 / 1024)) < 1.15


def test_every_pixel_can_be_taken():
    # k = H*W: the coupon-collector retry must still finish with a permutation
    context, query = generate_masks(
        seed=1, split="train", index=np.arange(50), height=8, width=8, n_context=40, n_query=24
    )
    assert (np.sort(np.concatenate([context, query], 1), 1) == np.arange(64)).all()


def test_counts_match_the_seeds():
    assert counts(32, 32, 0.1, 0.1) == (102, 102)  # conditional DDO's scheme
    assert counts(32, 32, 0.2, 0.2) == (204, 204)  # the Perceiver IO scheme


def test_hdf5_round_trip(tmp_path):
    data = tmp_path / "data.h5"
    with h5py.File(data, "w") as f:
        f.create_dataset("train/images", data=np.zeros((30, 16, 16, 3), np.uint8))
        f.create_dataset("test/images", data=np.zeros((7, 16, 16, 3), np.uint8))
        f.attrs.update(H=16, W=16, C=3)
    out = tmp_path / "masks" / "m.h5"
    build_masks(data, out, scheme="m", context_ratio=0.25, query_ratio=0.5, seed=3)
    for split, n in [("train", 30), ("test", 7)]:
        context, query = read_masks(out, split)
        expected = generate_masks(
            seed=3, split=split, index=np.arange(n), height=16, width=16, n_context=64, n_query=128
        )
        np.testing.assert_array_equal(context, expected[0])
        np.testing.assert_array_equal(query, expected[1])
    with h5py.File(out) as f:
        assert f.attrs["seed"] == 3 and f.attrs["scheme"] == "m"
        assert f["train/context"].dtype == np.int16
    # rebuilding gives the same bytes (no timestamps)
    again = tmp_path / "again.h5"
    build_masks(data, again, scheme="m", context_ratio=0.25, query_ratio=0.5, seed=3)
    assert out.read_bytes() == again.read_bytes()
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.h5"]  # no temporary left behind


def test_read_masks_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        read_masks(tmp_path / "missing.h5", "test")


def test_dense_masks_and_context_image_match_a_loop():
    context, _ = generate_masks(seed=5, split="test", index=np.arange(6), **SIZE)
    idx = torch.from_numpy(context.astype(np.int64))
    mask = dense_masks(idx, 32, 32)
    assert mask.shape == (6, 1, 32, 32) and mask.dtype == torch.bool
    loop = torch.zeros(6, 1, 32, 32, dtype=torch.bool)
    for b in range(6):  # one generator per image, as the reference
        loop[b, 0, idx[b] // 32, idx[b] % 32] = True
    assert torch.equal(mask, loop)
    images = torch.rand(6, 3, 32, 32)
    sparse = context_image(images, idx)
    assert torch.equal(sparse, images * loop)
    assert int((sparse != 0).any(1).sum()) == 6 * 102
