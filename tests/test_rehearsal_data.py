"""The paper rehearsal's data writers: the pipeline's own readers take their files, at tiny sizes."""

import json
import pickle

import numpy as np
import pytest

from sparsefield.data.images.cifar10 import load_cifar10
from sparsefield.data.images.patches import band_mask
from sparsefield.data.images.sources import builtin_images, builtin_photos
from sparsefield.data.raw.demosaic import demosaic_capture
from sparsefield.data.raw.sid import captures, read_lists
from sparsefield.data.spectral.leaves import BANDS
from sparsefield.data.spectral.sources import folder_images
from sparsefield.rehearsal.data import LEAF_MAX_VALUE, _boxes, write_cifar10, write_leaf_stacks, write_sid_sony


def _tree(folder):
    """{relative path: bytes} of every file under `folder`."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cifar10_reads_back_the_builtin_patches(tmp_path):
    out = write_cifar10(tmp_path / "a", n_train=302, n_test=60, seed=0)
    train, test, _ = load_cifar10(tmp_path / "a")
    expected = builtin_images(n_train=302, n_test=60, size=32, seed=0)
    np.testing.assert_array_equal(train, expected.train)
    np.testing.assert_array_equal(test, expected.test)
    names = [f"data_batch_{b}" for b in range(1, 6)] + ["test_batch"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, "batches.meta"])
    sizes = []
    for name in names:
        raw = (out / name).read_bytes()
        assert raw[:2] == b"\x80\x02"  # pickle protocol 2, as the originals
        batch = pickle.loads(raw, encoding="bytes")
        assert list(batch) == [b"batch_label", b"labels", b"data", b"filenames"]
        n = len(batch[b"labels"])
        assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (n, 3072)
        assert all(type(label) is int and 0 <= label < 10 for label in batch[b"labels"])
        assert len(batch[b"filenames"]) == n and all(isinstance(f, bytes) for f in batch[b"filenames"])
        assert 3072 * n < len(raw) < 3072 * n + 64 * n + 1024  # one byte a pixel value, as Python 2 wrote them
        sizes.append(n)
    assert sizes == [61, 61, 60, 60, 60, 60]  # 302 spread as evenly as possible over the 5 train batches
    first = pickle.loads((out / "data_batch_1").read_bytes(), encoding="bytes")[b"data"][0]
    np.testing.assert_array_equal(first[:1024].reshape(32, 32), expected.train[0, :, :, 0])  # red plane, row-major
    meta = pickle.loads((out / "batches.meta").read_bytes(), encoding="bytes")
    assert meta[b"label_names"][0] == b"airplane" and meta[b"num_vis"] == 3072
    write_cifar10(tmp_path / "b", n_train=302, n_test=60, seed=0)
    assert _tree(out) == _tree(tmp_path / "b" / "cifar-10-batches-py")


def test_scene_boxes_keep_test_inside_the_test_band():
    for photo in builtin_photos():
        boxes, band = _boxes(photo, 0.3), band_mask(photo, 0.3)
        top, bottom, left, right = boxes[True]
        assert band[top:bottom, left:right].all()
        top, bottom, left, right = boxes[False]
        assert not band[top:bottom, left:right].any() and bottom - top >= 2 and right - left >= 2


@pytest.fixture(scope="module")
def sony_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sid")
    write_sid_sony(root, n_train=2, n_val=1, n_test=2, ratios=(100, 300), height=64, width=96, seed=0)
    return root


def test_sid_sony_lists_name_arw_files(sony_root):
    pairs = read_lists(sony_root, "Sony")
    assert [len(pairs[split]) for split in ("train", "val", "test")] == [4, 2, 4]  # a pair per scene and ratio
    assert pairs["train"][0].short == "Sony/short/00001_00_0.1s.ARW" and pairs["train"][0].long.endswith("10s.ARW")
    assert pairs["test"][0].long == "Sony/long/10001_00_10s.ARW" and pairs["val"][0].long.startswith("Sony/long/2")
    found = captures(pairs)
    assert len(found) == 15  # 5 scenes: a long + 2 shorts each
    assert all(c.path.endswith(".ARW") and (sony_root / c.path).is_file() for c in found.values())
    assert {c.ratio for c in found.values()} == {1.0, 100.0, 300.0}


def test_sid_sony_captures_demosaic_as_sony(sony_root, tmp_path):
    for name, capture in captures(read_lists(sony_root, "Sony")).items():
        demosaic_capture(sony_root / capture.path, tmp_path / f"{name}.pt", tmp_path / f"{name}.json",
                         root=sony_root, camera="Sony", tile_size=32, stride=32)
        meta = json.loads((tmp_path / f"{name}.json").read_text())
        assert (meta["height"], meta["width"]) == (64, 96) and len(meta["tiles"]) == (64 // 32) * (96 // 32)
        assert meta["cfa_pattern"] == "RGGB" and meta["white_level"] == 16383 and set(meta["black_level"]) == {512}
        assert meta["white_balance_source"] == "as_shot"


def test_sid_sony_is_deterministic(sony_root, tmp_path):
    write_sid_sony(tmp_path, n_train=2, n_val=1, n_test=2, ratios=(100, 300), height=64, width=96, seed=0)
    assert _tree(tmp_path) == _tree(sony_root)


def test_sid_sony_refuses_an_odd_size(tmp_path):
    with pytest.raises(ValueError, match="even"):
        write_sid_sony(tmp_path, n_train=1, n_val=0, n_test=1, height=63, width=96)


def test_leaf_stacks_read_back_as_tiles_with_masks(tmp_path):
    import tifffile

    files = write_leaf_stacks(tmp_path / "a", n_files=3, height=40, width=56, seed=0)
    assert [f.name for f in files] == ["IMG_0000.tif", "IMG_0001.tif", "IMG_0002.tif"]
    stack, mask = tifffile.imread(files[0]), tifffile.imread(files[0].with_name("IMG_0000_mask.tif"))
    assert stack.dtype == np.uint16 and stack.shape == (5, 40, 56) and stack.max() <= LEAF_MAX_VALUE
    assert mask.dtype == np.uint8 and mask.shape == (40, 56) and set(np.unique(mask)) == {0, 255}
    data = folder_images(tmp_path / "a", bands=list(BANDS), size=16, max_value=LEAF_MAX_VALUE)
    assert len(data.train) == 2 * 6 and len(data.test) == 6  # 2 x 3 tiles a file; 1 of 3 files is test
    assert data.train.masks.shape == (12, 16, 16) and set(np.unique(data.train.masks)) == {0, 1}
    leaf = np.concatenate([data.train.images[data.train.masks == 1], data.test.images[data.test.masks == 1]])
    red, nir = leaf[:, BANDS.index("red")].mean(), leaf[:, BANDS.index("nir")].mean()
    assert 0.2 < nir < 0.8 and nir > 3 * red  # a green leaf's reflectance: read back at scale
    write_leaf_stacks(tmp_path / "b", n_files=3, height=40, width=56, seed=0)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
