"""Cost and quality of posterior sampling around a trained EDM prior, against the 1-minute budget per approach.

    python benchmarks/edm_posterior.py [--config config/config.yaml] [--approaches edm_lowlight_diffpir ...]
                                       [--set n_samples=1,2,4 steps=10,20] [--threads 1]

Runs each named posterior approach of the config (default: every edm_* approach) on the images or
tiles the workflow scores (`evaluation.n_images`; every test pair of a raw set), reading what the DAG
built (results/priors/{prior}/model.pt, the data, masks, tiles and noise.json). `--set` sweeps
`sample:` settings over the product of the values given. Prints seconds of sampling per approach,
their ratio to the 60 s budget, NFE and the headline PSNR: mean-of-K on missing pixels (images), or
sRGB PSNR per exposure ratio (tiles). Run it alone: another torch process on the same cores slows both.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from sparsefield.config import approach_params, validate_config
from sparsefield.io import load_model
from sparsefield.params import bind, canonical
from sparsefield.registry import KINDS, load, read_split

BUDGET_S = 60.0


def inputs_of(entry: dict, root: Path) -> dict:
    """The files an approach reads, as the workflow names them (workflow/rules/common.smk)."""
    if KINDS[entry["kind"]].reads == "tiles":
        files = {"metadata": root / f"results/tiles/{entry['rawset']}/metadata.json",
                 "noise": root / f"results/tiles/{entry['rawset']}/noise.json"}
    else:
        files = {"data": root / f"results/data/{entry['dataset']}.h5",
                 "masks": root / f"results/masks/{entry['dataset']}/{entry['scheme']}.h5"}
    return {**files, "model": root / f"results/priors/{entry['prior']}/model.pt"}


def headline(kind: str, samples: np.ndarray, data) -> str:
    """Mean-of-K PSNR on missing pixels, or sRGB PSNR per ratio of the tiles."""
    from sparsefield.baselines.lowlight import to_srgb
    from sparsefield.data.raw.tiles import linear_rgb
    from sparsefield.metrics import missing_psnr_per_image, psnr_per_image

    if KINDS[kind].reads == "images":
        return f"{missing_psnr_per_image(samples.mean(1), data.images, data.context).mean():.2f} dB missing"
    truth = np.stack([linear_rgb(data[i][1]) for i in range(len(data))])
    ratios = np.array([record["ratio"] for record in data.records])
    psnr = psnr_per_image(to_srgb(samples.mean(1)), to_srgb(truth))
    return " ".join(f"x{r:g} {psnr[ratios == r].mean():.2f}" for r in np.unique(ratios)) + " dB sRGB"


def overrides(pairs: list[str]) -> list[dict]:
    """`key=v1,v2` arguments -> the product of their settings ([{}] without any)."""
    keys, values = [], []
    for pair in pairs:
        key, _, text = pair.partition("=")
        keys.append(key)
        values.append([float(v) if "." in v or "e" in v else int(v) if v.isdigit() else v for v in text.split(",")])
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--root", default=".", help="the folder holding results/")
    parser.add_argument("--approaches", nargs="*", default=None)
    parser.add_argument("--set", nargs="*", default=[], help="sample settings to sweep, key=v1,v2")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    root = Path(args.root)
    config = validate_config(yaml.safe_load(Path(args.config).read_text()),
                             Path(__file__).parents[1] / "workflow/schemas/config.schema.yaml")
    bound = approach_params(config)
    names = args.approaches or sorted(n for n, e in config["approaches"].items() if KINDS[e["kind"]].posterior)
    rows = []
    for name in names:
        entry = config["approaches"][name]
        method, inputs = load(KINDS[entry["kind"]].method), inputs_of(entry, root)
        data = read_split(KINDS[entry["kind"]].reads, inputs, "test")
        if KINDS[entry["kind"]].reads == "images":
            data = data.first(config["evaluation"]["n_images"])
        model = load_model(inputs["model"], "cpu", method.rebuild)
        for change in overrides(args.set):
            settings = canonical(bound[name])
            settings["sample"] = {**settings["sample"], **change}
            params = bind(method.Params, settings, name)
            start = time.perf_counter()
            with torch.no_grad():
                result = method.reconstruct(entry["kind"], params, data, model=model, device="cpu")
            seconds = time.perf_counter() - start
            rows.append(dict(approach=name, **change, seconds=seconds, nfe=result.attrs["nfe"]))
            shown = " ".join(f"{k}={v}" for k, v in change.items())
            score = headline(entry["kind"], result.samples, data)
            print(f"{name} {shown}: {seconds:.1f} s ({seconds / BUDGET_S:.2f} x the {BUDGET_S:g} s budget), "
                  f"NFE {result.attrs['nfe']}, {score}", flush=True)
    return rows


if __name__ == "__main__":
    main()
