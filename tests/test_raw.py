"""Raw captures -> tiles: SID lists, demosaicing, the tile files, metadata, the dataset and its validation."""

from __future__ import annotations

import copy
import json
import types

import numpy as np
import pytest
import rawpy
import torch

from sparsefield.config import ConfigError, validate_config
from sparsefield.data.raw import sid
from sparsefield.data.raw.demosaic import cut_tiles, demosaic_capture, develop, white_balance, write_metadata
from sparsefield.data.raw.dng import write_dng
from sparsefield.data.raw.synth import RGB2XYZ
from sparsefield.data.raw.tiles import TileDataset, check_metadata, select

IDENTITY_CAMERA = np.linalg.inv(RGB2XYZ)  # camera RGB = linear sRGB, so LibRaw's colour matrix is I
SONY_TEST = """./Sony/short/10003_00_0.04s.ARW ./Sony/long/10003_00_10s.ARW ISO200 F9
./Sony/short/10003_01_0.1s.ARW ./Sony/long/10003_00_10s.ARW ISO200 F9
./Sony/short/10011_00_0.033s.ARW ./Sony/long/10011_00_30s.ARW ISO640 F22
"""
SONY_TRAIN = "./Sony/short/00001_00_0.1s.ARW ./Sony/long/00001_00_10s.ARW ISO100 F8\n"


# --- SID lists ------------------------------------------------------------------------------------


@pytest.fixture
def sid_root(tmp_path):
    (tmp_path / "Sony_test_list.txt").write_text(SONY_TEST)
    (tmp_path / "Sony_train_list.txt").write_text(SONY_TRAIN)
    return tmp_path


def test_sid_lists_give_captures_splits_and_ratios(sid_root):
    pairs = sid.read_lists(sid_root, "Sony")
    assert pairs["val"] == [] and len(pairs["test"]) == 3  # SID without a val list: empty
    assert pairs["test"][0] == sid.Pair("Sony/short/10003_00_0.04s.ARW", "Sony/long/10003_00_10s.ARW", 200, 9.0)
    known = sid.captures(pairs)
    assert list(known) == sorted(known) and len(known) == 7  # test: 3 shorts + 2 long references; train: 1 + 1
    short, long = known["10003_00_0.04s"], known["10003_00_10s"]
    assert (short.split, short.scene, short.data_type, short.exposure_s, short.ratio, short.partner) == (
        "test", "10003", "noisy", 0.04, 250.0, "10003_00_10s")
    assert (long.data_type, long.ratio, long.partner, long.exposure_s) == ("clean", 1.0, None, 10.0)
    assert known["10011_00_0.033s"].ratio == 300.0  # 30 s / 0.033 s = 909, capped as in SID's code
    assert known["00001_00_0.1s"].split == "train" and known["00001_00_0.1s"].iso == 100


def test_sid_errors_are_one_line_and_name_the_file(sid_root, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"raw set root /nowhere/SID does not exist") as err:
        sid.read_lists("/nowhere/SID", "Sony")
    assert "\n" not in str(err.value)
    with pytest.raises(FileNotFoundError, match=r"Fuji_train_list\.txt not found"):
        sid.read_lists(sid_root, "Fuji")
    (sid_root / "Sony_val_list.txt").write_text("./Sony/short/20001_00_0.1s.ARW\n")
    with pytest.raises(ValueError, match=r"Sony_val_list\.txt:1: expected 'short long"):
        sid.read_lists(sid_root, "Sony")
    (sid_root / "Sony_val_list.txt").write_text("./Sony/short/10003_00_0.04s.ARW ./Sony/long/10003_00_10s.ARW\n")
    with pytest.raises(ValueError, match=r"10003_00_10s\.ARW is listed in split 'test' and .* in 'val'"):
        sid.captures(sid.read_lists(sid_root, "Sony"))
    with pytest.raises(ValueError, match="not a SID file name"):
        sid.parse_name("Sony/short/IMG_0001.ARW")


# --- demosaicing ----------------------------------------------------------------------------------


def write_linear(path, image: np.ndarray, cfa="RGGB", **tags) -> None:
    """A noise-free DNG of a linear RGB image (H, W, 3) in [0, 1] through the identity camera (`tags`: write_dng's)."""
    planes = {"R": 0, "G": 1, "B": 2}
    mosaic = np.empty(image.shape[:2])
    for (dy, dx), colour in zip([(0, 0), (0, 1), (1, 0), (1, 1)], cfa, strict=True):
        mosaic[dy::2, dx::2] = image[dy::2, dx::2, planes[colour]]
    raw = np.rint(512 + (16383 - 512) * mosaic).astype(np.uint16)
    write_dng(path, raw, cfa=cfa, xyz2cam=IDENTITY_CAMERA, **tags)


@pytest.mark.parametrize("algorithm", ["LINEAR", "AHD", "PPG", "DCB"])
def test_demosaic_recovers_a_flat_image(tmp_path, algorithm):
    flat = np.broadcast_to(np.array([0.3, 0.55, 0.2]), (64, 64, 3))
    write_linear(tmp_path / "flat.dng", flat)
    rgb, _ = develop(tmp_path / "flat.dng", algorithm)
    assert rgb.dtype == np.float32 and rgb.shape == (64, 64, 3)
    assert np.abs(rgb - flat)[4:-4, 4:-4].max() < 2e-4  # 14-bit and 16-bit rounding


@pytest.mark.parametrize("algorithm", ["LINEAR", "AHD"])
@pytest.mark.parametrize("cfa", ["RGGB", "GBRG"])
def test_demosaic_recovers_a_ramp_away_from_the_border(tmp_path, algorithm, cfa):
    y, x = np.mgrid[0:96, 0:96] / 96.0
    ramp = np.stack([0.1 + 0.6 * x, 0.2 + 0.5 * y, 0.1 + 0.3 * x + 0.3 * y], axis=-1)
    write_linear(tmp_path / "ramp.dng", ramp, cfa)
    rgb, levels = develop(tmp_path / "ramp.dng", algorithm)
    assert levels["cfa_pattern"] == cfa
    error = np.abs(rgb - ramp)
    assert error[6:-6, 6:-6].max() < 2e-3
    assert error[0].max() > error[6:-6, 6:-6].max()  # the border is where demosaicing guesses


def test_as_shot_white_balance_is_applied_and_recorded(tmp_path):
    grey = np.broadcast_to(np.array([0.25, 0.5, 0.4]), (32, 32, 3))  # a grey card as this camera sees it
    write_linear(tmp_path / "card.dng", grey, as_shot_neutral=(0.5, 1.0, 0.8))
    rgb, levels = develop(tmp_path / "card.dng", "LINEAR")
    assert levels["white_balance_source"] == "as_shot"
    assert levels["white_balance"] == pytest.approx([2.0, 1.0, 1.25, 1.0])  # 1 / AsShotNeutral, green = 1
    centre = rgb[4:-4, 4:-4].reshape(-1, 3)
    assert np.ptp(centre.mean(0)) < 2e-3  # balanced: grey again


def test_missing_as_shot_white_balance_gives_every_exposure_the_same_fixed_balance(tmp_path):
    """No AsShotNeutral: LibRaw's automatic balance would grey each image by its own content; the fixed
    daylight balance (the identity camera's: 1, 1, 1) gives a long and a x18 darker exposure one colour."""
    y, x = np.mgrid[0:64, 0:64] / 64.0
    warm = np.stack([0.6 + 0.3 * x, 0.35 + 0.2 * y, 0.12 + 0.1 * x * y], axis=-1)
    got = {}
    for name, scale in (("long", 0.9), ("short", 0.05)):
        write_linear(tmp_path / f"{name}.dng", scale * warm, as_shot_neutral=None)
        rgb, levels = develop(tmp_path / f"{name}.dng", "LINEAR")
        got[name] = rgb[4:-4, 4:-4].mean((0, 1)) / scale, levels
    (long, long_levels), (short, short_levels) = got["long"], got["short"]
    assert long_levels["white_balance_source"] == short_levels["white_balance_source"] == "daylight"
    assert long_levels["white_balance"] == short_levels["white_balance"] == pytest.approx([1.0] * 4, abs=1e-3)
    np.testing.assert_allclose(long, warm[4:-4, 4:-4].mean((0, 1)), rtol=2e-3)  # the warm cast kept
    np.testing.assert_allclose(short, long, rtol=1e-2)  # the same colour at both exposures


@pytest.mark.parametrize(
    "camera, daylight, expect",
    [
        ([2.0, 1.0, 1.5, 0.0], [9.0, 9.0, 9.0, 9.0], ([2.0, 1.0, 1.5, 1.0], "as_shot")),  # 3 colours: G2 0 = as G
        ([1024.0, 512.0, 768.0, 512.0], [0.0] * 4, ([2.0, 1.0, 1.5, 1.0], "as_shot")),  # normalised to green
        ([-1.0, 0.0, 0.0, 0.0], [4.0, 2.0, 3.0, 0.0], ([2.0, 1.0, 1.5, 1.0], "daylight")),  # Canon D30
        ([0.0] * 4, [4.0, 2.0, 3.0, 2.0], ([2.0, 1.0, 1.5, 1.0], "daylight")),
        ([0.0] * 4, [0.0] * 4, ([1.0] * 4, "unit")),
        ([2.0, 1.0, float("nan"), 1.0], [-1.0, 1.0, 1.0, 1.0], ([1.0] * 4, "unit")),
    ],
)
def test_white_balance_falls_back_to_daylight_then_unit(camera, daylight, expect):
    raw = types.SimpleNamespace(camera_whitebalance=camera, daylight_whitebalance=daylight)
    assert white_balance(raw) == expect


def test_linear_dng_is_refused_as_no_mosaic_naming_the_file(tmp_path):
    rgb = np.random.default_rng(0).integers(512, 16384, (32, 32, 3)).astype(np.uint16)
    write_dng(tmp_path / "linear.dng", rgb)  # PhotometricInterpretation LinearRaw (34892), 3 samples
    with rawpy.imread(str(tmp_path / "linear.dng")) as raw:
        assert raw.raw_pattern is None  # what LibRaw reports for linear DNG, sRAW and Foveon files
    with pytest.raises(ValueError) as err:
        develop(tmp_path / "linear.dng")
    assert str(err.value) == (
        f"{tmp_path / 'linear.dng'}: not a colour-filter mosaic (LibRaw reports no CFA pattern: a linear DNG, sRAW "
        "or Foveon file); sparsefield needs the camera's mosaic raw files"
    )


def test_cut_tiles_positions_and_stride():
    image = np.arange(10 * 12 * 3, dtype=np.float32).reshape(10, 12, 3)
    tiles, corners = cut_tiles(image, 4, 4)
    assert tiles.shape == (6, 3, 4, 4) and corners.tolist() == [[0, 0], [0, 4], [0, 8], [4, 0], [4, 4], [4, 8]]
    assert np.array_equal(tiles[4], image[4:8, 4:8].transpose(2, 0, 1))
    assert cut_tiles(image, 4, 2)[0].shape[0] == 4 * 5
    with pytest.raises(ValueError, match="holds no 16x16 tile"):
        cut_tiles(image, 16, 16)


# --- tiles and metadata ---------------------------------------------------------------------------


def test_tile_files_and_metadata(tiny_tiles):
    metadata_path, _ = tiny_tiles
    meta = json.loads(metadata_path.read_text())
    tiles = meta["tiles"]
    assert meta["rawset"] == "tiny" and meta["tile_size"] == 32
    assert len(tiles) == 5 * 3 * 4  # 5 scenes x (long + 2 shorts) x 4 tiles of 32 in 64 x 64
    record = next(t for t in tiles if t["tile_id"] == "10001_01_0.033s_y0032_x0000")
    assert record["clean_tile_id"] == "10001_00_10s_y0032_x0000" and record["ratio"] == 300.0
    assert (record["split"], record["data_type"], record["is_clean"]) == ("test", "noisy", False)
    assert record["exposure_s"] == 0.033 and record["scene"] == "10001" and record["iso"] >= 100
    assert record["black_level"] == [512] * 4 and record["white_level"] == 16383 and record["cfa_pattern"] == "RGGB"
    wb = record["white_balance"]  # the builtin camera's as-shot gains: red 1.9-2.4, blue 1.5-1.9 (data.raw.synth)
    assert record["white_balance_source"] == "as_shot" and wb[1] == wb[3] == 1.0
    assert 1.9 <= wb[0] <= 2.4 and 1.5 <= wb[2] <= 1.9
    assert {tuple(t["white_balance"]) for t in tiles if t["capture"] == record["capture"]} == {tuple(wb)}
    assert (record["y"], record["x"], record["file"]) == (32, 0, "10001_01_0.033s.pt")
    saved = torch.load(metadata_path.parent / record["file"], weights_only=True)
    assert saved["tiles"].dtype == torch.float32 and saved["tiles"].shape == (4, 3, 32, 32)
    assert saved["positions"][record["index"]].tolist() == [32, 0]
    assert -1.0 <= saved["tiles"].min() and saved["tiles"].max() <= 1.0
    assert saved["tiles"].mean() < -0.95  # an unamplified x300 exposure sits just above -1


def test_filters_clean_only_and_pairs(tiny_tiles):
    metadata_path, _ = tiny_tiles
    clean = TileDataset(metadata_path, split="train", data_type="clean")
    assert len(clean) == 2 * 4 and all(r["is_clean"] and r["split"] == "train" for r in clean.records)
    pairs = TileDataset(metadata_path, split="test", pairs=True)
    assert len(pairs) == 2 * 2 * 4
    noisy, reference, ratio = pairs[0]
    record = pairs.records[0]
    partner = pairs.by_id[record["clean_tile_id"]]
    assert (partner["scene"], partner["y"], partner["x"]) == (record["scene"], record["y"], record["x"])
    assert float(ratio) == record["ratio"] and torch.equal(reference, pairs.load(partner))
    assert abs(float(((noisy + 1) / 2 * ratio).mean()) - float(((reference + 1) / 2).mean())) < 0.05  # same scene
    assert len(TileDataset(metadata_path, split="test", pairs=True, ratio=300)) == 2 * 4
    assert {r["data_type"] for r in select(clean.records + pairs.records, data_type="noisy")} == {"noisy"}
    TileDataset(metadata_path, split="val", data_type="clean").validate()


def test_rebuilt_tiles_are_byte_identical(tiny_tiles, tmp_path):
    metadata_path, root = tiny_tiles
    name = "10002_01_0.033s"
    demosaic_capture(root / f"Sony/short/{name}.dng", tmp_path / f"{name}.pt", tmp_path / f"{name}.json",
                     root=root, camera="Sony", tile_size=32, stride=32)
    for ext in ("pt", "json"):
        assert (tmp_path / f"{name}.{ext}").read_bytes() == (metadata_path.parent / f"{name}.{ext}").read_bytes()


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_raw_file_fails_naming_it_and_leaves_no_tiles(tiny_tiles, tmp_path, damage):
    _, root = tiny_tiles
    copy_root = tmp_path / "set"
    for path in root.rglob("*"):
        if path.is_file():
            (copy_root / path.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
            (copy_root / path.relative_to(root)).write_bytes(path.read_bytes())
    bad = copy_root / "Sony/long/10001_00_10s.dng"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not a raw file" * 100)
    out = tmp_path / "tiles"
    with pytest.raises(ValueError, match=r"10001_00_10s\.dng: not a readable raw file") as err:
        demosaic_capture(bad, out / "a.pt", out / "a.json", root=copy_root, camera="Sony", tile_size=32, stride=32)
    assert "\n" not in str(err.value)
    assert not out.exists() or not list(out.iterdir())  # nothing, not even a temporary file


def test_capture_not_in_the_lists(tiny_tiles, tmp_path):
    _, root = tiny_tiles
    with pytest.raises(ValueError, match="not named in the Sony lists"):
        demosaic_capture(tmp_path / "99999_00_10s.dng", tmp_path / "a.pt", tmp_path / "a.json", root=root,
                         camera="Sony", tile_size=32, stride=32)


# --- validation: every failure names the tile -----------------------------------------------------


def with_tiles(tiny_tiles, tmp_path, edit) -> TileDataset:
    """A copy of the tiny tile set whose capture 10001_00_10s.pt (a test long exposure) is edited."""
    metadata_path, _ = tiny_tiles
    for path in metadata_path.parent.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    saved = torch.load(tmp_path / "10001_00_10s.pt", weights_only=True)
    saved["tiles"] = edit(saved["tiles"])
    torch.save(saved, tmp_path / "10001_00_10s.pt")
    return TileDataset(tmp_path / "metadata.json", split="test", pairs=True)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.half(), "dtype torch.float16, expected torch.float32"),
        (lambda t: t.double(), "dtype torch.float64"),
        (lambda t: t[:, :, :16], r"shape \(3, 16, 32\), expected \(3, 32, 32\)"),
        (lambda t: t.index_fill(2, torch.tensor([5]), float("nan")), "96 non-finite values"),  # a row of 3 x 32
        (lambda t: t.index_fill(3, torch.tensor([0]), float("inf")), r"\d+ non-finite values"),
        (lambda t: t * 1.5, r"values in \[-1\.5, .*\], outside \[-1, 1\]"),
    ],
)
def test_validate_names_the_bad_tile(tiny_tiles, tmp_path, edit, message):
    dataset = with_tiles(tiny_tiles, tmp_path, edit)
    with pytest.raises(ValueError, match=rf"10001_00_10s\.pt: tile 10001_00_10s_y0000_x0000: {message}") as err:
        dataset.validate()
    assert "\n" not in str(err.value)


def test_unreadable_tile_file(tiny_tiles, tmp_path):
    dataset = with_tiles(tiny_tiles, tmp_path, lambda t: t)
    (tmp_path / "10001_00_10s.pt").write_bytes(b"truncated")
    with pytest.raises(ValueError, match=r"10001_00_10s\.pt: not a readable tile file"):
        dataset.validate()


def test_empty_split_and_missing_partner(tiny_tiles, tmp_path):
    metadata_path, _ = tiny_tiles
    meta = json.loads(metadata_path.read_text())
    with pytest.raises(ValueError, match=r"no tiles with split='val', data_type='noisy', ratio=250 \(splits pres"):
        TileDataset(metadata_path, split="val", pairs=True, ratio=250)
    no_test = copy.deepcopy(meta)
    no_test["tiles"] = [t for t in no_test["tiles"] if t["split"] != "test"]
    with pytest.raises(ValueError, match="split 'test' has no tiles"):
        check_metadata(no_test, "metadata.json")
    orphan = copy.deepcopy(meta)
    orphan["tiles"] = [t for t in orphan["tiles"] if t["tile_id"] != "10002_00_10s_y0000_x0032"]
    with pytest.raises(ValueError, match=r"noisy tile 10002_00_0\.1s_y0000_x0032 has no clean partner"):
        check_metadata(orphan, "metadata.json")
    (tmp_path / "metadata.json").write_text(json.dumps(orphan))
    with pytest.raises(ValueError, match=r"noisy tile 10002_0\d_0\.\d+s_y0000_x0032 has no clean partner"):
        TileDataset(tmp_path / "metadata.json", split="test", pairs=True)
    TileDataset(tmp_path / "metadata.json", split="test", data_type="clean")  # clean tiles need no partner


def test_write_metadata_refuses_a_set_without_test_captures(tiny_tiles, tmp_path):
    metadata_path, _ = tiny_tiles
    train_only = [p for p in sorted(metadata_path.parent.glob("*.json")) if p.name.startswith("0")]
    with pytest.raises(ValueError, match="split 'test' has no tiles"):
        write_metadata(train_only, tmp_path / "metadata.json", rawset="x")
    assert not (tmp_path / "metadata.json").exists()


def test_write_metadata_refuses_capture_metadata_of_an_older_version(tiny_tiles, tmp_path):
    metadata_path, _ = tiny_tiles
    old = json.loads((metadata_path.parent / "10001_00_10s.json").read_text())
    del old["white_balance"], old["white_balance_source"]
    (tmp_path / "10001_00_10s.json").write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"10001_00_10s\.json: capture metadata lacks \['white_balance', 'white_bal"):
        write_metadata([tmp_path / "10001_00_10s.json"], tmp_path / "metadata.json", rawset="x")


# --- config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["rawsets"]["builtin"].update(tile_size=256), r"rawsets\.builtin\.tile_size: 256 > the scene size"),
        (lambda c: c["rawsets"]["builtin"].update(size=191), r"rawsets\.builtin\.size: 191 is odd"),
        (lambda c: c["rawsets"]["builtin"].update(ratios=[100, 150]), r"rawsets\.builtin\.ratios: ratio 150 reads"),
        (lambda c: c["rawsets"]["builtin"].update(root="data"), r"rawsets\.builtin\.root: a builtin raw set does not"),
        (lambda c: c["rawsets"]["builtin"].update(algorithm="AMAZE"), r"rawsets\.builtin\.algorithm: 'AMAZE' is not"),
        (lambda c: c["rawsets"].update(sid={"kind": "sid", "camera": "Sony"}), r"rawsets\.sid: 'root' is a required"),
        (lambda c: c["rawsets"].update(sid={"kind": "sid", "root": "d", "camera": "Canon"}), r"rawsets\.sid\.camera"),
        (lambda c: c["rawsets"].update(sid={"kind": "sid", "root": "d", "camera": "Sony", "n_test": 3}),
         r"rawsets\.sid\.n_test: a sid raw set does not take it"),
        (lambda c: c["approaches"]["amplify"].update(rawset="SID"), r"amplify\.rawset: unknown rawset 'SID'"),
        (lambda c: c["approaches"]["amplify"].update(dataset="builtin"), r"approaches\.amplify\.dataset: a low-light"),
        (lambda c: c["approaches"]["amplify"].update(params={"h": 1}), r"approaches\.amplify\.params"),
        (lambda c: c["approaches"]["amplify_denoise"]["params"].update(denoiser="bm3d"), r"params\.denoiser: 'bm3d'"),
        (lambda c: c["approaches"]["amplify_denoise"].pop("rawset"), r"approaches\.amplify_denoise: 'rawset' is a"),
        (lambda c: c["approaches"]["linear"].pop("scheme"), r"approaches\.linear: 'scheme' is a required property"),
    ],
)
def test_raw_config_errors_are_one_line(repo_root, config, edit, message):
    edit(config)
    with pytest.raises(ConfigError, match=message) as err:
        validate_config(config, repo_root / "workflow/schemas/config.schema.yaml")
    assert "\n" not in str(err.value)


def test_stride_defaults_to_the_tile_size(repo_root, config):
    del config["rawsets"]["builtin"]["stride"]
    validate_config(config, repo_root / "workflow/schemas/config.schema.yaml")
    assert config["rawsets"]["builtin"]["stride"] == config["rawsets"]["builtin"]["tile_size"] == 64
