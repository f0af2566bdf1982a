"""The sweep stage: a sampled approach's PSNR against NFE for every sampler of its kind -> nfe_sweep.csv."""

from __future__ import annotations

import pandas as pd
import torch

from sparsefield.device import resolve_device
from sparsefield.io import atomic_path, load_model
from sparsefield.params import bind
from sparsefield.registry import KINDS, load, read_split


def sweep(inputs, out_path, *, approach: str, kind: str, settings: dict, device: str = "auto") -> None:
    """Rows sampler, steps, nfe, seconds_per_image, psnr_missing, approach, kind (the method's `sweep`)."""
    row = KINDS[kind]
    method = load(row.method)
    params = bind(method.Params, settings, f"approaches.{approach}.params")
    device = resolve_device(device, job=f"sweep {approach}")
    model = load_model(inputs["model"], device, method.rebuild)
    with torch.no_grad():
        rows = method.sweep(kind, params, read_split(row.reads, inputs, "test"), model=model, device=device)
    with atomic_path(out_path) as tmp:
        pd.DataFrame(rows).assign(approach=approach, kind=kind).to_csv(tmp, index=False, float_format="%.6g")
