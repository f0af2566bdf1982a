"""The EDM family (methods.edm_prior, methods.edm_posterior): a prior's data, validation, posterior stages, config."""

import copy
import json

import numpy as np
import pytest
import torch
from conftest import build_tiles

from sparsefield.config import ConfigError, sparsity_groups, validate_config
from sparsefield.data.images.sets import MaskedImages
from sparsefield.data.raw.tiles import TileDataset
from sparsefield.data.windows import CaptureCrops, CropDataset
from sparsefield.methods import edm_posterior as edm
from sparsefield.methods import edm_prior
from sparsefield.nn.precond import CentredDenoiser
from sparsefield.params import bind
from sparsefield.stages.prior import read_source


@pytest.fixture(scope="module")
def rawset(tmp_path_factory):
    """A builtin raw set of 64-px scenes (1 train, 1 val, 1 test; x100, x300) cut into 32-px tiles: metadata.json."""
    return build_tiles(tmp_path_factory, tile_size=32, rawset="edm", n_train=1, n_val=1, n_test=1, size=64,
                       ratios=[100, 300], seed=0)[0]


def test_capture_crops_put_every_tile_back_where_it_was_cut(rawset):
    """A window is read from the tiles it overlaps: the whole capture at once, and any window across tile edges."""
    tiles = TileDataset(rawset, split="train", data_type="clean")
    (image,) = CaptureCrops(rawset, split="train", crop=64, stride=64)  # the whole 64 x 64 capture
    assert image.shape == (3, 64, 64) and len(tiles) == 4
    for i, record in enumerate(tiles.records):
        torch.testing.assert_close(image[:, record["y"] : record["y"] + 32, record["x"] : record["x"] + 32], tiles[i])
    crops = CaptureCrops(rawset, split="train", crop=32, stride=8)
    assert len(crops) == 5 * 5  # the crop at every 8 px, not only at the tile corners
    assert crops.position(7) == (0, 8, 16)
    torch.testing.assert_close(crops[7], image[:, 8:40, 16:48])  # across all four tiles


def test_capture_crops_read_what_they_draw(rawset, monkeypatch):
    """A crop reads the tiles it overlaps, not the capture: the cache holds a bounded number of tiles."""
    crops = CaptureCrops(rawset, split="train", crop=16, stride=16, cache_bytes=2 * 3 * 32 * 32 * 4)
    loaded = []
    monkeypatch.setattr(crops.tiles, "load", lambda record, load=crops.tiles.load: loaded.append(record) or load(
        record))
    crops[0]  # inside the first tile
    assert len(loaded) == 1 and len(crops._cache) == 1
    crops[len(crops) - 1]  # inside the last
    crops[1]
    assert len(loaded) == 2 and len(crops._cache) == 2  # the first tile again: from the cache


def test_crop_windows_are_fixed_and_cover_the_image():
    image = torch.arange(2 * 6 * 8, dtype=torch.float32).reshape(2, 6, 8)
    crops = CropDataset([image], crop=4, stride=2)
    assert len(crops) == 2 * 3  # y in {0, 2}, x in {0, 2, 4}
    torch.testing.assert_close(crops[5], image[:, 2:6, 4:8])
    with pytest.raises(ValueError, match="crop 8 exceeds an image of size"):
        CropDataset([image], crop=8, stride=1)


def test_a_bad_tile_fails_before_training_naming_the_tile(rawset, tmp_path):
    """Every tile is validated: a NaN in one clean tile stops the prior stage's reading of its source, naming it."""
    folder = tmp_path / "tiles"
    folder.mkdir()
    for path in rawset.parent.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    record = TileDataset(folder / "metadata.json", split="train", data_type="clean").records[2]
    stored = torch.load(folder / record["file"], weights_only=True)
    stored["tiles"][record["index"], 1, 5, 7] = float("nan")
    torch.save(stored, folder / record["file"])
    params = bind(edm_prior.PriorParams, {"backbone": {}, "train": {"steps": 1, "batch_size": 1, "lr": 1e-3}}, "p")
    with pytest.raises(ValueError, match=rf"tile {record['tile_id']}: 1 non-finite values"):
        read_source({"rawset": "edm"}, {"metadata": folder / "metadata.json"}, params)


def test_measure_and_the_centred_denoiser_at_init():
    """μ and σ_d are the windows' statistics; F ≡ 0 gives the Gaussian posterior mean μ + σ_d²/(σ² + σ_d²)(x̃ − μ)."""
    torch.manual_seed(0)
    data = torch.randn(64, 3, 8, 8) * 0.1 + torch.tensor([-0.7, -0.5, -0.6]).reshape(1, 3, 1, 1)
    mean, sigma_data = edm_prior.measure(CropDataset(data, crop=8, stride=1))
    np.testing.assert_allclose(mean, [-0.7, -0.5, -0.6], atol=0.005)
    assert sigma_data == pytest.approx(0.1, rel=0.02)
    net = edm_prior.build(edm_prior.Backbone(ch=8, ch_mult=(1, 2)), sigma_data=sigma_data, mean=mean)
    x, sigma = torch.randn(2, 3, 8, 8), torch.tensor([0.05, 2.0])
    mu = torch.tensor(mean, dtype=torch.float32).reshape(1, 3, 1, 1)
    c_skip = (sigma_data**2 / (sigma**2 + sigma_data**2)).reshape(-1, 1, 1, 1)
    torch.testing.assert_close(net(x, sigma), mu + c_skip * (x - mu))
    assert isinstance(net, CentredDenoiser)


def _images(n=3, size=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    context = np.stack([rng.choice(size * size, 6, replace=False) for _ in range(n)])
    query = np.stack([np.setdiff1d(np.arange(size * size), c)[:6] for c in context])
    return MaskedImages(images, context, query)


@pytest.mark.parametrize("sampler", ["dps", "diffpir"])
def test_sparse_samples_keep_the_observed_pixels_and_never_depend_on_the_batch(sampler):
    torch.manual_seed(0)
    model = edm_prior.build(edm_prior.Backbone(ch=8, ch_mult=(1, 2)), sigma_data=0.5, mean=[0.0, 0.0, 0.0]).eval()
    data = _images()
    settings = {"sample": {"sampler": sampler, "steps": 3, "n_samples": 2, "sigma_max": 5.0, "step_size": 5.0}}
    whole, nfe, _ = edm.fill_images("edm_sparse", bind(edm.Params, settings, "p"), data, model, "cpu")
    settings["sample"]["batch_size"] = 1
    one_by_one, _, _ = edm.fill_images("edm_sparse", bind(edm.Params, settings, "p"), data, model, "cpu")
    assert whole.shape == (3, 2, 8, 8, 3) and nfe == (5 if sampler == "dps" else 3)
    np.testing.assert_allclose(whole, one_by_one, atol=1e-5)
    observed = np.zeros((3, 64), dtype=bool)
    np.put_along_axis(observed, data.context, True, axis=1)
    truth = (data.images.reshape(3, 64, 3) / 255.0)[:, None].repeat(2, 1)
    np.testing.assert_allclose(whole.reshape(3, 2, 64, 3)[observed[:, None].repeat(2, 1)],
                               truth[observed[:, None].repeat(2, 1)], atol=1e-6)
    assert not np.allclose(whole[:, 0], whole[:, 1])  # K samples differ


def test_lowlight_denoise_and_diffpir_run_on_a_raw_set(rawset, tmp_path):
    from sparsefield.data.raw.tiles import paired_test_tiles
    from sparsefield.stages.calibrate import write_calibration

    write_calibration(rawset, tmp_path / "noise.json")
    calibration = json.loads((tmp_path / "noise.json").read_text())
    pairs = paired_test_tiles(rawset)
    model = edm_prior.build(edm_prior.Backbone(ch=8, ch_mult=(1, 2)), sigma_data=0.1, mean=[-0.8, -0.8, -0.8])
    with torch.no_grad():
        denoised, nfe, _ = edm.restore_tiles("edm_denoise", bind(edm.Params, {"sample": {}}, "p"), pairs, model,
                                             calibration, "cpu")
        settings = {"sample": {"sampler": "diffpir", "steps": 2, "n_samples": 2, "sigma_max": 1.0}}
        restored, _, _ = edm.restore_tiles("edm_lowlight", bind(edm.Params, settings, "p"), pairs, model,
                                           calibration, "cpu", n=3)
    assert denoised.shape == (len(pairs), 1, 32, 32, 3) and nfe == 1
    assert restored.shape == (3, 2, 32, 32, 3) and np.all((restored >= 0) & (restored <= 1))


# --- config --------------------------------------------------------------------------------------


def test_filled_defaults_are_never_one_object_in_two_approaches(config, schema):
    """A regression: the schema's `params: {}` default was one dict shared by every approach that lacked params,
    so filling edm_lowlight_denoise's posterior defaults wrote them into amplify's params too."""
    config["approaches"]["amplify_denoise"] = {"kind": "amplify", "rawset": "builtin"}
    validate_config(config, schema)
    approaches = config["approaches"]
    assert approaches["amplify"]["params"] == {} and approaches["amplify_denoise"]["params"] == {}
    assert approaches["amplify"]["params"] is not approaches["amplify_denoise"]["params"]
    assert approaches["edm_lowlight_denoise"]["params"]["sample"] == {}


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["approaches"]["edm_sparse_dps"].update(prior="nope"), r"edm_sparse_dps\.prior: unknown prior"),
        (lambda c: c["approaches"]["edm_sparse_dps"].update(prior="raw_builtin"), r"is trained on a raw set"),
        (lambda c: c["approaches"]["biharmonic"].update(prior="raw_builtin"), r"biharmonic\.prior: kind"),
        (lambda c: c["rawsets"]["builtin"].update(n_val=0), r"rawsets\.builtin\.n_val: prior raw_builtin"),
        (lambda c: c["priors"]["raw_builtin"].update(rawset="sid"), r"priors\.raw_builtin\.rawset: unknown"),
        (lambda c: c["priors"]["raw_builtin"]["params"].update(crops=3), r"priors\.raw_builtin\.params"),
        (lambda c: c["approaches"]["edm_lowlight_dps"].pop("prior"), r"'prior' is a required property"),
    ],
)
def test_prior_config_errors_name_the_key(config, schema, edit, message):
    edit(config)
    with pytest.raises(ConfigError, match=message):
        validate_config(config, schema)


def test_sparsity_groups_follow_the_schemes_context_ratio(config, schema):
    validate_config(config, schema)
    groups = sparsity_groups(config)
    assert groups["biharmonic"] == {0.05: "biharmonic_c05", 0.1: "biharmonic", 0.2: "biharmonic_c20",
                                    0.4: "biharmonic_c40"}
    assert set(groups["edm_sparse_dps"]) == {0.05, 0.1, 0.2, 0.4}
    changed = copy.deepcopy(config["approaches"]["edm_sparse_dps_c20"])  # YAML aliases share dicts: copy one
    changed["params"]["sample"]["steps"] = 7  # another model: out of the group
    config["approaches"]["edm_sparse_dps_c20"] = changed
    assert set(sparsity_groups(config)["edm_sparse_dps"]) == {0.05, 0.1, 0.4}
