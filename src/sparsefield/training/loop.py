"""The training loop every learned approach runs (the package docstring states its contract).

`training_loop(model=, config=, loss_fn=, dataset=, out_dir=, batch_size=, lr=, ...)` trains `model` for
its updates (`schedule.training_steps`), resuming from `out_dir/checkpoint.pt` if it exists:

    model, config     the network (seeded and built by the caller) and the JSON-able description saved
                      beside its EMA weights in `out_dir/model.pt` once all steps are done
    loss_fn           `loss_fn(model, batch, noise) -> MaskedLoss` (or a per-element tensor: all
                      supervised); `noise` a `SampleNoise` with one stream per example, seeded by
                      (seed, step, index)
    dataset           a map-style Dataset; its attribute `collate` (if any) is the collate function
    batch_size, lr, weight_decay, warmup    AdamW (decay on every parameter) and its schedule (`lr_at`)
    steps | epochs | kimg                   the training length, exactly one (`training_steps`)
    batch_gpu         examples per forward/backward pass (micro-batches); None: the whole batch in one
    ema_decay         EMA decay, with the warm-up of `ema_decay_at`
    grad_clip         max global gradient norm (<= 0: no clipping, the norm is still logged)
    checkpoint_every  a checkpoint every this many updates (0: none), and on exit
    eval_fn, eval_every   `eval_fn(ema_model, step) -> dict of floats`, run without gradients every
                      `eval_every` updates and after the last one; its keys become train_log.csv columns
    seed              seeds the batch order and the per-example noise
    device            "auto" (CUDA when present), "cpu", ...; num_workers: DataLoader worker processes
    progress          a tqdm bar (only when stderr is a terminal)
    max_steps_this_run    stop (with a checkpoint) after this many updates in this call; the next resumes

It returns a dict: steps (done so far), finished, resumed_from, seconds (training wall time, evaluation
excluded), eval_seconds, samples_per_s (this call), loss (last update), params; and raises
FloatingPointError on a non-finite loss or gradient norm, the last checkpoint kept.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

from torch import nn
from tqdm import tqdm

from sparsefield.device import resolve_device
from sparsefield.rng import SampleNoise, seed_of
from sparsefield.training.log import CsvLog
from sparsefield.training.schedule import batch_indices, ema_decay_at, loader, lr_at, micro_batches, training_steps
from sparsefield.training.state import Run


def _update(run: Run, n: int, passes, loss_fn, *, dataset, batch_size: int, batch_gpu, seed: int, lr: float,
            warmup: int, steps: int, ema_decay: float, max_norm: float) -> tuple[dict, int]:
    """Update n on the loader's next micro-batches (their noise and shares recomputed); (its log row, examples)."""
    indices = batch_indices(len(dataset), batch_size, seed, step=n)  # the loader's batch, recomputed
    micro = [(next(passes), SampleNoise([seed_of(seed, n, i) for i in part], run.device), len(part) / len(indices))
             for part in micro_batches(indices, batch_gpu)]
    rate = lr_at(n, lr=lr, warmup=warmup, steps=steps)
    row = run.update(loss_fn, micro, rate=rate, max_norm=max_norm, ema_decay=ema_decay_at(n, ema_decay))
    return dict(step=n, **row, lr=rate), len(indices)


def training_loop(*, model: nn.Module, config: dict, loss_fn, dataset, out_dir: str | os.PathLike, batch_size: int,
                  lr: float, steps: int | None = None, epochs: float | None = None, kimg: float | None = None,
                  batch_gpu: int | None = None, weight_decay: float = 0.0, warmup: int = 100,
                  ema_decay: float = 0.999, grad_clip: float = 1.0, checkpoint_every: int = 500, eval_fn=None,
                  eval_every: int = 0, seed: int = 0, device: str = "auto", num_workers: int = 0,
                  progress: bool = True, max_steps_this_run: int | None = None) -> dict:
    """Train `model` into `out_dir` (model.pt, train_log.csv, checkpoint.pt); the module docstring lists the rest."""
    json.dumps(config)  # fail before training if the model cannot be described
    steps = training_steps(len(dataset), batch_size, steps=steps, epochs=epochs, kimg=kimg)
    device, out_dir = resolve_device(device), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = dict(seed=seed, batch_size=batch_size, n_items=len(dataset))
    run = Run(model, lr=lr, weight_decay=weight_decay, device=device, path=out_dir / "checkpoint.pt",
              settings=settings, steps=steps)
    start, seconds_before = run.step, run.seconds
    stop = steps if max_steps_this_run is None else min(steps, start + max_steps_this_run)
    passes = iter(loader(dataset, batch_size, seed, start, stop, num_workers, device, batch_gpu))
    log = CsvLog(out_dir / "train_log.csv", keep_through=start)
    bar = tqdm(total=steps, initial=start, disable=not (progress and sys.stderr.isatty()), desc="train")
    schedule = dict(dataset=dataset, batch_size=batch_size, batch_gpu=batch_gpu, seed=seed, lr=lr, warmup=warmup,
                    steps=steps, ema_decay=ema_decay, max_norm=grad_clip if grad_clip > 0 else math.inf)
    eval_seconds, examples, t_prev, logged = 0.0, 0, time.perf_counter(), start
    try:
        for n in range(start + 1, stop + 1):
            row, size = _update(run, n, passes, loss_fn, **schedule)
            now = time.perf_counter()  # the whole step: data, compute, the previous row's log and checkpoint
            run.seconds += now - t_prev
            examples += size
            row.update(samples_per_s=size / (now - t_prev), seconds=run.seconds)
            t_prev = now
            if eval_fn is not None and ((eval_every > 0 and n % eval_every == 0) or n == steps):
                spent = run.evaluate(eval_fn, n, row)
                eval_seconds, t_prev = eval_seconds + spent, t_prev + spent
            log.write(row)
            logged = n
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss']:.4g}", lr=f"{row['lr']:.2g}", refresh=False)
            if checkpoint_every > 0 and n % checkpoint_every == 0:
                run.save()
    except BaseException:
        if run.consistent and not run.failed and logged == run.step > run.saved:  # Ctrl-C, an error in a loss, ...
            run.save()
        raise
    finally:
        bar.close()
        log.close()
    return _finish(run, out_dir, config, steps, start=start, eval_seconds=eval_seconds, examples=examples,
                   seconds_before=seconds_before, params=sum(p.numel() for p in model.parameters()))


def _finish(run: Run, out_dir: Path, config: dict, steps: int, *, start: int, eval_seconds: float, examples: int,
            seconds_before: float, params: int) -> dict:
    """The last checkpoint, model.pt once every update is done, and the run's summary."""
    if run.step > run.saved:
        run.save()
    if run.step == steps:
        run.write_model(out_dir / "model.pt", config)
    return dict(steps=run.step, finished=run.step == steps, resumed_from=start, seconds=run.seconds,
                eval_seconds=eval_seconds, loss=run.loss, params=params,
                samples_per_s=examples / (run.seconds - seconds_before) if examples else float("nan"))
