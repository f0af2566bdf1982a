"""Images stage: builtin patches, CIFAR-10 and image folders -> the HDF5 contract."""

from __future__ import annotations

import pickle
import sys
import tarfile
import types

import h5py
import numpy as np
import pytest
from PIL import Image
from scipy.interpolate import griddata

from sparsefield.data.images import folder as image_folder
from sparsefield.data.images import sources as im
from sparsefield.data.images.patches import LUMA, _share, band_mask, region_patches

SIZE = 32


@pytest.fixture(scope="module")
def photos():
    return im.builtin_photos()


@pytest.fixture(scope="module")
def cut(photos):
    return region_patches(
        photos,
        n_train=600,
        n_test=150,
        size=SIZE,
        factors=im.DEFAULT_FACTORS,
        test_fraction=0.3,
        min_std=im.DEFAULT_MIN_STD,
        seed=0,
    )


# --- builtin patches -----------------------------------------------------------------------------


def test_builtin_photos_are_the_documented_colour_photos(photos):
    assert len(photos) == len(im.BUILTIN_PHOTOS) == 7
    assert all(p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3 for p in photos)
    assert photos[-1].shape == (500, 741, 3)  # the LEFT view of stereo_motorcycle, not the tuple


def test_test_and_train_footprints_never_overlap(cut):
    for p, mask in enumerate(cut.test_masks):
        assert 0.29 < mask.mean() < 0.31  # test_fraction of every photograph
        boxes = {}
        for split in ("train", "test"):
            rows = cut.footprints[split]
            rows = rows[rows[:, 0] == p]
            y, x, f = rows[:, 1], rows[:, 2], rows[:, 3]
            assert np.all(y % f == 0) and np.all(x % f == 0)  # aligned windows
            for yy, xx, ff in zip(y, x, f, strict=True):  # every footprint pixel on its side of the mask
                window = mask[yy : yy + SIZE * ff, xx : xx + SIZE * ff]
                assert window.shape == (SIZE * ff, SIZE * ff)
                assert window.all() if split == "test" else not window.any()
            boxes[split] = (y, x, y + SIZE * f, x + SIZE * f)
        (ty0, tx0, ty1, tx1), (sy0, sx0, sy1, sx1) = boxes["train"], boxes["test"]
        overlap = (
            (ty0[:, None] < sy1[None])
            & (sy0[None] < ty1[:, None])
            & (tx0[:, None] < sx1[None])
            & (sx0[None] < tx1[:, None])
        )
        assert not overlap.any(), f"photo {p}: a test window overlaps a train window"


def test_every_photo_and_factor_is_used(cut):
    for split in ("train", "test"):
        rows = cut.footprints[split]
        assert set(np.unique(rows[:, 0])) == set(range(7))
        factors = im.DEFAULT_FACTORS
        assert np.bincount(np.searchsorted(factors, rows[:, 3])).tolist() == [len(rows) // len(factors)] * len(factors)


def test_patch_is_the_block_mean_of_its_window(photos, cut):
    for split in ("train", "test"):
        for i in range(0, len(cut.footprints[split]), 37):
            p, y, x, f = cut.footprints[split][i]
            window = photos[p][y : y + SIZE * f, x : x + SIZE * f].astype(np.float64)
            expect = window.reshape(SIZE, f, SIZE, f, 3).mean(axis=(1, 3))
            np.testing.assert_array_equal(getattr(cut, split)[i], np.rint(expect).astype(np.uint8))
            if split == "test":  # the 2x version: the same window at factor f / 2
                h = f // 2
                expect_2x = window.reshape(2 * SIZE, h, 2 * SIZE, h, 3).mean(axis=(1, 3))
                np.testing.assert_array_equal(cut.test_2x[i], np.rint(expect_2x).astype(np.uint8))


def test_patch_equals_2x2_block_mean_of_2x_version_up_to_rounding(cut):
    assert cut.test_2x.shape == (150, 2 * SIZE, 2 * SIZE, 3)
    down = cut.test_2x.astype(np.float64).reshape(150, SIZE, 2, SIZE, 2, 3).mean(axis=(2, 4))
    assert np.abs(down - cut.test).max() <= 1.0  # two roundings of at most 1/2 each


def test_near_constant_windows_are_rejected(cut):
    for patches in (cut.train, cut.test):
        gray_std = (patches / 255.0 @ LUMA).std(axis=(1, 2))
        assert gray_std.min() >= im.DEFAULT_MIN_STD - 1 / 255  # uint8 rounding moves the std a little
    flat_left = np.zeros((300, 600, 3), np.uint8)
    flat_left[:, 300:] = np.random.default_rng(0).integers(0, 256, (300, 300, 3))
    got = region_patches(
        [flat_left], n_train=50, n_test=20, size=SIZE, factors=(2,), test_fraction=0.3, min_std=0.02, seed=0
    )
    assert all((got.footprints[s][:, 2] + 2 * SIZE > 300).all() for s in ("train", "test"))


def test_odd_factor_gives_no_2x(photos):
    got = region_patches(
        photos[:2], n_train=10, n_test=5, size=SIZE, factors=(1, 2), test_fraction=0.3, min_std=0.0, seed=0
    )
    assert got.test_2x is None and got.test.shape == (5, SIZE, SIZE, 3)


def test_portrait_photo_gets_a_horizontal_band():
    photo = np.random.default_rng(0).integers(0, 256, (400, 100, 3), dtype=np.uint8)
    mask = band_mask(photo, 0.3)
    rows = np.flatnonzero(mask.all(axis=1))
    assert mask.sum() == 120 * 100 and len(rows) == 120 and np.all(np.diff(rows) == 1)


def test_share_is_even_and_capped():
    assert _share(10, np.array([100, 2, 100])).tolist() == [4, 2, 4]
    assert _share(10, np.array([0, 3, 3])).tolist() == [0, 5, 5]  # beyond capacity: repeats, never slot 0
    assert _share(7, np.array([5, 5, 5])).tolist() == [3, 2, 2]


# --- sets too small or too flat for any patch: one line naming the set, the sizes and the fix -----


def test_imagefolder_of_images_smaller_than_the_patch_names_the_dataset_sizes_and_fix(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "thumbs"
    folder.mkdir()
    for name, shape in (("a.png", (40, 50, 3)), ("b.png", (60, 80, 3))):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / name)
    out = tmp_path / "data" / "thumbs.h5"
    with pytest.raises(ValueError) as err:
        im.build_images(out, source="imagefolder", path=str(folder), n_train=10, n_test=4, size=32, factors=[2, 4])
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"dataset 'thumbs' (imagefolder {folder}): no train patch fits: a 32 px patch at")
    assert "at factor 2 (factors (2, 4))" in message and "64x64 px window" in message
    assert "the smallest image is 40x50 px, the largest 60x80 px" in message
    assert message.endswith("; lower size or factors, use mode: resize, or add larger images to the folder")
    assert not out.parent.exists() or not list(out.parent.iterdir())  # nothing written
    with pytest.raises(ValueError) as err:  # called directly: the folder
        image_folder.imagefolder_images(folder, n_train=10, n_test=4)
    assert str(err.value).startswith(f"imagefolder {folder}: no train patch fits")


def test_builtin_patches_too_large_for_the_photographs_name_the_dataset(tmp_path):
    with pytest.raises(ValueError) as err:
        im.build_images(tmp_path / "huge.h5", source="builtin", n_train=4, n_test=2, size=128, factors=[8])
    message = str(err.value)
    assert "\n" not in message and message.startswith("dataset 'huge' (builtin): no train patch fits")
    assert "a 1024x1024 px window" in message and "the smallest image is 300x451 px, the largest 872x1000 px" in message
    assert message.endswith("; lower size or factors, or use source: imagefolder with larger photographs")


def test_test_band_too_narrow_and_flat_images_say_why():
    photo = np.random.default_rng(0).integers(0, 256, (70, 300, 3), dtype=np.uint8)
    params = dict(n_train=5, n_test=2, size=SIZE, factors=(2,), min_std=0.0, seed=0)
    with pytest.raises(ValueError) as err:  # train (outside the 30 px band) fits, the band does not
        region_patches([photo], test_fraction=0.1, where="dataset 'x'", **params)
    assert "\n" not in str(err.value)
    assert str(err.value).startswith("dataset 'x': no test patch fits: a 32 px patch at factor 2 (factors (2,))")
    assert "inside one image's test band, 0.1 of its longer side" in str(err.value)
    assert "at least 64 px on its shorter side and about 640 px on its longer one" in str(err.value)
    flat = np.full((300, 600, 3), 128, np.uint8)
    with pytest.raises(ValueError, match=r"^patches: every train window of 32 px at factors \(2,\) is flatter than "
                                         r"min_std 0\.05 \(grayscale std on \[0, 1\]\); lower min_std"):
        region_patches([flat], test_fraction=0.3, **{**params, "min_std": 0.05})


def test_builtin_is_deterministic_and_seeded():
    a = im.builtin_images(n_train=40, n_test=12, seed=3)
    b = im.builtin_images(n_train=40, n_test=12, seed=3)
    c = im.builtin_images(n_train=40, n_test=12, seed=4)
    for name in ("train", "test", "test_2x"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.train, c.train)
    assert a.sha256 == c.sha256 and a.source == "builtin"
    assert a.train.shape == (40, 32, 32, 3) and a.test_2x.shape == (12, 64, 64, 3)


def _missing_pixel_psnr_linear(image: np.ndarray, rng: np.random.Generator, ratio: float = 0.1) -> float:
    """PSNR (dB, [0, 1] scale) on the unobserved pixels of scipy's linear interpolation."""
    h, w, c = image.shape
    order = rng.permutation(h * w)
    known, missing = order[: int(ratio * h * w)], order[int(ratio * h * w) :]
    points = np.stack(np.divmod(np.arange(h * w), w), axis=1).astype(np.float64)
    values = image.reshape(-1, c) / 255.0
    guess = griddata(points[known], values[known], points[missing], method="linear")
    nearest = griddata(points[known], values[known], points[missing], method="nearest")
    guess = np.where(np.isnan(guess), nearest, guess)
    return float(10 * np.log10(1 / np.mean((guess - values[missing]) ** 2)))


def test_default_builtin_is_about_as_hard_as_cifar10(cut):
    # Linear interpolation from 10% of the pixels gives ~20-22 dB on CIFAR-10.
    rng = np.random.default_rng(0)
    psnr = np.array([_missing_pixel_psnr_linear(image, rng) for image in cut.test[:120]])
    assert 20.0 < psnr.mean() < 23.5


# --- HDF5 file -----------------------------------------------------------------------------------


def test_build_is_byte_identical_and_round_trips(tmp_path):
    a, b = tmp_path / "a" / "builtin.h5", tmp_path / "b" / "builtin.h5"
    im.build_images(a, source="builtin", n_train=30, n_test=10, seed=1)
    im.build_images(b, source="builtin", n_train=30, n_test=10, seed=1)
    assert a.read_bytes() == b.read_bytes()
    expect = im.builtin_images(n_train=30, n_test=10, seed=1)
    np.testing.assert_array_equal(im.read_images(a, "train"), expect.train)
    np.testing.assert_array_equal(im.read_images(a, "test"), expect.test)
    np.testing.assert_array_equal(im.read_images(a, "test_2x"), expect.test_2x)
    with h5py.File(a) as f:
        assert f.attrs["source"] == "builtin" and f.attrs["sha256"] == expect.sha256
        assert (f.attrs["H"], f.attrs["W"], f.attrs["C"]) == (32, 32, 3)
        assert list(f.attrs["factors"]) == list(im.DEFAULT_FACTORS) and f.attrs["min_std"] == im.DEFAULT_MIN_STD
        assert "where" not in f.attrs  # what errors call the set is no parameter of its content
    assert sorted(p.name for p in a.parent.iterdir()) == ["builtin.h5"]  # no temporary left


def test_write_read_round_trip_without_2x(tmp_path):
    rng = np.random.default_rng(0)
    images = im.ImageSet(
        rng.integers(0, 256, (5, 8, 6, 3), dtype=np.uint8),
        rng.integers(0, 256, (2, 8, 6, 3), dtype=np.uint8),
        None,
        "cifar10",
        "abc",
    )
    path = tmp_path / "x.h5"
    im.write_images(path, images, n_train=5, path=tmp_path, note=None, sizes=(1, 2))
    np.testing.assert_array_equal(im.read_images(path, "train"), images.train)
    np.testing.assert_array_equal(im.read_images(path, "test"), images.test)
    with h5py.File(path) as f:
        assert (f.attrs["H"], f.attrs["W"]) == (8, 6) and "note" not in f.attrs
        assert f.attrs["path"] == str(tmp_path) and list(f.attrs["sizes"]) == [1, 2]
    with pytest.raises(ValueError, match=r"x\.h5: no test/images_2x"):
        im.read_images(path, "test_2x")
    with pytest.raises(TypeError, match="bad"):
        im.write_images(path, images, bad={"a": 1})


def test_read_images_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.h5"):
        im.read_images(tmp_path / "nothere.h5", "train")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(OSError, match="junk.h5"):
        im.read_images(tmp_path / "junk.h5", "train")


def test_build_images_rejects_unknown_source(tmp_path):
    with pytest.raises(ValueError, match="unknown source 'mnist'"):
        im.build_images(tmp_path / "x.h5", source="mnist")
    with pytest.raises(TypeError, match="source 'builtin'.*n_tset"):
        im.build_images(tmp_path / "x.h5", source="builtin", n_train=3, n_test=2, n_tset=2)
    with pytest.raises(TypeError, match="source 'builtin'.*where"):  # build_images sets it from the file name
        im.build_images(tmp_path / "x.h5", source="builtin", n_train=3, n_test=2, where="x")


# --- CIFAR-10 ------------------------------------------------------------------------------------


def _fake_cifar(folder, rows=4, test_rows=3):
    """A cifar-10-batches-py folder of random batches; returns {batch name: (n, 3072) uint8 rows}."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (test_rows if name == "test_batch" else rows, 3072), dtype=np.uint8)
        batch = {b"batch_label": name.encode(), b"labels": [1] * len(data), b"data": data}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        batches[name] = data
    return batches


def test_cifar_folder_and_tarball_round_trip(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    batches = _fake_cifar(folder)
    train_rows = np.concatenate([batches[f"data_batch_{i}"] for i in range(1, 6)])
    got = im.cifar10_images(folder)
    assert got.train.shape == (20, 32, 32, 3) and got.test.shape == (3, 32, 32, 3) and got.test_2x is None
    # CIFAR rows are channel-major: red plane, green plane, blue plane, each row-major 32 x 32.
    r, y, x, c = 13, 5, 17, 2
    assert got.train[r, y, x, c] == train_rows[r, c * 1024 + y * 32 + x]
    np.testing.assert_array_equal(got.train, train_rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(got.test, batches["test_batch"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))

    tarball = tmp_path / "dl" / "cifar-10-python.tar.gz"
    tarball.parent.mkdir()
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    for where in (tarball, tarball.parent, tmp_path):  # the tarball, or a folder holding one of the two
        again = im.cifar10_images(where)
        np.testing.assert_array_equal(again.train, got.train)
        np.testing.assert_array_equal(again.test, got.test)
        assert again.sha256 == got.sha256

    first = im.cifar10_images(tarball, n_train=6, n_test=2)  # spans data_batch_1 and data_batch_2
    np.testing.assert_array_equal(first.train, got.train[:6])
    np.testing.assert_array_equal(first.test, got.test[:2])
    with pytest.raises(ValueError, match="asked for 21"):
        im.cifar10_images(folder, n_train=21)


def test_cifar_build_writes_no_2x(tmp_path):
    _fake_cifar(tmp_path / "cifar-10-batches-py")
    out = tmp_path / "cifar10.h5"
    im.build_images(out, source="cifar10", path=str(tmp_path), n_train=5)
    assert im.read_images(out, "train").shape == (5, 32, 32, 3)
    with h5py.File(out) as f:
        assert "images_2x" not in f["test"] and f.attrs["source"] == "cifar10" and not f.attrs["download"]


def test_missing_cifar_says_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        im.cifar10_images(tmp_path / "nowhere")
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "nowhere") in message
    assert im.CIFAR_URL in message and "download: true" in message


def test_cifar_download_uses_torchvision(tmp_path, monkeypatch):
    calls = []

    def fake_cifar10(root, download):  # what torchvision leaves behind: the extracted folder
        calls.append((root, download))
        _fake_cifar(tmp_path / "cifar-10-batches-py")

    fake = types.ModuleType("torchvision")
    fake.datasets = types.SimpleNamespace(CIFAR10=fake_cifar10)
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    got = im.cifar10_images(tmp_path, download=True, n_test=1)
    assert calls == [(str(tmp_path), True)] and got.test.shape == (1, 32, 32, 3)


def test_cifar_pickle_with_foreign_globals_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _fake_cifar(folder)
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": types.SimpleNamespace()}, protocol=2))
    with pytest.raises(ValueError, match="data_batch_1 is not a CIFAR-10 batch"):
        im.cifar10_images(folder)


# --- image folders -------------------------------------------------------------------------------


def _write_colour_files(folder):
    """Six small files of known single colours (PNG, JPEG, TIFF; RGBA, gray, 16-bit gray)."""
    (folder / "sub").mkdir(parents=True)
    colours = {}

    def save(name, array, rgb):
        Image.fromarray(array).save(folder / name)
        colours[name] = rgb

    save("a.png", np.full((20, 30, 3), (200, 10, 50), np.uint8), rgb=(200, 10, 50))
    save("sub/b.PNG", np.full((40, 40, 4), (10, 20, 30, 40), np.uint8), rgb=(10, 20, 30))  # alpha dropped
    save("sub/c.tif", np.full((16, 16), 77, np.uint8), rgb=(77, 77, 77))  # gray -> 3 channels
    save("d.png", np.full((16, 24), 100 * 257, np.uint16), rgb=(100, 100, 100))  # 16-bit gray -> 8-bit
    save("e.TIFF", np.full((24, 16, 3), (0, 255, 128), np.uint8), rgb=(0, 255, 128))
    save("f.jpeg", np.full((32, 32, 3), 128, np.uint8), rgb=(128, 128, 128))
    (folder / "notes.txt").write_text("not an image")
    return colours


def test_imagefolder_resize_splits_by_file_with_known_colours(tmp_path):
    colours = _write_colour_files(tmp_path / "imgs")
    assert [p.relative_to(tmp_path / "imgs").as_posix() for p in image_folder.image_files(tmp_path / "imgs")] == [
        "a.png",
        "d.png",
        "e.TIFF",
        "f.jpeg",
        "sub/b.PNG",
        "sub/c.tif",
    ]
    got = image_folder.imagefolder_images(tmp_path / "imgs", mode="resize", size=8, seed=0)
    assert got.train.shape == (4, 8, 8, 3) and got.test.shape == (2, 8, 8, 3) and got.test_2x is None
    seen = [tuple(int(v) for v in image[4, 4]) for image in np.concatenate([got.train, got.test])]
    assert all(np.abs(image.astype(int) - image[4, 4]).max() <= 1 for image in got.train)  # flat stays flat
    assert sorted(seen) == sorted(colours.values())  # every file once, on one side only
    again = image_folder.imagefolder_images(tmp_path / "imgs", mode="resize", size=8, seed=0, n_train=3)
    np.testing.assert_array_equal(again.train, got.train[:3])


def test_imagefolder_patches_reuse_the_region_split(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "p").mkdir()
    photos = [rng.integers(0, 256, (200, 260, 3), dtype=np.uint8) for _ in range(2)]
    for i, photo in enumerate(photos):
        Image.fromarray(photo).save(tmp_path / "p" / f"{i}.png")
    got = image_folder.imagefolder_images(tmp_path / "p", n_train=30, n_test=8, factors=(2, 4), seed=5)
    expect = region_patches(
        photos,
        n_train=30,
        n_test=8,
        size=32,
        factors=(2, 4),
        test_fraction=0.3,
        min_std=im.DEFAULT_MIN_STD,
        seed=5,
    )
    np.testing.assert_array_equal(got.train, expect.train)
    np.testing.assert_array_equal(got.test_2x, expect.test_2x)
    assert got.source == "imagefolder" and got.test_2x.shape == (8, 64, 64, 3)
    out = tmp_path / "folder.h5"
    im.build_images(out, source="imagefolder", path=str(tmp_path / "p"), n_train=30, n_test=8, factors=[2, 4], seed=5)
    np.testing.assert_array_equal(im.read_images(out, "test"), expect.test)


def test_imagefolder_errors_name_the_culprit(tmp_path):
    _write_colour_files(tmp_path / "imgs")
    (tmp_path / "imgs" / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(ValueError, match=r"broken\.jpg") as err:
        image_folder.imagefolder_images(tmp_path / "imgs", mode="resize")
    assert "\n" not in str(err.value)
    (tmp_path / "empty" / "deep").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no PNG/JPEG/TIFF files under .*empty"):
        image_folder.imagefolder_images(tmp_path / "empty", mode="resize")
    with pytest.raises(ValueError, match="needs n_train and n_test"):
        image_folder.imagefolder_images(tmp_path / "imgs", mode="patches")
