"""How a trained approach's mean-of-K PSNR depends on K, beside its one-step posterior mean.

    python benchmarks/mean_of_k.py flow_matching [--images 64] [--k 16] [--config config/config.yaml]

Reads `results/{approach}/model.pt` and the approach's test images and masks (as the
default run wrote them), draws K samples jointly on every unobserved pixel with the
approach's own sampler and steps, and prints the missing-pixel PSNR of the mean of the
first k samples for k = 1, 2, 4, ... K. Beside it:

- `posterior mean, 1 NFE`: D(x̃ = prior, σ = 80), the denoiser at a noise level where x̃
  carries no information, which estimates E[x0 | observed pixels] directly;
- `normconv`: the classical estimate a residual model starts from.

For a sampler that draws from the model's posterior, E‖mean_k − x‖² = mmse + tr(Cov)/k:
the mean of k samples approaches the posterior mean from below, 10·log10(1 + 1/k) dB
behind it when the posterior is as wide as its error (about 1 dB at k = 4). This is why a
calibrated model whose posterior mean only equals the classical estimate scores below it.
"""

import argparse
import os

import numpy as np
import torch
import yaml

from sparsefield.approach import classical_psnr
from sparsefield.config import validate_config
from sparsefield.data.fields import field_batch, from_unit
from sparsefield.data.images import read_images
from sparsefield.data.masks import read_masks
from sparsefield.models import load_model
from sparsefield.objectives import OBJECTIVES
from sparsefield.registry import KINDS
from sparsefield.sample import fill_unobserved, joint_grid, missing_psnr, unobserved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("approach")
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--k", type=int, default=16)
    args = parser.parse_args()
    config = validate_config(yaml.safe_load(open(args.config)), "workflow/schemas/config.schema.yaml")
    if args.approach not in config["approaches"]:
        raise SystemExit(f"{args.config}: no approach {args.approach!r}; choose one of {sorted(config['approaches'])}")
    entry = config["approaches"][args.approach]
    if "train" not in KINDS[entry["kind"]].stages:
        raise SystemExit(f"{args.config}: {args.approach!r} ({entry['kind']}) is not learned; name a learned approach")
    params = entry["params"]
    data, masks = f"results/data/{entry['dataset']}.h5", f"results/masks/{entry['dataset']}/{entry['scheme']}.h5"
    test = read_images(data, "test")[: args.images]
    context = read_masks(masks, "test")[0][: len(test)]
    n, height, width, _ = test.shape
    model_path = f"results/{args.approach}/model.pt"
    if not os.path.isfile(model_path):
        raise SystemExit(f"{model_path}: not found; train it first with snakemake {model_path}")
    model = load_model(model_path)
    process = OBJECTIVES[entry["kind"]](**params["objective"])
    truth = test / 255.0
    missing = unobserved(torch.as_tensor(context).long(), height * width)
    scores = {"normconv": classical_psnr(test, context)}
    with torch.no_grad():
        batch = field_batch(torch.as_tensor(test), torch.as_tensor(context).long(), missing)
        prior = model.prior(batch)
        start = prior if prior is not None else torch.zeros_like(batch.output_values)
        mean = model(start, torch.full((n,), 80.0), batch, prior)
        scores["posterior mean, 1 NFE"] = missing_psnr(fill_unobserved(test, missing, from_unit(mean)[:, None]),
                                                       truth, context)  # fmt: skip
    sample = params["sample"]
    samples, nfe, _ = joint_grid(model, process, test, context, index=np.arange(n), seed=params["seed"],
                                 k=args.k, steps=sample["steps"], sampler=sample["sampler"], batch_size=16,
                                 device="cpu")  # fmt: skip
    k = 1
    while k <= args.k:
        scores[f"mean of {k} samples ({sample['sampler']}, NFE {nfe})"] = missing_psnr(samples[:, :k], truth, context)
        k *= 2
    print(f"{args.approach}: missing-pixel PSNR (dB) on the first {n} test images")
    for name, value in scores.items():
        print(f"  {name:<40} {value:6.2f}")


if __name__ == "__main__":
    main()
