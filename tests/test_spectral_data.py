"""The multispectral leaf data: band integration, the builtin leaves, the HDF5 layout, the folder source, the scorer."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from sparsefield.data.spectral.leaves import BAND_CENTRES, WAVELENGTHS, integrate_bands, leaves_images
from sparsefield.data.spectral.sets import coverage, read_spectral
from sparsefield.data.spectral.sources import build_spectral, folder_images
from sparsefield.samples import Samples
from sparsefield.scoring.spectral import score, spectral_angle_degrees


@pytest.fixture(scope="module")
def leaves():
    return leaves_images(n_train=24, n_test=8, size=16, seed=3)


def test_band_integration_of_a_flat_spectrum_is_flat_and_a_line_lands_in_its_band():
    assert np.allclose(integrate_bands(np.full(len(WAVELENGTHS), 0.37), WAVELENGTHS), 0.37)
    line = np.exp(-0.5 * ((WAVELENGTHS - BAND_CENTRES[3]) / 2.0) ** 2)
    assert integrate_bands(line, WAVELENGTHS).argmax() == 3


def test_builtin_leaves_are_deterministic_and_the_test_split_ignores_n_train(leaves):
    again = leaves_images(n_train=24, n_test=8, size=16, seed=3)
    assert np.array_equal(again.train.images, leaves.train.images)
    assert np.array_equal(again.test.masks, leaves.test.masks)
    other = leaves_images(n_train=4, n_test=8, size=16, seed=3)
    assert np.array_equal(other.test.images, leaves.test.images)
    assert not np.array_equal(leaves_images(n_train=4, n_test=8, size=16, seed=4).test.images, leaves.test.images)


def test_leaf_spectra_show_the_red_edge_and_the_soil_does_not(leaves):
    images, masks = leaves.train.images, leaves.train.masks > 0
    leaf, soil = images[masks].mean(0), images[~masks].mean(0)  # blue, green, red, red edge, NIR
    assert leaf[4] > 3 * leaf[2] and leaf[1] > leaf[2]
    assert soil[4] < 2 * soil[2]
    assert set(np.unique(leaves.train.masks)) == {0, 1}
    assert ((coverage(leaves.train.masks) > 0) & (coverage(leaves.train.masks) < 1)).all()


def test_hdf5_round_trip_and_identical_bytes_on_rebuild(tmp_path):
    paths = [tmp_path / f"leaves{i}.h5" for i in range(2)]
    for path in paths:
        build_spectral(path, source="leaves", n_train=6, n_test=3, size=16, seed=1)
    digests = {hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}
    assert len(digests) == 1
    made = leaves_images(n_train=6, n_test=3, size=16, seed=1)
    test = read_spectral(paths[0], "test")
    assert np.array_equal(test.images, made.test.images) and np.array_equal(test.masks, made.test.masks)
    assert test.images.dtype == np.float32 and test.bands == ("blue", "green", "red", "red_edge", "nir")


def _folder(tmp_path, n_files=3):
    import tifffile

    rng = np.random.default_rng(0)
    for i in range(n_files):
        stack = rng.integers(0, 65535, (5, 20, 24), dtype=np.uint16)
        if i == 1:
            stack = stack.transpose(1, 2, 0)  # (H, W, C) is read too
        tifffile.imwrite(tmp_path / f"plot{i}.tif", stack)
        tifffile.imwrite(tmp_path / f"plot{i}_mask.tif", (rng.uniform(size=(20, 24)) > 0.5).astype(np.uint8))
    return tmp_path


def test_multispectral_folder_tiles_scales_and_names_bad_files(tmp_path):
    import tifffile

    folder = _folder(tmp_path)
    made = folder_images(folder, bands=["b", "g", "r", "re", "nir"], size=8, test_fraction=0.34)
    assert made.train.images.shape == (12, 8, 8, 5) and made.test.images.shape == (6, 8, 8, 5)  # 6 tiles a file
    assert 0.0 <= made.train.images.min() and made.train.images.max() <= 1.0
    with pytest.raises(ValueError, match="plot0.tif"):
        folder_images(folder, bands=["b", "g", "r"], size=8)  # wrong band count
    tifffile.imwrite(folder / "plot2_mask.tif", np.ones((10, 10), np.uint8))
    with pytest.raises(ValueError, match="plot2_mask.tif"):
        folder_images(folder, bands=list("abcde"), size=8)  # mask shape
    (folder / "plot2_mask.tif").unlink()
    with pytest.raises(ValueError, match="plot2.tif has no mask"):
        folder_images(folder, bands=list("abcde"), size=8)
    (folder / "plot2.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(ValueError, match="cannot read .*plot2.tif"):
        folder_images(folder, bands=list("abcde"), size=8)


def test_spectral_angle_known_answers():
    x = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    assert spectral_angle_degrees(3 * x, x) < 1e-6
    assert spectral_angle_degrees(np.array([1.0, 0, 0]), np.array([0, 1.0, 0])) == pytest.approx(90.0)
    assert np.isnan(spectral_angle_degrees(np.zeros(5), x))


def test_scorer_excludes_the_background_exactly(leaves):
    test = leaves.test
    wrong = test.images.copy()
    wrong[test.masks == 0] = 0.9  # wrong on the background only
    wrong[..., 2][test.masks > 0] += 0.1  # band red wrong by 0.1 on the leaves
    samples = Samples(wrong[:, None], wrong, 0 * wrong, np.arange(len(wrong)), {"latent_per_pixel": 2.0})
    rows = score([samples], test).set_index(["metric", "region"])["value"]
    assert rows[("psnr_red", "leaf")] == pytest.approx(20.0, abs=0.2)  # clipped to 1 nowhere: leaf red < 0.9
    assert rows[("psnr_nir", "leaf")] == np.inf and rows[("sam", "leaf")] > 0
    assert rows[("psnr_nir", "full")] < 30 and rows[("latent_per_pixel", "-")] == 2.0
    perfect = Samples(test.images[:, None], test.images, 0 * test.images, np.arange(len(test)), {})
    rows = score([perfect], test).set_index(["metric", "region"])["value"]
    assert rows[("sam", "leaf")] < 1e-4 and rows[("ssim", "full")] == pytest.approx(1.0)
    assert rows[("psnr", "full")] == np.inf


def test_scores_of_a_chunk_do_not_depend_on_how_many_pixels_are_scored_at_once(leaves, monkeypatch):
    """A chunk of 256 leaf tiles of 128 px took 3.9 GB to score at once: the scorer takes SCORE_PIXELS at a time."""
    from sparsefield.scoring import spectral

    test = leaves.test
    rng = np.random.default_rng(0)
    pred = np.clip(test.images + rng.normal(0, 0.05, test.images.shape), 0, 1).astype(np.float32)
    samples = Samples(pred[:, None], pred, 0 * pred, np.arange(len(pred)), {})
    whole = score([samples], test)
    seen = []
    scores = spectral._scores
    monkeypatch.setattr(spectral, "_scores", lambda pred, *rest: seen.append(len(pred)) or scores(pred, *rest))
    monkeypatch.setattr(spectral, "SCORE_PIXELS", 3 * 16 * 16)
    pd.testing.assert_frame_equal(score([samples], test), whole)
    assert seen == [3, 3, 2]
