"""Each learned family at a config's sizes for about --seconds of training on builtin data: samples/s,
peak memory, whether bf16 autocast ran, and that the DataLoader path (workers, pinned memory) works.

    python benchmarks/device.py [--config config/paper/cifar10.yaml config/paper/leaves.yaml] [--seconds 60]
                                [--families field ddo vae prior] [--device auto] [--images 2048]

The script for a lent GPU machine (paper sizes, the default); on the CPU it runs too (any config) and
reports what the CPU did: autocast is on only on CUDA, as in the training loop. Per family it takes the
config's first learned approach of that family (the prior: its first `priors:` entry on a dataset),
builds the loop exactly as the workflow does (the family's `training()` / `prior_training()`), on
builtin data at the config's image size — RGB images with the scheme's fixed masks, or the builtin
leaf set for the VAE — runs a short probe (startup, cuDNN autotuning), then a timed run sized from
the probe to last about --seconds (sized again from its own rate, at most twice, when it falls short
of half), with the config's `num_workers` DataLoader workers.

Reported per family: samples/s of the timed run (the loop's own count, evaluation excluded), peak
memory (CUDA: max_memory_allocated; CPU: the process's max RSS), the dtype a first Conv/Linear layer
produced inside the loop (bfloat16 when autocast ran), the last loss (finite), and the workers used.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from snakemake.utils import update_config
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from train_throughput import SCHEMA, setup  # noqa: E402  (the sibling benchmark's data set-up)

from sparsefield.config import validate_config  # noqa: E402
from sparsefield.device import resolve_device  # noqa: E402
from sparsefield.registry import KINDS  # noqa: E402
from sparsefield.training.loop import training_loop  # noqa: E402

FAMILIES = {"field": "sparsefield.methods.field", "ddo": "sparsefield.methods.ddo", "vae": "sparsefield.methods.vae"}


def first_approach(config: dict, family: str) -> str:
    """The config's first learned approach whose kind is implemented by `family`."""
    for name, entry in config["approaches"].items():
        if KINDS[entry["kind"]].learned and KINDS[entry["kind"]].method == FAMILIES[family]:
            return name
    raise SystemExit(f"config has no approach of family {family!r}; drop it from --families")


def prior_loop(config: dict, n_images: int, device) -> tuple[str, dict]:
    """(name, the training loop's arguments) of the config's first prior on a dataset, on builtin RGB images."""
    from sparsefield.data.images.sources import builtin_images
    from sparsefield.data.windows import CropDataset
    from sparsefield.methods import edm_prior
    from sparsefield.params import bind

    names = [name for name, entry in config.get("priors", {}).items() if "dataset" in entry]
    if not names:
        raise SystemExit("config has no prior on a dataset; drop prior from --families")
    name = names[0]
    params = bind(edm_prior.PriorParams, config["priors"][name].get("params", {}), f"priors.{name}.params")
    images = builtin_images(n_train=n_images, n_test=params.validation.images)
    train_x, val = (torch.as_tensor(split).permute(0, 3, 1, 2).float() / 127.5 - 1.0
                    for split in (images.train, images.test))
    windows = CropDataset(train_x, min(params.crop, *train_x.shape[2:]), params.stride)
    return name, edm_prior.prior_training(params, {"dataset": "builtin"}, windows, val, device)


class FirstLayerDtype:
    """Records the output dtype of the model's first Conv/Linear layer on its first call."""

    def __init__(self, model: nn.Module):
        self.dtype = None
        layer = next((m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Conv1d))), None)
        self.handle = layer.register_forward_hook(self) if layer is not None else None

    def __call__(self, module, inputs, output):
        if self.dtype is None and torch.is_tensor(output):
            self.dtype = output.dtype


def peak_memory_gib(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def timed(name: str, loop: dict, seconds: float, device, probe_steps: int = 5) -> dict:
    """Probe, then a run of about `seconds`; the figures of the timed run."""
    loop = dict(loop, eval_fn=None, eval_every=0, progress=False, epochs=None, kimg=None)
    probe = probe_steps
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        first = training_loop(**dict(loop, steps=probe, checkpoint_every=0), out_dir=out, device=str(device))
        probe_seconds = time.perf_counter() - start
    rate = first["samples_per_s"]
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    dtype = FirstLayerDtype(loop["model"])
    for _ in range(3):  # the probe's rate includes start-up: size again from a run that fell short of half
        steps = max(probe, math.ceil(seconds * rate / loop["batch_size"]))
        with tempfile.TemporaryDirectory() as out:
            run = training_loop(**dict(loop, steps=steps, checkpoint_every=0), out_dir=out, device=str(device))
        if run["seconds"] >= seconds / 2:
            break
        rate = run["samples_per_s"]
    if dtype.handle is not None:
        dtype.handle.remove()
    return dict(name=name, steps=steps, batch=loop["batch_size"], samples_per_s=run["samples_per_s"],
                seconds=run["seconds"], probe_seconds=probe_seconds, peak_gib=peak_memory_gib(device),
                dtype=str(dtype.dtype).removeprefix("torch."), loss=run["loss"], workers=loop.get("num_workers", 0),
                params_m=sum(p.numel() for p in loop["model"].parameters()) / 1e6)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+", default=[f"config/paper/{s}.yaml" for s in ("cifar10", "leaves")],
                        help="study configs, merged as Snakemake merges several --configfile")
    parser.add_argument("--record", default=None, help="on CUDA, write the rows here with the GPU's name "
                        "(default benchmarks/device_results.json)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--families", nargs="+", default=[*FAMILIES, "prior"], choices=[*FAMILIES, "prior"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--images", type=int, default=2048, help="builtin training images per family")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the config's)")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    config = {}
    for path in args.config:
        update_config(config, yaml.safe_load(open(path)))
    config = validate_config(config, SCHEMA)
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    print(f"{' + '.join(args.config)} on {device}{gpu}, torch {torch.__version__}, ~{args.seconds:g} s per family")
    rows = []
    for family in args.families:
        torch.manual_seed(0)
        if family == "prior":
            name, loop = prior_loop(config, args.images, device)
        else:
            name = first_approach(config, family)
            method, kind, params, data = setup(config, name, n_images=args.images)
            loop = method.training(kind, params, data, data, device)
        if args.workers is not None:
            loop["num_workers"] = args.workers
        row = timed(f"{family}: {name}", loop, args.seconds, device)
        rows.append(row)
        print(f"  {row['name']:<28} {row['params_m']:6.2f}M params  batch {row['batch']:4d}  {row['steps']:6d} steps"
              f"  {row['samples_per_s']:9.1f} samples/s  peak {row['peak_gib']:6.2f} GiB  first layer {row['dtype']}"
              f"  loss {row['loss']:.4g}  workers {row['workers']}  (probe {row['probe_seconds']:.1f} s)")
        if not math.isfinite(row["loss"]):
            raise SystemExit(f"{row['name']}: the loss is {row['loss']} after {row['steps']} steps")
        if device.type == "cuda" and row["dtype"] != "bfloat16":
            raise SystemExit(f"{row['name']}: the first layer ran in {row['dtype']}, not bf16: autocast did not apply")
    if device.type == "cuda":  # the GPU rates the paper rehearsal prices the learned jobs with
        record = Path(args.record or Path(__file__).parent / "device_results.json")
        families = [dict(row, family=name) for name, row in zip(args.families, rows, strict=True)]
        record.write_text(json.dumps({"gpu": torch.cuda.get_device_name(device), "torch": torch.__version__,
                                      "configs": args.config, "families": families}, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
