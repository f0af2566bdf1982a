"""The reconstruct stage: every approach's results/{approach}/samples.h5, classical, low-light and learned alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from sparsefield.device import resolve_device
from sparsefield.params import bind
from sparsefield.registry import KINDS, load
from sparsefield.samples import write_samples
from sparsefield.stages.data import read_split


def reconstruct(inputs, out_path, *, approach: str, kind: str, settings: dict, dataset: str, scheme: str,
                n_images: int | None = None, device: str = "auto", threads: int = 1) -> None:  # fmt: skip
    """Reconstruct the test split of what `approach` reads (its first `n_images` images) -> samples.h5.

    A learned approach's inputs add `model` (model.pt) and `train_log` (its training seconds are
    recorded), a posterior approach's its prior's; the method gets every input (`inputs`). Sampling
    runs without gradients: a method that needs them (guidance) turns them on.
    """
    row = KINDS[kind]
    method = load(row.method)
    params = bind(method.Params, settings, f"approaches.{approach}.params")
    on_device = row.learned or row.posterior  # a classical approach never touches the device
    device = resolve_device(device, job=f"reconstruct {approach}") if on_device else torch.device("cpu")
    data = read_split(row.reads, inputs, "test")
    if row.reads == "images":
        data = data.first(n_images)
    model = method.load(inputs["model"], device) if on_device else None
    with torch.no_grad():
        result = method.reconstruct(kind, params, data, model=model, device=device, threads=threads, inputs=inputs)
    attrs = dict(approach=approach, kind=kind, dataset=dataset, scheme=scheme, **result.attrs)
    if on_device:  # a posterior approach's: its prior's, shared
        attrs["train_seconds"] = float(pd.read_csv(inputs["train_log"])["seconds"].max())
    write_samples(out_path, result.samples, np.arange(len(result.samples)), extras=result.extras, **attrs)
