"""Masks/s of the vectorised fixed-mask generator against per-image Python loops, CIFAR-10 size.

    python benchmarks/masks.py [--images 60000] [--repeats 5]

Loops for reference (both give every image its 102 context + 102 query pixels of 1024):
  * shared-generator: a FixedSparseMaskDataset loop, one shared generator
    (`perm = rng.permutation(1024)` per image). Image i's mask then depends on every
    mask drawn before it, so it breaks the "depends only on (seed, split, i)" contract.
  * per-image-generator: the same loop with the per-image generator the contract needs.
Prints medians of --repeats runs and the ratios, all measured in this run.
"""

import argparse
import statistics
import time

import numpy as np

from sparsefield.data.images.masks import generate_masks


def vectorised(n):
    generate_masks(seed=42, split="train", index=np.arange(n), height=32, width=32, n_context=102, n_query=102)


def loop_shared(n):
    rng = np.random.default_rng(42)
    masks = {}
    for idx in range(n):
        perm = rng.permutation(1024)
        masks[idx] = {"context_indices": perm[:102], "query_indices": perm[102:204]}


def loop_per_image(n):
    masks = {}
    for idx in range(n):
        perm = np.random.default_rng((42, 0, idx)).permutation(1024)
        masks[idx] = {"context_indices": perm[:102], "query_indices": perm[102:204]}


def median_seconds(fn, n, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(n)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    runs = {
        name: median_seconds(fn, args.images, args.repeats)
        for name, fn in [
            ("vectorised", vectorised),
            ("shared-generator", loop_shared),
            ("per-image-generator", loop_per_image),
        ]
    }
    print(f"{args.images} masks of 32x32 (102 context + 102 query), median of {args.repeats} runs")
    for name, seconds in runs.items():
        line = f"  {name:18s} {args.images / seconds:12,.0f} masks/s"
        if name != "vectorised":
            line += f"   vectorised is {seconds / runs['vectorised']:4.1f}x faster (target >= 20x)"
        print(line)


if __name__ == "__main__":
    main()
