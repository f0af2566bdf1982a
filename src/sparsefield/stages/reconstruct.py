"""The reconstruct stage: every approach's results/{approach}/samples.h5, classical, low-light and learned alike."""

from __future__ import annotations

import pandas as pd
import torch

from sparsefield.device import resolve_device
from sparsefield.io import load_model
from sparsefield.params import bind
from sparsefield.registry import KINDS, MODALITIES, load, read_split
from sparsefield.samples import SamplesWriter


def reconstruct(inputs, out_path, *, approach: str, kind: str, settings: dict, dataset: str, scheme: str,
                n_images: int | None = None, device: str = "auto", threads: int = 1) -> None:
    """Reconstruct the evaluated test items of what `approach` reads -> samples.h5, a chunk at a time.

    The items: `n_images` of the test split (`subset`: the first n images, or n pairs spread over a raw
    set; None: all), then at most the approach's own `sample.images` of them (an expensive sampler on
    a share of the split). They go to the method in chunks of the reader's `CHUNK` items, each
    written before the next is made, so the job's memory follows a chunk, never the split (samples
    are seeded by an item's position in the split, so the chunks change no value).

    A learned approach's inputs add `model` (model.pt, rebuilt by the family's `rebuild`) and `train_log`
    (its training seconds are recorded), a posterior approach's its prior's. A classical family with a
    `fit` (the per-pixel PCA) is fitted on the train split first. The method sees data and a model,
    never a file. Sampling runs without gradients: a method that needs them (guidance) turns them on.
    """
    row = KINDS[kind]
    method = load(row.method)
    params = bind(method.Params, settings, f"approaches.{approach}.params")
    on_device = row.learned or row.posterior  # a classical approach never touches the device
    device = resolve_device(device, job=f"reconstruct {approach}") if on_device else torch.device("cpu")
    data = read_split(row.reads, inputs, "test").subset(n_images)
    data = data.subset(getattr(getattr(params, "sample", None), "images", None))
    if on_device:
        model = load_model(inputs["model"], device, method.rebuild)
    elif hasattr(method, "fit"):
        model = method.fit(kind, params, read_split(row.reads, inputs, "train"))
    else:
        model = None
    chunk, attrs, seconds = load(MODALITIES[row.reads].reader).CHUNK, {}, 0.0
    with SamplesWriter(out_path, len(data)) as out:
        for start in range(0, len(data), chunk):
            part = data.take(slice(start, start + chunk))
            with torch.no_grad():
                result = method.reconstruct(kind, params, part, model=model, device=device, threads=threads)
            out.write(part.index, result.samples, result.extras)
            attrs, seconds = result.attrs, seconds + result.attrs["seconds_per_image"] * len(part)
        attrs = {"approach": approach, "kind": kind, "dataset": dataset, "scheme": scheme, "nfe": 0, **attrs}
        attrs["seconds_per_image"] = seconds / max(len(data), 1)
        if on_device:  # a posterior approach's: its prior's, shared
            attrs["train_seconds"] = float(pd.read_csv(inputs["train_log"])["seconds"].max())
        out.finish(**attrs)
