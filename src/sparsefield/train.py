"""One training loop for every learned approach (the train stage: docs/architecture.md).

AdamW (Loshchilov & Hutter 2019) with linear warm-up then cosine decay
(Loshchilov & Hutter 2017, SGDR eq. 5 without restarts), gradient-norm clipping,
an exponential moving average of the weights, bf16 autocast on CUDA only.

Steps are counted from 1: update n uses batch `batch_indices(..., step=n)`, the
noise `SampleNoise([seed_of(seed, n, i) for i in batch])` and the rate
`lr_at(n, ...)`; a row `step = n` of train_log.csv and a checkpoint at step n
describe the model after n updates. Everything drawn is a pure function of
(seed, step, example), so a run killed after a checkpoint and resumed ends with
exactly the weights of an uninterrupted one (on the same device).

The loss a family returns is per element, with its supervision masks (`objectives.masked`):
the loop minimises the one masked reduction and logs it per mask (loss_query, loss_full).

Micro-batches (`batch_gpu`, NVlabs/edm's name): update n's batch is cut into passes of at most
`batch_gpu` examples, each pass's loss weighted by its share of the batch, b_i / B, and their
gradients summed before the one optimizer step. The per-example noise streams do not depend on the
cut, so the update is the full batch's (to float rounding) whenever every example is supervised
somewhere; a family whose masks may be empty (an image without a leaf pixel) averages the passes'
means by their shares instead of leaving the empty examples out of one mean. The batch order, the
noise and the checkpoint never depend on `batch_gpu`: it can change between a run and its resume.
"""

from __future__ import annotations

import copy
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

from sparsefield.device import resolve_device
from sparsefield.io import atomic_path
from sparsefield.objectives.masked import MaskedLoss, masked_loss
from sparsefield.rng import SampleNoise, seed_of
from sparsefield.trainlog import LOG_COLUMNS, CsvLog


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


def training_steps(n_items: int, batch_size: int, *, steps: int | None = None, epochs: float | None = None,
                   kimg: float | None = None) -> int:
    """Updates of a training given as `steps`, `epochs` (of n_items // batch_size updates) or `kimg` (thousands of
    examples, rounded to whole updates): exactly one of the three."""
    given = {key: value for key, value in (("steps", steps), ("epochs", epochs), ("kimg", kimg)) if value is not None}
    if len(given) != 1:
        raise ValueError(f"train: give exactly one of steps, epochs, kimg, got {sorted(given) or 'none'}")
    if steps is not None:
        return int(steps)
    if epochs is not None:
        return max(1, math.ceil(epochs * max(1, n_items // batch_size)))
    return max(1, round(kimg * 1000 / batch_size))


def micro_batches(indices: list[int], batch_gpu: int | None) -> list[list[int]]:
    """An update's batch cut into passes of at most `batch_gpu` examples (None: one pass)."""
    size = len(indices) if batch_gpu is None else max(1, batch_gpu)
    return [indices[i : i + size] for i in range(0, len(indices), size)]


class _StepBatches(Sampler):
    """Batch sampler over the micro-batches of updates first..last (inclusive), in order."""

    def __init__(self, n_items: int, batch_size: int, seed: int, first: int, last: int, batch_gpu: int | None):
        self.args, self.first, self.last, self.batch_gpu = (n_items, batch_size, seed), first, last, batch_gpu

    def __iter__(self):
        for n in range(self.first, self.last + 1):
            yield from micro_batches(batch_indices(*self.args, step=n), self.batch_gpu)

    def __len__(self) -> int:
        return (self.last - self.first + 1) * len(micro_batches(list(range(self.args[1])), self.batch_gpu))


def _to_device(batch, device: torch.device):
    """Move a batch (tensor, object with `.to`, or list/tuple/dict of those) to `device`."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch.to(device) if hasattr(batch, "to") else batch


def _loader(dataset, batch_size: int, seed: int, done: int, stop: int, num_workers: int, device,
            batch_gpu: int | None = None) -> DataLoader:
    """Micro-batches of updates done + 1 .. stop (pinned memory on CUDA; the global RNG is never touched)."""
    sampler = _StepBatches(len(dataset), batch_size, seed, done + 1, stop, batch_gpu)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=getattr(dataset, "collate", None),
                      num_workers=num_workers, pin_memory=device.type == "cuda",
                      generator=torch.Generator().manual_seed(seed_of(seed, done)))


class _Run:
    """Model, EMA, optimizer and progress of one training run, with its checkpoint (save / resume)."""

    def __init__(self, model: nn.Module, *, lr: float, weight_decay: float, device: torch.device, path: Path,
                 settings: dict, steps: int):
        self.model, self.device, self.path, self.settings = model.to(device).train(), device, path, settings
        self.ema = copy.deepcopy(model).eval().requires_grad_(False)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        self.step, self.seconds, self.loss, self.consistent, self.failed = 0, 0.0, float("nan"), True, False
        if path.exists():
            self._resume(steps)
        self.saved = self.step

    def _resume(self, steps: int) -> None:
        ckpt = torch.load(self.path, map_location=self.device, weights_only=True)
        if ckpt["settings"] != self.settings:
            raise ValueError(f"{self.path} was written with {ckpt['settings']}, this run has {self.settings}; "
                             "delete it")
        if ckpt["step"] > steps:
            raise ValueError(f"{self.path} is at step {ckpt['step']}, beyond steps={steps}; delete it")
        self.model.load_state_dict(ckpt["model"])
        self.ema.load_state_dict(ckpt["ema"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        torch.set_rng_state(ckpt["rng_cpu"].cpu())
        if self.device.type == "cuda" and ckpt["rng_cuda"]:
            torch.cuda.set_rng_state_all([s.cpu() for s in ckpt["rng_cuda"]])
        self.step, self.seconds, self.loss = ckpt["step"], ckpt["seconds"], ckpt["loss"]

    def save(self) -> None:
        state = dict(step=self.step, seconds=self.seconds, loss=self.loss, settings=self.settings)
        state.update(model=self.model.state_dict(), ema=self.ema.state_dict(), optimizer=self.optimizer.state_dict())
        state.update(rng_cpu=torch.get_rng_state())
        state.update(rng_cuda=torch.cuda.get_rng_state_all() if self.device.type == "cuda" else [])
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)
        self.saved = self.step

    def update(self, loss_fn, passes, *, rate: float, max_norm: float, ema_decay: float) -> dict:
        """One AdamW step on the batch given as `passes` [(micro-batch, its SampleNoise, its share b_i / B)] (each
        moved to the device when its pass runs), and
        the EMA update; returns the logged losses and gradient norm (each the passes' share-weighted sum).

        Raises FloatingPointError (before the weights change) on a non-finite loss or gradient norm.
        """
        for group in self.optimizer.param_groups:
            group["lr"] = rate
        self.optimizer.zero_grad(set_to_none=True)
        numbers = None
        for batch, noise, share in passes:
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16,
                                enabled=self.device.type == "cuda"):
                terms = loss_fn(self.model, _to_device(batch, self.device), noise)
            terms = terms if isinstance(terms, MaskedLoss) else MaskedLoss(terms)
            parts = terms.parts()  # the one reduction (per sample over m, then the batch) of each term
            loss = terms.total(parts)
            (loss if len(passes) == 1 else loss * share).backward()
            value = terms.value.detach().float()
            logged = {name: masked_loss(value, weight) for name, weight in terms.logged.items()}
            logged |= {name: parts[name].detach() for name in terms.terms}
            these = torch.stack([loss.detach(), *logged.values()]) * (1.0 if len(passes) == 1 else share)
            numbers = these if numbers is None else numbers + these
        params = list(self.model.parameters())
        grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        numbers = [numbers[0].item(), float(grad_norm), *numbers[1:].tolist()]
        for name, number in (("loss", numbers[0]), ("gradient norm", numbers[1])):
            if not math.isfinite(number):
                kept = f"the last good checkpoint (step {self.saved}) is kept at {self.path}"
                kept = kept if self.path.exists() else "no checkpoint was written yet"
                self.failed = True  # never write a checkpoint after this
                raise FloatingPointError(f"train: {name} is {number} at step {self.step + 1}; {kept}; "
                                         "lower lr or check the data")
        self.consistent = False  # weights, EMA and step disagree until the end of this block
        self.optimizer.step()
        with torch.no_grad():  # e ← d·e + (1 − d)·θ; buffers are copied
            torch._foreach_lerp_(list(self.ema.parameters()), params, 1.0 - ema_decay)
            for e, b in zip(self.ema.buffers(), self.model.buffers(), strict=True):
                e.copy_(b)
        self.step, self.loss, self.consistent = self.step + 1, numbers[0], True
        return dict(loss=numbers[0], **dict(zip(logged, numbers[2:], strict=True)), grad_norm=numbers[1])

    def evaluate(self, eval_fn, step: int, row: dict) -> float:
        """Add eval_fn(ema, step) to `row`, without gradients and without moving the training RNG; its seconds."""
        begin = time.perf_counter()
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []), torch.no_grad():
            metrics = {key: float(value) for key, value in eval_fn(self.ema, step).items()}
        if clash := set(metrics) & set(LOG_COLUMNS):
            raise ValueError(f"train: eval_fn returned reserved column names {sorted(clash)}")
        row.update(metrics)
        return time.perf_counter() - begin

    def write_model(self, path: Path, config: dict) -> None:
        state_dict = {key: value.detach().cpu() for key, value in self.ema.state_dict().items()}
        with atomic_path(path) as tmp:
            torch.save({"state_dict": state_dict, "config": config}, tmp)


def train(*, model: nn.Module, config: dict, loss_fn, dataset, out_dir: str | os.PathLike, batch_size: int,
          lr: float, steps: int | None = None, epochs: float | None = None, kimg: float | None = None,
          batch_gpu: int | None = None, weight_decay: float = 0.0, warmup: int = 100, ema_decay: float = 0.999,
          grad_clip: float = 1.0, checkpoint_every: int = 500, eval_fn=None, eval_every: int = 0, seed: int = 0,
          device: str = "auto", num_workers: int = 0, progress: bool = True,
          max_steps_this_run: int | None = None) -> dict:
    """Train `model` for its updates (`training_steps`), resuming from `out_dir/checkpoint.pt` if it exists.

    Args:
        model: the network (seeded and built by the caller). config: the JSON-able description
            saved beside its EMA weights in `out_dir/model.pt` once all steps are done.
        loss_fn: `loss_fn(model, batch, noise) -> MaskedLoss` (or a per-element tensor: all supervised);
            `noise` is a `SampleNoise` with one stream per example, seeded by (seed, step, index).
        dataset: a map-style Dataset; its attribute `collate` (if any) is the collate function.
        batch_size, lr, weight_decay, warmup: AdamW (decay on every parameter) and its schedule (`lr_at`).
        steps, epochs, kimg: the training length, exactly one of them (`training_steps`).
        batch_gpu: examples per forward/backward pass (module docstring); None: the whole batch in one.
        ema_decay: EMA decay, with the warm-up of `ema_decay_at`.
        grad_clip: max global gradient norm (<= 0: no clipping, the norm is still logged).
        checkpoint_every: a checkpoint every this many updates (0: none), and on exit.
        eval_fn: `eval_fn(ema_model, step) -> dict of floats`, run without gradients every `eval_every`
            updates and after the last one; its keys become extra columns of train_log.csv.
        seed: seeds the batch order and the per-example noise. device: "auto" (CUDA when present), "cpu", ...
        num_workers: DataLoader worker processes (pinned memory on CUDA).
        progress: show a tqdm bar (only when stderr is a terminal).
        max_steps_this_run: stop (with a checkpoint) after this many updates in this call; the next resumes.

    Returns:
        dict: steps (done so far), finished, resumed_from, seconds (training wall time, eval
        excluded), eval_seconds, samples_per_s (this call), loss (last update), params.

    Raises:
        FloatingPointError: a non-finite loss or gradient norm; the last checkpoint is kept.
    """
    json.dumps(config)  # fail before training if the model cannot be described
    steps = training_steps(len(dataset), batch_size, steps=steps, epochs=epochs, kimg=kimg)
    device, out_dir = resolve_device(device), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = dict(seed=seed, batch_size=batch_size, n_items=len(dataset))
    run = _Run(model, lr=lr, weight_decay=weight_decay, device=device, path=out_dir / "checkpoint.pt",
               settings=settings, steps=steps)
    start, seconds_before = run.step, run.seconds
    stop = steps if max_steps_this_run is None else min(steps, start + max_steps_this_run)
    passes = iter(_loader(dataset, batch_size, seed, start, stop, num_workers, device, batch_gpu))
    log = CsvLog(out_dir / "train_log.csv", keep_through=start)
    bar = tqdm(total=steps, initial=start, disable=not (progress and sys.stderr.isatty()), desc="train")
    max_norm = grad_clip if grad_clip > 0 else math.inf
    eval_seconds, examples, t_prev, logged = 0.0, 0, time.perf_counter(), start
    try:
        for n in range(start + 1, stop + 1):
            indices = batch_indices(len(dataset), batch_size, seed, step=n)  # the loader's batch, recomputed
            micro = [(next(passes), SampleNoise([seed_of(seed, n, i) for i in part], device),
                      len(part) / len(indices)) for part in micro_batches(indices, batch_gpu)]
            rate = lr_at(n, lr=lr, warmup=warmup, steps=steps)
            row = run.update(loss_fn, micro, rate=rate, max_norm=max_norm, ema_decay=ema_decay_at(n, ema_decay))
            now = time.perf_counter()  # the whole step: data, compute, the previous row's log and checkpoint
            run.seconds += now - t_prev
            examples += len(indices)
            row = dict(step=n, **row, lr=rate, samples_per_s=len(indices) / (now - t_prev), seconds=run.seconds)
            t_prev = now
            if eval_fn is not None and ((eval_every > 0 and n % eval_every == 0) or n == steps):
                spent = run.evaluate(eval_fn, n, row)
                eval_seconds, t_prev = eval_seconds + spent, t_prev + spent
            log.write(row)
            logged = n
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss']:.4g}", lr=f"{rate:.2g}", refresh=False)
            if checkpoint_every > 0 and n % checkpoint_every == 0:
                run.save()
    except BaseException:
        if run.consistent and not run.failed and logged == run.step > run.saved:  # Ctrl-C, an error in a loss, ...
            run.save()
        raise
    finally:
        bar.close()
        log.close()
    if run.step > run.saved:
        run.save()
    if run.step == steps:
        run.write_model(out_dir / "model.pt", config)
    return dict(steps=run.step, finished=run.step == steps, resumed_from=start, seconds=run.seconds,
                eval_seconds=eval_seconds, loss=run.loss, params=sum(p.numel() for p in model.parameters()),
                samples_per_s=examples / (run.seconds - seconds_before) if examples else float("nan"))
