"""The field family's wiring: an untrained residual model's posterior mean is normconv's estimate; the
learning curve scores its own first images; reconstruct and sweep give what samples.h5 and the sweep need."""

import numpy as np
import pytest
import torch

from sparsefield.baselines.normconv import reconstruct as normconv
from sparsefield.data.images.masks import generate_masks
from sparsefield.data.images.sets import MaskedImages
from sparsefield.io import load_model
from sparsefield.methods import field
from sparsefield.metrics import mean_missing_psnr
from sparsefield.params import bind

SETTINGS = {
    "seed": 0,
    "model": {"backbone": {"n_latents": 4, "latent_dim": 16, "n_blocks": 1, "n_heads": 2, "n_fourier": 8},
              "sigma_data": 0.15},
    "train": {"steps": 2, "batch_size": 4, "lr": 1e-3, "warmup": 1},
    "evaluation": {"every": 1, "images": 3, "k": 1, "steps": 2, "sampler": "heun"},
    "sample": {"sampler": "heun", "steps": 3, "n_samples": 2, "sweep_nfe": [2, 5], "sweep_images": 2,
               "batch_size": 4},
}


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    context, query = generate_masks(seed=1, split="test", index=np.arange(6), height=8, width=8, n_context=13,
                                    n_query=6)
    twice = rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    return MaskedImages(images, context, query, twice)


@pytest.fixture
def params():
    return bind(field.Params, SETTINGS, "test")


@pytest.mark.parametrize("kind, sampler", [("flow", "heun"), ("denoiser", "ddim"), ("score", "euler_maruyama")])
def test_untrained_residual_model_has_normconvs_posterior_mean(kind, sampler, data, params):
    """F ≡ 0 (zero-initialised head): D at the first, noisiest step is the normconv prior (c_skip ≈ 0 there)."""
    torch.manual_seed(0)
    model = field.build(params.model).eval()
    with torch.no_grad():
        samples, posterior_mean, nfe, _ = field.joint_grid(kind, model, field.objective(kind, params), data,
                                                           sampler=sampler, steps=3, k=2, seed=0, batch_size=4,
                                                           device="cpu")
    expected = normconv(data.images / 255.0, data.context)
    np.testing.assert_allclose(posterior_mean, expected, atol=2e-4)
    assert samples.shape == (6, 2, 8, 8, 3) and nfe >= 3
    assert not np.allclose(samples[:, 0], expected, atol=1e-3)  # the samples themselves spread around it


def test_learning_curve_scores_its_own_first_images(data, params):
    eval_fn = field.learning_curve("flow", params, data, "cpu")
    torch.manual_seed(0)
    with torch.no_grad():
        scores = eval_fn(field.build(params.model).eval(), 1)
    first = data.first(3)
    assert scores["classical_psnr"] == pytest.approx(
        mean_missing_psnr(normconv(first.images / 255.0, first.context), first.images, first.context)
    )
    assert np.isfinite(scores["test_psnr_missing"])


def test_reconstruct_and_sweep(data, params):
    torch.manual_seed(0)
    model = field.build(params.model).eval()
    with torch.no_grad():
        result = field.reconstruct("flow", params, data, model=model, device="cpu")
        rows = field.sweep("flow", params, data, model=model, device="cpu")
    assert result.samples.shape == (6, 2, 8, 8, 3) and result.attrs["nfe"] == 5  # Heun, 3 steps
    assert set(result.extras) == {"posterior_mean", "query_samples", "mean_2x"}
    assert result.extras["query_samples"].shape == (6, 2, 6, 3) and result.extras["mean_2x"].shape == (6, 16, 16, 3)
    observed = data.images.reshape(6, 64, 3)[np.arange(6)[:, None], data.context] / 255.0
    kept = result.samples.reshape(6, 2, 64, 3)[np.arange(6)[:, None], :, data.context].transpose(0, 2, 1, 3)
    np.testing.assert_allclose(kept, np.broadcast_to(observed[:, None], kept.shape), atol=1e-6)  # context as observed
    assert [(r["sampler"], r["nfe"]) for r in rows] == [("euler", 2), ("euler", 5), ("heun", 1), ("heun", 5)]


def test_training_never_sees_the_sampling_section(data, params):
    """The train rule passes the params without `sample`: they bind, and training does not need them."""
    settings = {key: value for key, value in SETTINGS.items() if key != "sample"}
    bound = bind(field.Params, settings, "test")
    assert bound.sample is None
    torch.manual_seed(0)
    loop = field.training("flow", bound, data, data, "cpu")
    assert loop["steps"] == 2 and loop["config"]["sigma_data"] == 0.15 and loop["eval_every"] == 1
    batch = loop["dataset"].__getitems__([0, 1])
    from sparsefield.rng import SampleNoise

    terms = loop["loss_fn"](loop["model"], batch, SampleNoise([1, 2]))
    assert terms.value.shape == (2, 6, 3) and terms.weight is None and list(terms.logged) == ["loss_query"]


def test_a_broken_model_file_is_one_line_naming_it(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(
        ValueError, match=r"model\.pt: not a model\.pt of this family \(.*\); delete it and retrain"
    ) as err:
        load_model(path, "cpu", field.rebuild)
    assert "\n" not in str(err.value)
