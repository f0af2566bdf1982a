"""Training samples/s of the full loop against bare forward+backward on the same batches.

    python benchmarks/train_throughput.py [--steps 40] [--repeats 3] [--batch-size 32]

The full loop (`sparsefield.train.train`: data loading, per-sample noise, EMA, clipping,
logging, checkpointing) and a bare loop (the same model, objective, batches and noise:
loss, backward, AdamW step, nothing else) run alternately; medians of --repeats runs and
their ratio (target >= 0.9: the loop's overhead is never the bottleneck) are printed.
The model is a CPU-sized Perceiver IO (64 latents x 128, 2 blocks, 4 heads, 64 Fourier
features) on the residual around normconv, with the flow-matching objective.
"""

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch

from sparsefield.data.fields import FieldDataset
from sparsefield.data.images import builtin_images
from sparsefield.data.masks import generate_masks
from sparsefield.models import FieldModel
from sparsefield.objectives import FlowMatching
from sparsefield.rng import SampleNoise, seed_of
from sparsefield.train import batch_indices, train


def bare(model, objective, dataset, *, steps, batch_size, seed=0) -> float:
    """Samples/s of loss + backward + AdamW on precomputed batches and noise."""
    batches = []
    for step in range(1, steps + 1):
        index = batch_indices(len(dataset), batch_size, seed, step)
        batches.append((dataset.__getitems__(index), [seed_of(seed, step, i) for i in index]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    start = time.perf_counter()
    for batch, seeds in batches:
        loss = objective.loss(model, batch, SampleNoise(seeds)).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * batch_size / (time.perf_counter() - start)


def full(model, objective, dataset, *, steps, batch_size) -> float:
    with tempfile.TemporaryDirectory() as out:
        summary = train(model=model, loss_fn=objective.loss, dataset=dataset, out_dir=out, steps=steps,
                        batch_size=batch_size, lr=1e-4, warmup=1, checkpoint_every=steps, progress=False)  # fmt: skip
    return summary["samples_per_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(2)
    backbone = dict(n_latents=64, latent_dim=128, n_blocks=2, n_heads=4, n_fourier=64)
    config = dict(backbone=backbone, sigma_data=0.15, residual=True)
    images = builtin_images(n_train=2000, n_test=10).train
    context, query = generate_masks(seed=42, split="train", index=np.arange(len(images)), height=32, width=32,
                                    n_context=204, n_query=204)  # fmt: skip
    dataset, objective = FieldDataset(images, context, query), FlowMatching()
    runs = {"full": [], "bare": []}
    for _ in range(args.repeats):
        for name, loop in (("full", full), ("bare", bare)):
            torch.manual_seed(0)
            model = FieldModel(**config)
            runs[name].append(loop(model, objective, dataset, steps=args.steps, batch_size=args.batch_size))
    full_sps, bare_sps = statistics.median(runs["full"]), statistics.median(runs["bare"])
    print(f"Perceiver IO (CPU size), flow matching, batch {args.batch_size}, {args.steps} steps, "
          f"median of {args.repeats} alternating runs")  # fmt: skip
    print(f"  full training loop    {full_sps:8.1f} samples/s")
    print(f"  bare forward+backward {bare_sps:8.1f} samples/s")
    print(f"  ratio full / bare     {full_sps / bare_sps:8.3f}   (target >= 0.9)")


if __name__ == "__main__":
    main()
