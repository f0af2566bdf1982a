"""Embeddings against hand computations; Perceiver IO invariants: zero at init, joint denoising,
permutation equivariance over output tokens, batch independence, checkpoint round trip."""

import json
import math

import pytest
import torch

from sparsefield.data.images.fields import FieldBatch
from sparsefield.nn import perceiver_io
from sparsefield.nn.embeddings import GaussianFourierFeatures, SinusoidalEmbedding
from sparsefield.nn.perceiver_io import PerceiverIO

TINY = dict(n_latents=8, latent_dim=32, n_blocks=1, n_heads=2, n_fourier=16)


def fourier_by_hand(p, B):
    """γ(p) for one point p (in_dim,) from the frequency matrix B (in_dim, m), in float64 loops."""
    proj = [2 * math.pi * sum(float(p[d]) * float(B[d, k]) for d in range(len(p))) for k in range(B.shape[1])]
    return [math.sin(a) for a in proj] + [math.cos(a) for a in proj]


def test_fourier_features_formula_shape_and_bounds():
    ff = GaussianFourierFeatures(in_dim=2, n_features=10, scale=3.0, seed=1)
    assert ff.B.shape == (2, 5)
    p = torch.rand(4, 7, 2)
    out = ff(p)
    assert out.shape == (4, 7, 10) and out.abs().max() <= 1
    torch.testing.assert_close(
        out[2, 3].double(), torch.tensor(fourier_by_hand(p[2, 3], ff.B)).double(), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(out[..., :5] ** 2 + out[..., 5:] ** 2, torch.ones(4, 7, 5))


def test_fourier_features_keep_float32_under_autocast():
    ff = GaussianFourierFeatures(n_features=64, scale=10.0)
    p = torch.rand(5, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = ff(p)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ff(p))


def test_fourier_features_are_a_seeded_buffer():
    ff = GaussianFourierFeatures(n_features=256, scale=10.0, seed=0)
    assert "B" in ff.state_dict() and not list(ff.parameters())
    torch.testing.assert_close(ff.B, GaussianFourierFeatures(n_features=256, scale=10.0, seed=0).B, atol=0, rtol=0)
    assert not torch.equal(ff.B, GaussianFourierFeatures(n_features=256, scale=10.0, seed=1).B)
    assert abs(ff.B.std().item() - 10.0) < 1.5  # B ~ N(0, scale²), 256 draws
    with pytest.raises(ValueError, match="even"):
        GaussianFourierFeatures(n_features=5)


@pytest.mark.parametrize("dim", [8, 9])
def test_sinusoidal_embedding_formula(dim):
    t = torch.tensor([0.0, 1.0, 37.5])
    out = SinusoidalEmbedding(dim, max_period=100.0)(t)
    assert out.shape == (3, dim) and out.abs().max() <= 1
    half = dim // 2
    for i, ti in enumerate(t.tolist()):
        omega = [100.0 ** (-k / half) for k in range(half)]
        expected = [math.cos(ti * w) for w in omega] + [math.sin(ti * w) for w in omega] + [0.0] * (dim % 2)
        torch.testing.assert_close(out[i], torch.tensor(expected), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[0, :half], torch.ones(half))  # t = 0: cos 0 = 1, sin 0 = 0


def field_batch(b=3, n_in=20, n_out=12, channels=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    batch = FieldBatch(
        input_coords=torch.rand(b, n_in, 2, generator=g),
        input_values=torch.rand(b, n_in, channels, generator=g) * 2 - 1,
        output_coords=torch.rand(b, n_out, 2, generator=g),
        output_values=torch.zeros(b, n_out, channels),
    )
    x = torch.randn(b, n_out, channels, generator=g)
    prior = torch.rand(b, n_out, channels, generator=g) * 2 - 1
    return batch, x, torch.randn(b, generator=g), prior


def trained_model(steps=1, **kwargs):
    """A tiny model after `steps` Adam steps on random targets: every weight nonzero, output nonzero."""
    torch.manual_seed(0)
    model = PerceiverIO(**TINY, **kwargs)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch, x, c, prior = field_batch(seed=1)
    for _ in range(steps):
        loss = (model(x, c, batch, prior) - 1).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


LOCAL = pytest.mark.parametrize("local_decoder", [False, True])


@LOCAL
@pytest.mark.parametrize("n_out", [1, 12, 50])
def test_shapes_for_any_number_of_outputs(n_out, local_decoder):
    model = PerceiverIO(**TINY, local_decoder=local_decoder)
    batch, x, c, prior = field_batch(n_out=n_out)
    assert model(x, c, batch, prior).shape == (3, n_out, 3)
    plain = PerceiverIO(**TINY, use_prior=False, channels=1, local_decoder=local_decoder)
    batch, x, c, _ = field_batch(n_out=n_out, channels=1)
    assert plain(x, c, batch).shape == (3, n_out, 1)


@LOCAL
def test_zero_at_init_and_nonzero_after_one_step(local_decoder):
    model = PerceiverIO(**TINY, local_decoder=local_decoder)
    batch, x, c, prior = field_batch()
    assert torch.equal(model(x, c, batch, prior), torch.zeros_like(x))
    assert trained_model(steps=1, local_decoder=local_decoder)(x, c, batch, prior).abs().min() > 0
    with pytest.raises(ValueError, match="prior"):
        model(x, c, batch)


@LOCAL
def test_output_depends_on_the_noisy_values_at_other_outputs(local_decoder):
    """Joint denoising: the noisy outputs enter the encoder, so x_k moves F at j != k."""
    model = trained_model(steps=3, local_decoder=local_decoder)
    batch, x, c, prior = field_batch()
    x2 = x.clone()
    x2[:, 5] += 1.0
    with torch.no_grad():
        delta = (model(x2, c, batch, prior) - model(x, c, batch, prior)).abs()
    others = torch.cat([delta[:, :5], delta[:, 6:]], dim=1)
    # if x entered only through the decoder queries, every other output would be bitwise unchanged
    assert others.min() > 0 and others.mean() > 1e-6  # measured min 4e-7, mean 6e-5 (self: 1e-2)


@LOCAL
def test_permutation_equivariance_over_output_tokens(local_decoder):
    model = trained_model(steps=2, local_decoder=local_decoder)
    batch, x, c, prior = field_batch()
    perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(3))
    permuted = FieldBatch(batch.input_coords, batch.input_values, batch.output_coords[:, perm], batch.output_values)
    with torch.no_grad():
        out, out_perm = model(x, c, batch, prior), model(x[:, perm], c, permuted, prior[:, perm])
    torch.testing.assert_close(out_perm, out[:, perm], atol=1e-5, rtol=1e-5)


@LOCAL
def test_batch_independence(local_decoder):
    model = trained_model(steps=2, local_decoder=local_decoder)
    batch, x, c, prior = field_batch(b=4)
    one = FieldBatch(
        *(t[2:3] for t in (batch.input_coords, batch.input_values, batch.output_coords, batch.output_values))
    )
    with torch.no_grad():
        torch.testing.assert_close(
            model(x[2:3], c[2:3], one, prior[2:3]), model(x, c, batch, prior)[2:3], atol=1e-5, rtol=1e-5
        )


@LOCAL
def test_decoder_chunks_give_the_same_output(local_decoder, monkeypatch):
    model = trained_model(steps=2, local_decoder=local_decoder)
    batch, x, c, prior = field_batch(n_out=30)
    with torch.no_grad():
        whole = model(x, c, batch, prior)
        monkeypatch.setattr(perceiver_io, "_DECODER_CHUNK", 1)  # one output per chunk
        torch.testing.assert_close(model(x, c, batch, prior), whole, atol=1e-6, rtol=1e-5)


def test_local_bias_by_hand():
    """Head k adds -|q - p|² / (2 (ℓ_k h)²) to its logits, ℓ = (0.25, 2) for 2 heads, h² = 1 / Ni."""
    model = PerceiverIO(**TINY, local_decoder=True)
    p = torch.tensor([[[0.1, 0.2], [0.5, 0.5], [0.9, 0.0], [0.3, 0.3]]])  # Ni = 4: h = 0.5
    q = torch.tensor([[[0.1, 0.2], [0.6, 0.1]]])
    bias = model.local_bias(q, p)
    assert bias.shape == (1, 2, 2, 4) and "inv_two_l2" not in model.state_dict()
    for k, length in enumerate([0.25, 2.0]):
        for j in range(2):
            for i in range(4):
                d2 = float((q[0, j] - p[0, i]).square().sum())
                assert math.isclose(
                    bias[0, k, j, i].item(), -d2 / (2 * (length * 0.5) ** 2), rel_tol=1e-4, abs_tol=1e-6
                )


@LOCAL
def test_checkpoint_round_trip(tmp_path, local_decoder):
    """state_dict + JSON of the constructor kwargs, loaded with weights_only=True."""
    model = trained_model(steps=1, fourier_scale=4.0, seed=7, local_decoder=local_decoder)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    (tmp_path / "config.json").write_text(json.dumps(model.config()))
    clone = PerceiverIO(**json.loads((tmp_path / "config.json").read_text()))
    clone.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    batch, x, c, prior = field_batch()
    with torch.no_grad():
        assert torch.equal(clone.eval()(x, c, batch, prior), model(x, c, batch, prior))
    assert clone.config() == model.config() and clone.config()["seed"] == 7
