"""Training samples/s of a learned approach: the full loop against bare forward+backward, and threads.

    python benchmarks/train_throughput.py [--approach flow_matching] [--config config/config.yaml]
                                          [--steps 40] [--repeats 3] [--threads 1 2] [--side-by-side 2]

The approach's own family builds the model, its batches and its loss (`sparsefield.methods`:
its `training()`), at the config's sizes, on builtin data: RGB images with fixed masks, or the
builtin leaf set for a multispectral approach (`--approach vae_masked`). Three measurements,
medians of --repeats:

- bare: loss, backward and AdamW on precomputed batches and noise, for each --threads count
  (one process). This is the number to compare machines by.
- full: the training loop (`sparsefield.training.loop.training_loop`: data loading, per-sample noise, EMA,
  clipping, logging, checkpoints), at the first thread count; its ratio to bare is the loop's
  overhead (target >= 0.9).
- side by side: --side-by-side processes of one thread each running bare at once; their summed
  samples/s against one process with that many threads is what running one-thread training jobs
  side by side buys (the workflow's default `threads: train: 1`).

Never run it beside another torch process: the thread pools oversubscribe and everything slows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time

import numpy as np
import torch
import yaml
from torch.utils.data import default_collate

from sparsefield.config import approach_params, validate_config
from sparsefield.data.images.masks import counts, generate_masks
from sparsefield.data.images.sets import MaskedImages
from sparsefield.data.images.sources import builtin_images
from sparsefield.data.spectral.leaves import leaves_images
from sparsefield.registry import KINDS, load
from sparsefield.rng import SampleNoise, seed_of
from sparsefield.training.loop import training_loop
from sparsefield.training.schedule import batch_indices

SCHEMA = "workflow/schemas/config.schema.yaml"


def setup(config_path, approach: str, n_images: int = 2000):
    """(family module, kind, params, training data) of a learned approach of a config (a path, or a config dict
    already validated)."""
    config = config_path if isinstance(config_path, dict) else validate_config(yaml.safe_load(open(config_path)),
                                                                                SCHEMA)
    config_path = config_path if not isinstance(config_path, dict) else "the config"
    if approach not in config["approaches"]:
        raise SystemExit(f"{config_path}: no approach {approach!r}; have {sorted(config['approaches'])}")
    entry = config["approaches"][approach]
    if not KINDS[entry["kind"]].learned:
        raise SystemExit(f"{config_path}: {approach!r} is not learned; name a learned approach")
    if KINDS[entry["kind"]].reads == "spectral":  # the builtin leaf set at the dataset's size
        size = config["datasets"][entry["dataset"]].get("size", 32)
        data = leaves_images(n_train=n_images, n_test=10, size=size).train
        return load(KINDS[entry["kind"]].method), entry["kind"], approach_params(config)[approach], data
    scheme = config["schemes"][entry["scheme"]]
    images = builtin_images(n_train=n_images, n_test=10).train
    n_context, n_query = counts(32, 32, scheme["context_ratio"], scheme["query_ratio"])
    context, query = generate_masks(seed=scheme["seed"], split="train", index=np.arange(len(images)), height=32,
                                    width=32, n_context=n_context, n_query=n_query)
    kind, params = entry["kind"], approach_params(config)[approach]
    data = MaskedImages(images, context, query)
    if hasattr(params, "reads_estimate") and params.reads_estimate():  # the speed does not depend on which estimate
        from sparsefield.baselines.normconv import reconstruct as normconv

        data.estimate = normconv(images / 255.0, context).astype(np.float32)
    return load(KINDS[kind].method), kind, params, data


def bare(config_path: str, approach: str, steps: int, threads: int) -> float:
    """Samples/s of loss + backward + AdamW on precomputed batches and noise, with `threads` threads."""
    torch.set_num_threads(threads)
    method, kind, params, data = setup(config_path, approach)
    torch.manual_seed(0)
    loop = method.training(kind, params, data, data, "cpu")
    model, dataset, loss_fn = loop["model"], loop["dataset"], loop["loss_fn"]
    batch_size = params.train.batch_size
    batches = []
    for step in range(1, steps + 1):
        index = batch_indices(len(dataset), batch_size, 0, step)
        batches.append((_batch(dataset, index), [seed_of(0, step, i) for i in index]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    start = time.perf_counter()
    for batch, seeds in batches:
        loss = loss_fn(model, batch, SampleNoise(seeds)).value.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * batch_size / (time.perf_counter() - start)


def _batch(dataset, index: list[int]):
    """One batch as the training loop's DataLoader builds it (the dataset's own batching, or default collate)."""
    if hasattr(dataset, "__getitems__"):
        return dataset.__getitems__(index)
    return default_collate([dataset[i] for i in index])


def full(config_path: str, approach: str, steps: int, threads: int) -> float:
    """Samples/s of the whole training loop (no learning curve) on the same model and data."""
    torch.set_num_threads(threads)
    method, kind, params, data = setup(config_path, approach)
    torch.manual_seed(0)
    loop = method.training(kind, params, data, data, "cpu")
    loop.update(steps=steps, warmup=1, checkpoint_every=steps, eval_fn=None)
    with tempfile.TemporaryDirectory() as out:
        return training_loop(**loop, out_dir=out, device="cpu", progress=False)["samples_per_s"]


def _worker(args) -> float:
    return bare(*args)


def side_by_side(config_path: str, approach: str, steps: int, processes: int) -> float:
    """Summed samples/s of `processes` one-thread bare loops running at once (spawned processes)."""
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return sum(pool.map(_worker, [(config_path, approach, steps, 1)] * processes))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approach", default="flow_matching")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--side-by-side", type=int, default=2, help="processes of one thread (0: skip)")
    args = parser.parse_args(argv)
    where = (args.config, args.approach, args.steps)
    runs: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for threads in args.threads:
            runs.setdefault(f"bare, {threads} thread(s)", []).append(bare(*where, threads))
        runs.setdefault(f"full loop, {args.threads[0]} thread(s)", []).append(full(*where, args.threads[0]))
        if args.side_by_side > 1:
            runs.setdefault(f"{args.side_by_side} x bare, 1 thread each, side by side",
                            []).append(side_by_side(*where, args.side_by_side))
    medians = {name: statistics.median(values) for name, values in runs.items()}
    print(f"{args.approach} ({args.config}), {args.steps} steps, median of {args.repeats} alternating runs")
    for name, value in medians.items():
        print(f"  {name:<45} {value:8.1f} samples/s")
    first = f"bare, {args.threads[0]} thread(s)"
    print(f"  ratio full loop / bare ({args.threads[0]} thread(s))          "
          f"{medians[f'full loop, {args.threads[0]} thread(s)'] / medians[first]:8.3f}   (target >= 0.9)")
    if args.side_by_side > 1 and f"bare, {args.side_by_side} thread(s)" in medians:
        together = medians[f"{args.side_by_side} x bare, 1 thread each, side by side"]
        print(f"  ratio side by side / one {args.side_by_side}-thread job            "
              f"{together / medians[f'bare, {args.side_by_side} thread(s)']:8.3f}")
    return medians


if __name__ == "__main__":
    main()
