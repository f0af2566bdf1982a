"""One training loop for every learned approach (stage 4 of DESIGN.md).

AdamW (Loshchilov & Hutter 2019) with linear warm-up then cosine decay
(Loshchilov & Hutter 2017, SGDR eq. 5 without restarts), gradient-norm clipping,
an exponential moving average of the weights, bf16 autocast on CUDA only.

Steps are counted from 1: update n uses batch `batch_indices(..., step=n)`, the
noise `SampleNoise([seed_of(seed, n, i) for i in batch])` and the rate
`lr_at(n, ...)`; a row `step = n` of train_log.csv and a checkpoint at step n
describe the model after n updates. Everything drawn is a pure function of
(seed, step, example), so a run killed after a checkpoint and resumed ends with
exactly the weights of an uninterrupted one (on the same device).
"""

from __future__ import annotations

import copy
import csv
import functools
import json
import math
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler
from tqdm import tqdm

from sparsefield.io import atomic_path
from sparsefield.rng import SampleNoise, seed_of

LOG_COLUMNS = ["step", "loss", "lr", "grad_norm", "samples_per_s", "seconds"]


def resolve_device(device: str | torch.device) -> torch.device:
    """`auto` → CUDA when present, else CPU; anything else as torch reads it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def lr_at(step: int, *, lr: float, warmup: int, steps: int) -> float:
    """Learning rate of update `step` (1-based): lr·n/warmup up to `warmup`, then cosine to 0 at `steps`."""
    if step <= warmup:
        return lr * step / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def ema_decay_at(step: int, ema_decay: float) -> float:
    """EMA decay at update `step` (1-based): min(ema_decay, (1 + n) / (10 + n)), the usual warm-up."""
    return min(ema_decay, (1 + step) / (10 + step))


@functools.lru_cache(maxsize=4)
def _epoch_order(n_items: int, seed: int, epoch: int) -> tuple[int, ...]:
    generator = torch.Generator().manual_seed(seed_of(seed, epoch))
    return tuple(torch.randperm(n_items, generator=generator).tolist())


def batch_indices(n_items: int, batch_size: int, seed: int, step: int) -> list[int]:
    """Dataset indices of update `step` (1-based): a slice of epoch e's seeded permutation.

    An epoch is max(1, n_items // batch_size) batches (the remainder is dropped);
    the order depends on (seed, step) only, never on where a run was resumed.
    """
    per_epoch = max(1, n_items // batch_size)
    epoch, k = divmod(step - 1, per_epoch)
    return list(_epoch_order(n_items, seed, epoch)[k * batch_size : (k + 1) * batch_size])


class _StepBatches(Sampler):
    """Batch sampler over updates first..last (inclusive)."""

    def __init__(self, n_items: int, batch_size: int, seed: int, first: int, last: int):
        self.args, self.first, self.last = (n_items, batch_size, seed), first, last

    def __iter__(self):
        return (batch_indices(*self.args, step=n) for n in range(self.first, self.last + 1))

    def __len__(self) -> int:
        return self.last - self.first + 1


def _to_device(batch, device: torch.device):
    """Move a batch (tensor, object with `.to`, or list/tuple/dict of those) to `device`."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch.to(device) if hasattr(batch, "to") else batch


class _CsvLog:
    """train_log.csv written row by row; keeps rows up to `keep_through`, grows columns when new keys appear."""

    def __init__(self, path: Path, keep_through: int):
        self.path, self.file = path, None
        header, rows = list(LOG_COLUMNS), []
        if keep_through > 0 and path.exists():
            header, rows = self._read()
            rows = [r for r in rows if int(r["step"]) <= keep_through]
        self._rewrite(header, rows)

    def _read(self) -> tuple[list[str], list[dict]]:
        with open(self.path, newline="") as f:
            reader = csv.DictReader(f)
            rows, last = [], 0
            for row in reader:  # skip a line cut short by a kill, and any repeated step
                if None not in row.values() and row["step"].isdigit() and int(row["step"]) > last:
                    rows.append(row)
                    last = int(row["step"])
            return list(reader.fieldnames or LOG_COLUMNS), rows

    def _rewrite(self, header: list[str], rows: list[dict]) -> None:
        if self.file is not None:
            self.file.close()
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, header, restval="")
            writer.writeheader()
            writer.writerows(rows)
        self.header = header
        self.file = open(self.path, "a", newline="")
        self.writer = csv.DictWriter(self.file, header, restval="")

    def write(self, row: dict) -> None:
        new = [key for key in row if key not in self.header]
        if new:  # e.g. the first eval: rewrite once with the extra columns, earlier rows left empty there
            self.file.flush()
            self._rewrite(self.header + new, self._read()[1])
        self.writer.writerow(row)
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def train(
    *,
    model: nn.Module,
    loss_fn,
    dataset,
    out_dir: str | os.PathLike,
    steps: int,
    batch_size: int,
    lr: float,
    weight_decay: float = 0.0,
    warmup: int = 100,
    ema_decay: float = 0.999,
    grad_clip: float = 1.0,
    checkpoint_every: int = 500,
    eval_fn=None,
    eval_every: int = 0,
    seed: int = 0,
    device: str = "auto",
    num_workers: int = 0,
    progress: bool = True,
    max_steps_this_run: int | None = None,
) -> dict:
    """Train `model` for `steps` updates, resuming from `out_dir/checkpoint.pt` if it exists.

    Args:
        model: the network (seeded and built by the caller); must have `config()` returning
            its JSON-able constructor kwargs.
        loss_fn: `loss_fn(model, batch, noise) -> (B, ...)` per-element loss; `noise` is a
            `SampleNoise` with one stream per example, seeded by (seed, step, index).
        dataset: a map-style Dataset; its attribute `collate` (if any) is the collate function.
        out_dir: receives train_log.csv, checkpoint.pt and, once all steps are done, model.pt
            (`{"state_dict": EMA weights, "config": model.config()}`).
        steps, batch_size, lr, weight_decay, warmup: AdamW (decay on every parameter) and its schedule (`lr_at`).
        ema_decay: EMA decay, with the warm-up of `ema_decay_at`.
        grad_clip: max global gradient norm (<= 0: no clipping, the norm is still logged).
        checkpoint_every: a checkpoint every this many updates (0: none), and on exit.
        eval_fn: `eval_fn(ema_model, step) -> dict of floats`, run every `eval_every` updates
            and after the last one; its keys become extra columns of train_log.csv.
        seed: seeds the batch order and the per-example noise.
        device: "auto" (CUDA when present), "cpu", "cuda", ...
        num_workers: DataLoader worker processes (pinned memory on CUDA).
        progress: show a tqdm bar (only when stderr is a terminal).
        max_steps_this_run: stop (with a checkpoint) after this many updates in this call —
            for tests and time-boxed jobs; the next call resumes.

    Returns:
        dict: steps (done so far), finished, resumed_from, seconds (training wall time, eval
        excluded), eval_seconds, samples_per_s (this call), loss (last update), params.

    Raises:
        FloatingPointError: a non-finite loss or gradient norm; the last checkpoint is kept.
    """
    config = model.config()  # fail before training if the model cannot be saved
    json.dumps(config)
    device = resolve_device(device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "checkpoint.pt"
    settings = dict(seed=seed, batch_size=batch_size, n_items=len(dataset))

    model.to(device).train()
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    done, seconds, last_loss = 0, 0.0, float("nan")
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
        if ckpt["settings"] != settings:
            raise ValueError(f"{ckpt_path} was written with {ckpt['settings']}, this run has {settings}; delete it")
        if ckpt["step"] > steps:
            raise ValueError(f"{ckpt_path} is at step {ckpt['step']}, beyond steps={steps}; delete it")
        model.load_state_dict(ckpt["model"])
        ema.load_state_dict(ckpt["ema"])
        optimizer.load_state_dict(ckpt["optimizer"])
        torch.set_rng_state(ckpt["rng_cpu"].cpu())
        if device.type == "cuda" and ckpt["rng_cuda"]:
            torch.cuda.set_rng_state_all([s.cpu() for s in ckpt["rng_cuda"]])
        done, seconds, last_loss = ckpt["step"], ckpt["seconds"], ckpt["loss"]
    start, saved, seconds_before, examples = done, done, seconds, 0
    stop = steps if max_steps_this_run is None else min(steps, start + max_steps_this_run)

    def save_checkpoint() -> None:
        state = dict(step=done, seconds=seconds, loss=last_loss, settings=settings)
        state.update(model=model.state_dict(), ema=ema.state_dict(), optimizer=optimizer.state_dict())
        state.update(rng_cpu=torch.get_rng_state())
        state.update(rng_cuda=torch.cuda.get_rng_state_all() if device.type == "cuda" else [])
        with atomic_path(ckpt_path) as tmp:
            torch.save(state, tmp)

    def evaluate(step: int) -> tuple[dict, float]:
        begin = time.perf_counter()
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):  # eval never moves training RNG
            metrics = {key: float(value) for key, value in eval_fn(ema, step).items()}
        if clash := set(metrics) & set(LOG_COLUMNS):
            raise ValueError(f"train: eval_fn returned reserved column names {sorted(clash)}")
        return metrics, time.perf_counter() - begin

    loader = DataLoader(
        dataset,
        batch_sampler=_StepBatches(len(dataset), batch_size, seed, done + 1, stop),
        collate_fn=getattr(dataset, "collate", None),
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(seed_of(seed, done)),  # keeps the global RNG untouched
    )
    log = _CsvLog(out_dir / "train_log.csv", keep_through=done)
    bar = tqdm(total=steps, initial=done, disable=not (progress and sys.stderr.isatty()), desc="train")
    params = list(model.parameters())
    ema_params = list(ema.parameters())
    max_norm = grad_clip if grad_clip > 0 else math.inf
    eval_seconds, consistent, failed, logged = 0.0, True, False, done
    t_prev = time.perf_counter()
    try:
        for n, batch in zip(range(done + 1, stop + 1), loader, strict=True):
            batch = _to_device(batch, device)
            indices = batch_indices(len(dataset), batch_size, seed, step=n)  # the loader's batch, recomputed
            noise = SampleNoise([seed_of(seed, n, i) for i in indices], device)
            rate = lr_at(n, lr=lr, warmup=warmup, steps=steps)
            for group in optimizer.param_groups:
                group["lr"] = rate
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                loss = loss_fn(model, batch, noise).float().mean()  # the one reduction: mean over every element
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
            loss_value, norm_value = torch.stack([loss.detach(), grad_norm.float()]).tolist()
            if not (math.isfinite(loss_value) and math.isfinite(norm_value)):
                failed = True  # never write a checkpoint after this
                what, value = ("loss", loss_value) if not math.isfinite(loss_value) else ("gradient norm", norm_value)
                kept = f"the last good checkpoint (step {saved}) is kept at {ckpt_path}"
                if not ckpt_path.exists():
                    kept = "no checkpoint was written yet"
                raise FloatingPointError(f"train: {what} is {value} at step {n}; {kept}; lower lr or check the data")
            consistent = False
            optimizer.step()
            with torch.no_grad():  # e ← d·e + (1 − d)·θ; buffers are copied
                torch._foreach_lerp_(ema_params, params, 1.0 - ema_decay_at(n, ema_decay))
                for e, b in zip(ema.buffers(), model.buffers(), strict=True):
                    e.copy_(b)
            done, last_loss, consistent = n, loss_value, True

            now = time.perf_counter()  # the whole step: data, compute, the previous row's log and checkpoint
            seconds += now - t_prev
            examples += len(indices)
            row = dict(step=n, loss=loss_value, lr=rate, grad_norm=norm_value)
            row.update(samples_per_s=len(indices) / (now - t_prev), seconds=seconds)
            t_prev = now
            if eval_fn is not None and ((eval_every > 0 and n % eval_every == 0) or n == steps):
                metrics, spent = evaluate(n)
                row.update(metrics)
                eval_seconds += spent
                t_prev += spent
            log.write(row)
            logged = n
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.4g}", lr=f"{rate:.2g}", refresh=False)
            if checkpoint_every > 0 and n % checkpoint_every == 0:
                save_checkpoint()
                saved = n
    except BaseException:
        if consistent and not failed and logged == done > saved:  # Ctrl-C, an error in a loss, ...: keep progress
            save_checkpoint()
        raise
    finally:
        bar.close()
        log.close()
    if done > saved:
        save_checkpoint()
    if done == steps:
        state_dict = {key: value.detach().cpu() for key, value in ema.state_dict().items()}
        with atomic_path(out_dir / "model.pt") as tmp:
            torch.save({"state_dict": state_dict, "config": config}, tmp)
    return dict(
        steps=done,
        finished=done == steps,
        resumed_from=start,
        seconds=seconds,
        eval_seconds=eval_seconds,
        samples_per_s=examples / (seconds - seconds_before) if examples else float("nan"),
        loss=last_loss,
        params=sum(p.numel() for p in params),
    )
