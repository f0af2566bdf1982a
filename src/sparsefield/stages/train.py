"""The train stage: a learned approach's training data -> results/{approach}/model.pt and train_log.csv."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

from sparsefield.device import resolve_device
from sparsefield.params import bind, canonical
from sparsefield.registry import KINDS, load, read_split
from sparsefield.training.loop import training_loop


def train(inputs, out_dir, *, approach: str, kind: str, settings: dict, device: str = "auto", code: str = "") -> dict:
    """Train `approach` into `out_dir`/model.pt and `out_dir`/train_log.csv.

    `settings` are the approach's params without the sampling section (the train rule never sees
    it, so a sampling edit never retrains).
    """
    row = KINDS[kind]
    method = load(row.method)
    params = bind(method.Params, settings, f"approaches.{approach}.params")
    device = resolve_device(device, job=f"train {approach}")
    train_data, test_data = read_split(row.reads, inputs, "train"), read_split(row.reads, inputs, "test")
    torch.manual_seed(params.seed)  # the model's initial weights
    loop = method.training(kind, params, train_data, test_data, device)
    return run(loop, out_dir, key=[kind, canonical(settings), code], device=device)


def run(loop: dict, out_dir, *, key: list, device) -> dict:
    """Run the training loop `loop` into `out_dir`/model.pt and `out_dir`/train_log.csv.

    Checkpoints live in `out_dir`/run-<hash of key> (the settings and code fingerprint): a killed job
    resumes there, a changed one starts afresh (stale run folders are removed).
    """
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:12]
    out_dir = Path(out_dir)
    run_dir = out_dir / f"run-{digest}"
    for stale in out_dir.glob("run-*"):
        if stale != run_dir:
            shutil.rmtree(stale)
    summary = training_loop(**loop, out_dir=run_dir, device=str(device), progress=False)
    for name in ("train_log.csv", "model.pt"):  # model.pt last: it marks the run complete
        os.replace(run_dir / name, out_dir / name)
    shutil.rmtree(run_dir)
    return summary
