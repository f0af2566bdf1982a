"""The training loop: overfitting, schedule, EMA formula, bit-exact resume after a kill, NaN guard, model.pt."""

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from sparsefield.data.images.fields import FieldBatch
from sparsefield.objectives.masked import MaskedLoss, masked_mean
from sparsefield.rng import SampleNoise, seed_of
from sparsefield.training.loop import training_loop
from sparsefield.training.schedule import batch_indices, ema_decay_at, lr_at, training_steps

N_ITEMS, BATCH, SIGMA = 32, 8, 0.1
EXACT_COLUMNS = ["step", "loss", "lr", "grad_norm", "ema_norm"]  # the time columns differ between runs


class Toy(nn.Module):
    """A per-pixel MLP denoiser (dropout exercises the global RNG that a checkpoint must restore)."""

    def __init__(self, channels: int = 3, hidden: int = 16, dropout: float = 0.2):
        super().__init__()
        self.kwargs = dict(channels=channels, hidden=hidden, dropout=dropout)
        self.net = nn.Sequential(
            nn.Linear(channels, hidden), nn.Tanh(), nn.Dropout(dropout), nn.Linear(hidden, channels)
        )

    def config(self) -> dict:
        return dict(self.kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Fields(Dataset):
    """N_ITEMS fields of 8 output pixels; `collate` builds a FieldBatch and records the indices it was given."""

    def __init__(self):
        g = torch.Generator().manual_seed(123)
        self.values = torch.rand(N_ITEMS, 8, 3, generator=g) * 2 - 1  # (N, No, C)
        self.seen: list[list[int]] = []

    def __len__(self) -> int:
        return N_ITEMS

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor]:
        return i, self.values[i]

    def collate(self, items: list) -> FieldBatch:
        self.seen.append([i for i, _ in items])
        values = torch.stack([v for _, v in items])  # (B, No, C)
        coords = torch.zeros(len(items), 8, 2)
        return FieldBatch(input_coords=coords, input_values=values, output_coords=coords, output_values=values)


def run(out_dir: Path, *, steps: int = 30, seed: int = 0, dropout: float = 0.2, nan_at=None, kill_at=None, **kwargs):
    """Train Toy on Fields; the loss checks the batch order and the per-example noise at every step."""
    ckpt = Path(out_dir) / "checkpoint.pt"
    start = torch.load(ckpt, weights_only=True)["step"] if ckpt.exists() else 0
    torch.manual_seed(seed)  # the adapter's job: seed before building the model
    model, data, snapshots = Toy(dropout=dropout), Fields(), []

    def loss_fn(model, batch, noise):
        x = batch.output_values  # (B, No, C)
        eps = noise.randn(*x.shape[1:])  # (B, No, C)
        if kwargs.get("num_workers", 0) == 0:  # collate ran here, so `seen` is this step's batch
            n = start + len(data.seen)
            assert data.seen[-1] == batch_indices(N_ITEMS, BATCH, seed, n)
            ref = SampleNoise([seed_of(seed, n, i) for i in data.seen[-1]]).randn(*x.shape[1:])
            assert torch.equal(eps, ref)  # example i at step n always gets the same noise
            if n == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        loss = (model(x + SIGMA * eps) - x) ** 2  # (B, No, C)
        return loss * math.nan if len(snapshots) == nan_at else loss

    def eval_fn(ema, step):
        torch.randn(5)  # eval may draw from the global RNG: training must not notice
        return {"ema_norm": sum(p.norm() ** 2 for p in ema.parameters()).sqrt().item()}

    settings = dict(steps=steps, batch_size=BATCH, lr=1e-2, warmup=5, ema_decay=0.9, checkpoint_every=10, seed=seed)
    settings.update(eval_fn=eval_fn, eval_every=5, progress=False)
    settings.update(kwargs)
    summary = training_loop(model=model, config=model.config(), loss_fn=loss_fn, dataset=data, out_dir=out_dir,
                            **settings)
    return summary, model, data, snapshots


def state(out_dir: Path) -> dict:
    return torch.load(Path(out_dir) / "checkpoint.pt", weights_only=True)


def assert_same_state(a: dict, b: dict) -> None:
    for key in ("model", "ema"):
        assert a[key].keys() == b[key].keys()
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), (key, name)
    opt_a, opt_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert opt_a.keys() == opt_b.keys()
    for p in opt_a:
        for name in opt_a[p]:
            assert torch.equal(opt_a[p][name], opt_b[p][name]), (p, name)
    assert torch.equal(a["rng_cpu"], b["rng_cpu"]) and a["step"] == b["step"]


def log(out_dir: Path) -> pd.DataFrame:
    return pd.read_csv(Path(out_dir) / "train_log.csv")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted 30-step run."""
    out = tmp_path_factory.mktemp("reference")
    summary, *_ = run(out)
    assert summary["finished"] and summary["steps"] == 30 and summary["resumed_from"] == 0
    return out


def test_loss_falls_when_overfitting(tmp_path):
    summary, *_ = run(tmp_path, steps=150, dropout=0.0, ema_decay=0.99, eval_fn=None)
    loss = log(tmp_path)["loss"].to_numpy()
    assert loss[-10:].mean() < 0.2 * loss[:10].mean()
    assert summary["loss"] == loss[-1] and summary["params"] == 3 * 16 + 16 + 16 * 3 + 3
    assert summary["samples_per_s"] > 0 and summary["seconds"] > 0


def test_lr_schedule():
    assert lr_at(1, lr=1.0, warmup=10, steps=100) == pytest.approx(0.1)
    assert lr_at(10, lr=1.0, warmup=10, steps=100) == pytest.approx(1.0)
    assert lr_at(55, lr=1.0, warmup=10, steps=100) == pytest.approx(0.5)  # half-way through the cosine
    assert lr_at(100, lr=1.0, warmup=10, steps=100) == pytest.approx(0.0, abs=1e-12)
    assert lr_at(3, lr=2.0, warmup=0, steps=6) == pytest.approx(1.0)


def test_logged_lr_and_columns(reference):
    rows = log(reference)
    columns = ["step", "loss", "loss_query", "loss_full", "lr", "grad_norm", "samples_per_s", "seconds", "ema_norm"]
    assert list(rows.columns) == columns
    assert rows[["loss_query", "loss_full"]].isna().all().all()  # a plain per-element loss logs neither
    assert rows["step"].tolist() == list(range(1, 31))
    assert rows["lr"].tolist() == [lr_at(n, lr=1e-2, warmup=5, steps=30) for n in range(1, 31)]
    assert rows["ema_norm"].notna().tolist() == [n % 5 == 0 for n in range(1, 31)]  # eval columns empty elsewhere
    assert (rows["samples_per_s"] > 0).all() and rows["seconds"].is_monotonic_increasing


def test_ema_matches_formula(tmp_path):
    _, model, _, snapshots = run(tmp_path, steps=5, eval_fn=None)
    params = snapshots[1:] + [state(tmp_path)["model"]]  # θ_n after update n
    ema = {k: v.clone() for k, v in snapshots[0].items()}  # starts at the initial weights
    for n, theta in enumerate(params, start=1):
        d = min(0.9, (1 + n) / (10 + n))
        assert d == ema_decay_at(n, 0.9)
        ema = {k: d * ema[k] + (1 - d) * theta[k] for k in ema}
    for k, v in state(tmp_path)["ema"].items():
        torch.testing.assert_close(v, ema[k], rtol=0, atol=1e-6)
        assert not torch.equal(v, params[-1][k])  # the EMA really lags the weights


def test_model_pt_rebuilds_from_config(reference):
    saved = torch.load(reference / "model.pt", weights_only=True)
    assert saved["config"] == {"channels": 3, "hidden": 16, "dropout": 0.2}
    model = Toy(**saved["config"])
    model.load_state_dict(saved["state_dict"])
    for k, v in state(reference)["ema"].items():
        assert torch.equal(model.state_dict()[k], v)


def test_resume_after_kill_is_bit_exact(tmp_path, reference):
    script = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_train as t; "
    script += f"t.run(t.Path({str(tmp_path)!r}), kill_at=25)"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert state(tmp_path)["step"] == 20 and log(tmp_path)["step"].max() == 24  # rows past the checkpoint
    assert not (tmp_path / "model.pt").exists()

    summary, _, data, _ = run(tmp_path)
    assert summary["resumed_from"] == 20 and summary["finished"]
    assert data.seen == [batch_indices(N_ITEMS, BATCH, 0, n) for n in range(21, 31)]
    assert_same_state(state(tmp_path), state(reference))
    pd.testing.assert_frame_equal(log(tmp_path)[EXACT_COLUMNS], log(reference)[EXACT_COLUMNS])
    a, b = (torch.load(d / "model.pt", weights_only=True)["state_dict"] for d in (tmp_path, reference))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_time_boxed_runs_resume_bit_exact(tmp_path, reference):
    first, *_ = run(tmp_path, max_steps_this_run=13)  # not a multiple of checkpoint_every: saved on exit
    assert first["steps"] == 13 and not first["finished"] and not (tmp_path / "model.pt").exists()
    run(tmp_path, max_steps_this_run=9, num_workers=1)  # a worker process gives the same batches
    last, *_ = run(tmp_path)
    assert last["resumed_from"] == 22 and last["finished"]
    assert_same_state(state(tmp_path), state(reference))
    pd.testing.assert_frame_equal(log(tmp_path)[EXACT_COLUMNS], log(reference)[EXACT_COLUMNS])
    again, *_ = run(tmp_path)  # a finished run returns at once
    assert again["steps"] == 30 and again["resumed_from"] == 30


def test_eval_does_not_change_training(tmp_path, reference):
    run(tmp_path, eval_fn=None)  # the reference's eval_fn draws from the global RNG, which dropout also uses
    assert_same_state(state(tmp_path), state(reference))


def test_nan_guard_keeps_last_good_checkpoint(tmp_path):
    with pytest.raises(FloatingPointError) as err:
        run(tmp_path, nan_at=17)
    ckpt = tmp_path / "checkpoint.pt"
    kept = f"the last good checkpoint (step 10) is kept at {ckpt}"
    assert str(err.value) == f"train: loss is nan at step 17; {kept}; lower lr or check the data"
    assert state(tmp_path)["step"] == 10 and not (tmp_path / "model.pt").exists()
    assert log(tmp_path)["step"].max() == 16


def test_batch_order_depends_on_seed_and_step_only():
    n_items, batch = 10, 4  # two batches per epoch, the remaining 2 items dropped
    order = [batch_indices(n_items, batch, 7, n) for n in range(1, 13)]
    assert [batch_indices(n_items, batch, 7, n) for n in range(12, 0, -1)] == order[::-1]
    for epoch in range(6):
        both = order[2 * epoch] + order[2 * epoch + 1]
        assert len(set(both)) == 8 and set(both) <= set(range(n_items))
    assert order[0:2] != order[2:4]  # a fresh permutation every epoch
    assert [batch_indices(n_items, batch, 8, n) for n in range(1, 13)] != order


def test_plain_tensor_dataset(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(16, 3)

    def loss_fn(model, batch, noise):
        (xb,) = batch  # default collate: a list of tensors
        return (model(xb + SIGMA * noise.randn(3)) - xb) ** 2

    summary = training_loop(model=Toy(), config={}, loss_fn=loss_fn, dataset=TensorDataset(x), out_dir=tmp_path,
                            steps=4, batch_size=4, lr=1e-3)
    assert summary["finished"] and (tmp_path / "model.pt").exists()


def test_masked_loss_is_the_one_reduction_and_logs_query_and_full(tmp_path):
    """The loop minimises Σ m ℓ / max(Σ m, 1) per sample, then the mean over the samples with a supervised
    element, and logs it per mask."""
    torch.manual_seed(0)
    x = torch.randn(16, 6, 3)  # (N, pixels, C)
    query = torch.zeros(16, 6, 1)
    query[:, :2] = 1.0  # 2 of 6 pixels supervised
    query[0] = 0.0  # one sample with nothing supervised: left out of the mean, not NaN and not a 0 that counts
    seen = {}

    def loss_fn(model, batch, noise):
        xb, m = batch
        value = (model(xb + SIGMA * noise.randn(6, 3)) - xb) ** 2  # (B, 6, 3)
        seen["value"], seen["m"] = value.detach(), m
        return MaskedLoss(value, weight=m, logged={"loss_query": m, "loss_full": None})

    training_loop(model=Toy(dropout=0.0), config={}, loss_fn=loss_fn, dataset=TensorDataset(x, query), out_dir=tmp_path,
          steps=1, batch_size=16, lr=1e-3, warmup=1)
    row = log(tmp_path).iloc[0]
    value, m = seen["value"], seen["m"].expand(-1, -1, 3)
    per_sample = (m * value).sum((1, 2)) / m.sum((1, 2)).clamp(min=1)
    assert (per_sample == 0).sum() == 1 and row["loss"] == pytest.approx(
        per_sample[m.sum((1, 2)) > 0].mean().item(), rel=1e-6)
    assert row["loss_query"] == pytest.approx(row["loss"], rel=1e-6)
    assert row["loss_full"] == pytest.approx(value.mean().item(), rel=1e-6)


def test_masked_mean_ignores_unsupervised_elements_exactly():
    """Gradient 0 at elements outside the mask; an empty mask gives 0; weights broadcast over channels."""
    pred = torch.randn(3, 4, 4, 2, requires_grad=True)
    weight = torch.zeros(3, 4, 4, 1)
    weight[0, :2] = 1.0
    weight[1, 0, 0] = 1.0
    loss = masked_mean((pred - 1.0) ** 2, weight)
    assert loss[2] == 0 and torch.isfinite(loss).all()
    assert loss[1].item() == pytest.approx(((pred[1, 0, 0] - 1) ** 2).mean().item(), rel=1e-6)  # 2 channels, 1 pixel
    loss.sum().backward()
    assert (pred.grad[weight.expand_as(pred) == 0] == 0).all() and (pred.grad[weight.expand_as(pred) == 1] != 0).any()


def _weights_after(out_dir: Path, *, batch_gpu=None, masks=None, **length) -> dict:
    """Toy (no dropout) trained on Fields with `batch_gpu` passes per update; its final checkpoint's weights."""
    torch.manual_seed(0)
    model, data = Toy(dropout=0.0), Fields()

    def loss_fn(model, batch, noise):
        x = batch.output_values  # (B, No, C)
        loss = (model(x + SIGMA * noise.randn(*x.shape[1:])) - x) ** 2
        return MaskedLoss(loss, None if masks is None else masks(x))

    length = length or dict(steps=6)
    training_loop(model=model, config=model.config(), loss_fn=loss_fn, dataset=data, out_dir=out_dir, batch_size=BATCH,
          lr=1e-2, warmup=2, ema_decay=0.9, checkpoint_every=0, progress=False, batch_gpu=batch_gpu, **length)
    return state(out_dir)


def test_micro_batches_give_the_full_batch_update(tmp_path):
    """Passes of 3 + 3 + 2 examples sum to the gradient of the batch of 8: the same weights, to rounding."""
    whole = _weights_after(tmp_path / "whole")
    for batch_gpu in (3, 4, 1):
        cut = _weights_after(tmp_path / f"cut{batch_gpu}", batch_gpu=batch_gpu)
        for name, value in whole["model"].items():
            torch.testing.assert_close(cut["model"][name], value, rtol=1e-5, atol=1e-6)
    logged = [pd.read_csv(tmp_path / name / "train_log.csv") for name in ("whole", "cut3")]
    np.testing.assert_allclose(logged[0]["loss"], logged[1]["loss"], rtol=1e-5)


def test_micro_batches_of_a_masked_loss(tmp_path):
    """Masks that supervise a different number of pixels per example: the passes' shares still give the batch's
    mean (every example supervised somewhere)."""

    def masks(x):  # the output pixels whose red value is above -0.5: 2 to 8 of an example's 8
        m = (x[..., :1] > -0.5).float()  # (B, No, 1)
        assert (m.sum((1, 2)) > 0).all()
        return m

    whole = _weights_after(tmp_path / "whole", masks=masks)
    cut = _weights_after(tmp_path / "cut", batch_gpu=3, masks=masks)
    for name, value in whole["model"].items():
        torch.testing.assert_close(cut["model"][name], value, rtol=1e-5, atol=1e-6)


def test_training_length_in_steps_epochs_or_kimg(tmp_path):
    assert training_steps(50000, 64, epochs=100) == 100 * 781  # an epoch is 50000 // 64 updates
    assert training_steps(1000, 256, kimg=200) == 781  # NVlabs/edm's 200 kimg at batch 256
    assert training_steps(10, 4, steps=7) == 7
    with pytest.raises(ValueError, match="exactly one of steps, epochs, kimg"):
        training_steps(10, 4, steps=7, kimg=1)
    summary, *_ = run(tmp_path, steps=None, epochs=2.5, eval_fn=None)  # 4 updates an epoch
    assert summary["steps"] == 10 and len(log(tmp_path)) == 10


def test_train_params_take_one_training_length():
    from sparsefield.methods.learned import Train
    from sparsefield.params import ParamsError, bind

    assert bind(Train, {"kimg": 200, "batch_size": 256, "lr": 1e-3}, "t").kimg == 200
    for given in ({}, {"steps": 10, "epochs": 2}):
        with pytest.raises(ParamsError, match=r"config key priors.p.params.train: give the training length as "):
            bind(Train, {"batch_size": 8, "lr": 1e-3, **given}, "priors.p.params.train")
