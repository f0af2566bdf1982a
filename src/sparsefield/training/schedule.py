"""The schedule of a training run: learning rate, EMA decay, batch order, micro-batches and its length.

Everything here is a pure function of (seed, step, example): a resumed run draws what an uninterrupted
one would have drawn.
"""

from __future__ import annotations

import functools
import math

import torch
from torch.utils.data import DataLoader, Sampler

from sparsefield.rng import seed_of


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


class StepBatches(Sampler):
    """Batch sampler over the micro-batches of updates first..last (inclusive), in order."""

    def __init__(self, n_items: int, batch_size: int, seed: int, first: int, last: int, batch_gpu: int | None):
        self.args, self.first, self.last, self.batch_gpu = (n_items, batch_size, seed), first, last, batch_gpu

    def __iter__(self):
        for n in range(self.first, self.last + 1):
            yield from micro_batches(batch_indices(*self.args, step=n), self.batch_gpu)

    def __len__(self) -> int:
        return (self.last - self.first + 1) * len(micro_batches(list(range(self.args[1])), self.batch_gpu))


def to_device(batch, device: torch.device):
    """Move a batch (tensor, object with `.to`, or list/tuple/dict of those) to `device`."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch.to(device) if hasattr(batch, "to") else batch


def loader(dataset, batch_size: int, seed: int, done: int, stop: int, num_workers: int, device,
            batch_gpu: int | None = None) -> DataLoader:
    """Micro-batches of updates done + 1 .. stop (pinned memory on CUDA; the global RNG is never touched)."""
    sampler = StepBatches(len(dataset), batch_size, seed, done + 1, stop, batch_gpu)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=getattr(dataset, "collate", None),
                      num_workers=num_workers, pin_memory=device.type == "cuda",
                      generator=torch.Generator().manual_seed(seed_of(seed, done)))
