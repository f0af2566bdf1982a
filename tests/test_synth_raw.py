"""Builtin raw set: DNG round trips, the inverse camera pipeline, and its sensor noise."""

from __future__ import annotations

import numpy as np
import pytest
import rawpy
import tifffile

from sparsefield.data.images.patches import band_mask
from sparsefield.data.images.sources import builtin_photos
from sparsefield.data.raw import synth as sr
from sparsefield.data.raw.demosaic import develop
from sparsefield.data.raw.dng import write_dng
from sparsefield.data.raw.sid import captures, exposure_ratio, read_lists

XTRANS = "".join(("GGRGGB", "GGBGGR", "BRGRBG", "GGBGGR", "GGRGGB", "RBGBRG"))  # Fuji's 6 x 6 pattern


# --- DNG files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cfa", ["RGGB", "BGGR", "GRBG", XTRANS])
def test_dng_gives_back_the_exact_mosaic_levels_and_cfa(tmp_path, cfa):
    size = 516 if len(cfa) == 36 else 64  # LibRaw's 3-pass X-Trans demosaic needs >= 512 px
    mosaic = np.random.default_rng(0).integers(0, 16384, size=(size, size)).astype(np.uint16)
    write_dng(tmp_path / "x.dng", mosaic, cfa=cfa, black=512, white=16383)
    with rawpy.imread(str(tmp_path / "x.dng")) as raw:
        assert np.array_equal(raw.raw_image_visible, mosaic)
        assert list(raw.black_level_per_channel) == [512] * 4 and raw.white_level == 16383
    _, levels = develop(tmp_path / "x.dng")
    assert levels == {"black_level": [512] * 4, "white_level": 16383, "cfa_pattern": cfa,
                      "white_balance": [1.0] * 4, "white_balance_source": "as_shot"}


def test_dng_carries_exposure_iso_and_noise_profile(tmp_path):
    mosaic = np.full((8, 8), 600, dtype=np.uint16)
    write_dng(tmp_path / "x.dng", mosaic, exposure_s=0.04, iso=3200, fnumber=8, noise_profile=(2e-5, 3e-8))
    tags = tifffile.TiffFile(tmp_path / "x.dng").pages[0].tags
    assert tags["NoiseProfile"].value == (2e-5, 3e-8)
    assert tags["ExposureTime"].value == (1, 25) and tags["ISOSpeedRatings"].value == 3200
    with pytest.raises(ValueError, match="not a multiple of the CFA period"):
        write_dng(tmp_path / "y.dng", np.zeros((7, 8), np.uint16))


def test_dng_without_as_shot_neutral_and_linear_raw_dng(tmp_path):
    mosaic = np.full((8, 8), 600, dtype=np.uint16)
    write_dng(tmp_path / "plain.dng", mosaic, as_shot_neutral=None)
    assert "AsShotNeutral" not in tifffile.TiffFile(tmp_path / "plain.dng").pages[0].tags
    write_dng(tmp_path / "wb.dng", mosaic)
    assert "AsShotNeutral" in tifffile.TiffFile(tmp_path / "wb.dng").pages[0].tags
    rgb = np.random.default_rng(0).integers(512, 16384, (32, 40, 3)).astype(np.uint16)  # LibRaw: >= 22 px
    write_dng(tmp_path / "linear.dng", rgb)
    tags = tifffile.TiffFile(tmp_path / "linear.dng").pages[0].tags
    assert tags["PhotometricInterpretation"].value == 34892 and tags["SamplesPerPixel"].value == 3
    assert "CFAPattern" not in tags
    with rawpy.imread(str(tmp_path / "linear.dng")) as raw:
        assert raw.raw_pattern is None  # no mosaic: raw.py refuses it (tests/test_raw.py)
    with pytest.raises(ValueError, match=r"uint16 \(H, W\) or \(H, W, 3\)"):
        write_dng(tmp_path / "y.dng", np.zeros((4, 4, 4), np.uint16))


def test_same_mosaic_same_bytes(tmp_path):
    mosaic = np.random.default_rng(1).integers(0, 16384, size=(32, 32)).astype(np.uint16)
    for name in ("a.dng", "b.dng"):
        write_dng(tmp_path / name, mosaic, iso=100, exposure_s=10.0)
    assert (tmp_path / "a.dng").read_bytes() == (tmp_path / "b.dng").read_bytes()


# --- inverse camera pipeline ----------------------------------------------------------------------


def test_develop_inverts_the_inverse_pipeline(tmp_path):
    """sRGB -> unprocess -> noise-free DNG -> LibRaw gives the linear image / g_rgb back (WB and colour
    matrix undone by LibRaw from the DNG's AsShotNeutral and ColorMatrix1)."""
    rng = np.random.default_rng(2)
    xyz2cam, gains = sr.random_xyz2cam(rng), sr.random_gains(rng)
    y, x = np.mgrid[0:96, 0:96] / 96.0
    srgb = np.stack([0.2 + 0.5 * x, 0.3 + 0.4 * y, 0.25 + 0.3 * x * y], axis=-1)  # smooth, below white
    signal = sr.mosaic_rggb(sr.unprocess(srgb, sr.rgb2cam_of(xyz2cam), gains))
    raw = np.rint(sr.BLACK + (sr.WHITE - sr.BLACK) * signal).astype(np.uint16)
    write_dng(tmp_path / "c.dng", raw, xyz2cam=xyz2cam, as_shot_neutral=(1 / gains.red, 1.0, 1 / gains.blue))
    rgb, _ = develop(tmp_path / "c.dng", "AHD")
    linear = (0.5 - np.sin(np.arcsin(1 - 2 * srgb) / 3)) ** 2.2 / gains.rgb
    assert np.abs(rgb - linear)[4:-4, 4:-4].max() < 2e-3


def test_random_camera_rows_sum_to_one_and_gains_in_range():
    rng = np.random.default_rng(3)
    for _ in range(20):
        assert np.allclose(sr.rgb2cam_of(sr.random_xyz2cam(rng)).sum(1), 1.0)
        gains = sr.random_gains(rng)
        assert 1.9 <= gains.red <= 2.4 and 1.5 <= gains.blue <= 1.9 and gains.rgb > 0


def test_noise_levels_follow_brooks_et_al():
    rng = np.random.default_rng(4)
    shot, read = np.array([sr.random_noise_levels(rng) for _ in range(4000)]).T
    assert shot.min() >= 1e-4 and shot.max() <= 0.012
    assert abs(np.log(shot).mean() - (np.log(1e-4) + np.log(0.012)) / 2) < 0.05  # log-uniform
    residual = np.log(read) - (2.18 * np.log(shot) + 1.20)
    assert abs(residual.mean()) < 0.02 and abs(residual.std() - 0.26) < 0.01


def variance_line(signal: np.ndarray, observed: np.ndarray, n_bins: int = 16) -> tuple[float, float]:
    """Slope and intercept of Var(observed) against the mean, over bins of the expected signal."""
    edges = np.quantile(signal, np.linspace(0, 1, n_bins + 1))
    means, variances = [], []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (signal >= low) & (signal <= high)
        means.append(signal[inside].mean())
        variances.append((observed[inside] - signal[inside]).var())
    slope, intercept = np.polyfit(means, variances, 1)
    return slope, intercept


def test_short_exposure_variance_is_the_sampled_line(tmp_path):
    """Flat bands through expose -> DNG -> rawpy: Var = shot * mean + read (+ 1 DN^2 / 12 quantisation)."""
    shot, read, ratio = 4e-5, 2e-7, 100.0
    levels = np.repeat(np.linspace(0.05, 1.0, 16), 4096 // 16)  # long-exposure signal of 16 flat bands
    x = np.tile(levels, (64, 1))  # (64, 4096)
    raw = sr.expose(x, ratio=ratio, shot=shot, read=read, rng=np.random.default_rng(5))
    write_dng(tmp_path / "s.dng", raw)
    with rawpy.imread(str(tmp_path / "s.dng")) as r:
        y = (r.raw_image_visible.astype(np.float64) - sr.BLACK) / (sr.WHITE - sr.BLACK)
    slope, intercept = variance_line(x / ratio, y)
    quantisation = 1 / (12 * (sr.WHITE - sr.BLACK) ** 2)
    assert slope == pytest.approx(shot, rel=0.05)
    assert intercept == pytest.approx(read + quantisation, rel=0.1)


def test_builtin_captures_have_their_noise_profile(tmp_path):
    """Each short capture of the written set against its scene's long exposure / ratio: the variance
    line has the slope and intercept the DNG's NoiseProfile (the sampled levels) says."""
    sr.build_builtin(tmp_path, n_train=1, n_test=1, size=128, ratios=[100, 300], seed=7)
    known = captures(read_lists(tmp_path, "Sony"))
    checked = 0
    for capture in known.values():
        if capture.data_type != "noisy":
            continue
        path, long_path = tmp_path / capture.path, tmp_path / known[capture.partner].path
        shot, read = tifffile.TiffFile(path).pages[0].tags["NoiseProfile"].value
        with rawpy.imread(str(path)) as short, rawpy.imread(str(long_path)) as long:
            y = (short.raw_image_visible.astype(np.float64) - sr.BLACK) / (sr.WHITE - sr.BLACK)
            mean = (long.raw_image_visible.astype(np.float64) - sr.BLACK) / (sr.WHITE - sr.BLACK) / capture.ratio
        keep = (mean > 0) & (mean * capture.ratio < 0.95)  # leave out clipped pixels
        slope, intercept = variance_line(mean[keep], y[keep], n_bins=8)
        # the long exposure's own noise, seen through 1 / ratio, adds (shot m / r + read / r^2)
        assert slope == pytest.approx(shot * (1 + 1 / capture.ratio), rel=0.15)
        quantisation = (1 + 1 / capture.ratio**2) / (12 * (sr.WHITE - sr.BLACK) ** 2)
        assert intercept == pytest.approx(read * (1 + 1 / capture.ratio**2) + quantisation, rel=0.3, abs=2e-9)
        checked += 1
    assert checked == 4


# --- the builtin set ------------------------------------------------------------------------------


def test_builtin_names_follow_sid():
    pairs = sr.builtin_pairs(n_train=1, n_val=1, n_test=2, ratios=[100, 250, 300])
    assert [p.short for p in pairs["train"]] == [
        "Sony/short/00001_00_0.1s.dng", "Sony/short/00001_01_0.04s.dng", "Sony/short/00001_02_0.033s.dng",
    ]
    assert pairs["test"][3].long == "Sony/long/10002_00_10s.dng" and pairs["val"][0].long.startswith("Sony/long/2")
    assert [exposure_ratio(10.0, t) for t in (0.1, 0.04, 0.033)] == [100.0, 250.0, 300.0]
    with pytest.raises(ValueError, match=r"ratio 150 reads back as 149\.254 .*\(0\.067s"):
        sr.builtin_pairs(n_train=1, n_val=0, n_test=1, ratios=[150])
    with pytest.raises(ValueError, match="ratio 500 reads back as 300"):  # SID's cap
        sr.builtin_pairs(n_train=1, n_val=0, n_test=1, ratios=[500])


def test_scenes_are_disjoint_and_test_scenes_in_the_test_band():
    photos = builtin_photos()
    counts = {"train": 6, "val": 2, "test": 5}
    scenes = sr.place_scenes(photos, counts, 128, 0.3, 8 / 255, np.random.default_rng(0))
    assert {split: len(s) for split, s in scenes.items()} == counts
    covered = [np.zeros(p.shape[:2], int) for p in photos]
    for split, placed in scenes.items():
        for p, y, x in placed:
            covered[p][y : y + 128, x : x + 128] += 1
            band = band_mask(photos[p], 0.3)[y : y + 128, x : x + 128]
            assert band.all() if split == "test" else not band.any()
    assert max(c.max() for c in covered) == 1  # no pixel in two scenes
    with pytest.raises(ValueError, match="no room for 40 test scenes"):
        sr.place_scenes(photos, {"train": 0, "val": 0, "test": 40}, 128, 0.3, 0.0, np.random.default_rng(0))


def test_builtin_set_is_deterministic(tmp_path):
    for name in ("a", "b"):
        sr.build_builtin(tmp_path / name, n_train=1, n_test=1, size=64, ratios=[100], seed=1)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 4 + 3  # 2 scenes x (long + short) + 3 lists
    for file in files:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file
    sr.build_builtin(tmp_path / "c", n_train=1, n_test=1, size=64, ratios=[100], seed=2)
    assert (tmp_path / "c" / files[0]).read_bytes() != (tmp_path / "a" / files[0]).read_bytes()


def test_lists_name_iso_and_scenes(tmp_path):
    sr.build_builtin(tmp_path, n_train=2, n_val=0, n_test=1, size=64, ratios=[100, 300], seed=0)
    pairs = read_lists(tmp_path, "Sony")
    assert (tmp_path / "Sony_val_list.txt").read_text() == ""
    assert len(pairs["train"]) == 4 and len(pairs["test"]) == 2 and pairs["val"] == []
    line = (tmp_path / "Sony_test_list.txt").read_text().splitlines()[1]
    assert line.startswith("./Sony/short/10001_01_0.033s.dng ./Sony/long/10001_00_10s.dng ISO") and line.endswith(" F8")
    assert all(100 <= p.iso <= 12000 for split in pairs.values() for p in split)
