"""The state of one training run: model, EMA, optimizer and progress, saved to and resumed from its checkpoint."""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import torch
from torch import nn

from sparsefield.io import atomic_path
from sparsefield.objectives.masked import MaskedLoss, masked_loss
from sparsefield.training.log import LOG_COLUMNS
from sparsefield.training.schedule import to_device


class Run:
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
                terms = loss_fn(self.model, to_device(batch, self.device), noise)
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
