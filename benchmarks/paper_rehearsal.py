"""The paper rehearsal: a study's paper configuration through Snakemake on this CPU, on data in the real formats at
the real sizes, then the paper run it predicts.

    python benchmarks/paper_rehearsal.py cifar10|sid|leaves [--workdir rehearsal/STUDY] [--test-scenes 1]
                                         [--targets T ...] [--keep]

1. Data (`sparsefield.rehearsal.data`, from the builtin photographs), under WORKDIR/data/: CIFAR-10's python
   batches (50 000 + 10 000 images); a SID-layout Sony set of Sony-size captures (4256 x 2848 RGGB, 14 bits,
   DNG content under SID's .ARW names: LibRaw reads a file by its content), 2 train, 1 val and --test-scenes
   test scenes, each a 10 s long exposure and shorts at x100 and x300; 20 leaf stacks of 1024 x 1024, 5 bands.
2. The study's config/paper/STUDY.yaml with the rehearsal overlay (`sparsefield.rehearsal.plan`): every data
   job on the whole data, every model, crop, tile and K at paper size, every training 2 updates at the paper's
   batch (the priors at a CPU batch: PRIOR_BATCH), every sampler 2 steps on 2 test items.
3. Per job, from Snakemake's benchmark files: seconds, peak RSS, MB written.
4. The paper run: CPU-hours of the data jobs, and of the learned jobs on this CPU (for scale); GPU-hours where
   benchmarks/device_results.json holds a GPU's samples/s for the family, else "not measured on a GPU"; peak
   memory per rule against profiles/slurm's mem_mb; disk.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sparsefield.config import validate_config  # noqa: E402
from sparsefield.registry import KINDS  # noqa: E402
from sparsefield.rehearsal import data  # noqa: E402
from sparsefield.rehearsal.plan import STUDIES, rehearsal_overlay  # noqa: E402
from sparsefield.rehearsal.price import REAL, hours, jobs, markdown, scaled  # noqa: E402

PRIOR_BATCH = {"cifar10": (128, 64), "raw_sid": (2, 1)}  # (batch, per pass) on 2 cores: 2 passes an update
DEVICE_RESULTS = ROOT / "benchmarks/device_results.json"
SID_RATIOS = (100, 300)


def write_data(study: str, workdir: Path, test_scenes: int) -> dict:
    """The rehearsal data of `study` under workdir/data (kept when there), and the overlay's paths."""
    folder = workdir / "data"
    if study == "cifar10":
        if not (folder / "cifar10/cifar-10-batches-py/test_batch").exists():
            data.write_cifar10(folder / "cifar10")
        return {}
    if study == "sid":
        marker = folder / f"SID/.scenes-{test_scenes}"
        if not marker.exists():
            data.write_sid_sony(folder / "SID", n_train=2, n_val=1, n_test=test_scenes, ratios=SID_RATIOS)
            marker.touch()
        return {}
    if not (folder / "leaves").exists():
        data.write_leaf_stacks(folder / "leaves", n_files=20, height=1024, width=1024)
    return {"leaves": {"max_value": data.LEAF_MAX_VALUE}}


def run(study: str, workdir: Path, paths: dict, targets: list[str], device: str = "cpu") -> float:
    """The study's paper DAG with the overlay, in workdir; its wall seconds."""
    config = yaml.safe_load((ROOT / STUDIES[study]).read_text())
    overlay = rehearsal_overlay(config, paths=paths, prior_batch=PRIOR_BATCH if device == "cpu" else None,
                                device=device)  # fmt: skip
    (workdir / "overlay.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(ROOT / STUDIES[study]), str(workdir / "overlay.yaml"), "--replace-workflow-config",
           "--cores", "2", "--resources", "gpu=1", *targets]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.perf_counter() - start


def paper_config(study: str) -> dict:
    config = yaml.safe_load((ROOT / STUDIES[study]).read_text())
    return validate_config(config, ROOT / "workflow/schemas/config.schema.yaml")


def _samples(entry: dict, n_items: int) -> float:
    """Training examples of a `train:` section at n_items training items."""
    train = entry["train"]
    if train.get("kimg"):
        return train["kimg"] * 1000
    if train.get("epochs"):
        return train["epochs"] * (n_items // train["batch_size"]) * train["batch_size"]
    return train["steps"] * train["batch_size"]


def _rows(path: Path) -> int:
    with h5py.File(path, "r") as f:
        return len(f["index"])


def factors(study: str, table: pd.DataFrame, results: Path, config: dict) -> pd.DataFrame:
    """Per job: how many times its work the paper's is (`factor`), and how many such jobs it has (`jobs`)."""
    test_items = {"cifar10": REAL["cifar10"]["test_images"], "leaves": REAL["leaves"]["tiles"] * 0.3}
    meta = results / "tiles/sid_sony/metadata.json"
    if study == "sid" and meta.exists():
        tiles = json.loads(meta.read_text())["tiles"]
        captures = len({t["capture"] for t in tiles})
        paper_pairs = REAL["sid"]["test_pairs"] * REAL["sid"]["tiles_per_capture"]
        train_scenes = len({t["scene"] for t in tiles if t["split"] == "train"})
    rows = []
    for rule, job in zip(table.rule, table.job, strict=True):
        factor, count = 1.0, 1.0
        entry = config["approaches"].get(job, {})
        row = KINDS[entry["kind"]] if entry else None
        if study == "sid" and rule in ("demosaic", "tiles"):
            count = REAL["sid"]["captures"] / captures if rule == "demosaic" else 1.0
            factor = REAL["sid"]["captures"] / captures if rule == "tiles" else 1.0
        elif study == "sid" and rule == "calibrate":
            factor = REAL["sid"]["train_scenes"] / train_scenes
        elif study == "leaves" and rule == "images":
            factor = REAL["leaves"]["tiles"] / 1280  # the rehearsal's 20 stacks of 64 tiles
        elif rule in ("reconstruct", "evaluate", "sweep") and row is not None:
            done = _rows(results / job / "samples.h5")
            paper = paper_pairs if study == "sid" else test_items[study]
            cap = ((entry.get("params") or {}).get("sample") or {}).get("images")
            factor = min(paper, cap or paper) / done
            if rule != "evaluate" and (row.learned or row.posterior) and entry.get("params", {}).get("sample"):
                sample = entry["params"]["sample"]
                factor *= sample.get("steps", 1) / 2  # the rehearsal samples at 2 steps
                if rule == "sweep":
                    factor = sum(sample.get("sweep_nfe", [])) * sample.get("sweep_images", 1) / 2
        elif rule == "train" and row is not None:
            log = pd.read_csv(results / job / "train_log.csv")
            n_train = REAL["cifar10"]["train_images"] if study == "cifar10" else REAL["leaves"]["tiles"] * 0.7
            factor = _samples(entry["params"], n_train) / (len(log) * entry["params"]["train"]["batch_size"])
        elif rule == "prior":
            log = pd.read_csv(results / "priors" / job / "train_log.csv")
            prior = config["priors"][job]["params"]
            factor = _samples(prior, REAL["cifar10"]["train_images"]) / (len(log) * PRIOR_BATCH[job][0])
        rows.append({"factor": factor, "jobs": count})
    return pd.DataFrame(rows, index=table.index)


def device_rates() -> dict:
    """{family: (samples/s, GPU name)} recorded by benchmarks/device.py on a GPU (empty when none was)."""
    if not DEVICE_RESULTS.exists():
        return {}
    recorded = json.loads(DEVICE_RESULTS.read_text())
    return {row["family"]: (row["samples_per_s"], recorded["gpu"]) for row in recorded["families"]}


def report(study: str, workdir: Path, wall: float) -> str:
    results = workdir / "results"
    config = paper_config(study)
    table = jobs(results)
    table = table.join(factors(study, table, results, config))
    learned = table.rule.isin(["train", "prior"]) | table.job.isin(
        [n for n, e in config["approaches"].items() if KINDS[e["kind"]].learned or KINDS[e["kind"]].posterior]
    ) & table.rule.isin(["reconstruct", "sweep"])  # fmt: skip
    table["paper_s"] = scaled(table.set_index("rule").seconds, table.set_index("rule").factor).to_numpy() * table.jobs
    table["paper_mb"] = table.written_mb * table.factor * table.jobs
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    limit = {rule: spec.get("mem_mb") for rule, spec in profile["set-resources"].items()}
    default_mb = profile["default-resources"]["mem_mb"]
    lines = [f"# Rehearsal of config/paper/{study}.yaml on this CPU: {len(table)} jobs, {wall / 60:.1f} min wall", ""]
    shown = table[["rule", "job", "seconds", "peak_rss_mb", "written_mb", "factor"]].round(2)
    lines += ["## Jobs (Snakemake benchmark files)", "", markdown(shown), ""]
    rates = device_rates()
    per_rule = table.groupby(["rule"]).agg(peak_rss_mb=("peak_rss_mb", "max"), paper_cpu_h=("paper_s", "sum"),
                                           paper_gb=("paper_mb", "sum")).reset_index()  # fmt: skip
    per_rule["paper_cpu_h"] = per_rule.paper_cpu_h / 3600
    per_rule["paper_gb"] = per_rule.paper_gb / 1024
    per_rule["slurm_mem_mb"] = [limit.get(rule, default_mb) or default_mb for rule in per_rule.rule]
    per_rule["on"] = ["GPU" if table[table.rule == rule].index.isin(table[learned].index).any() else "CPU"
                      for rule in per_rule.rule]  # fmt: skip
    lines += ["## The paper run predicted (CPU-hours on this machine; peak memory against profiles/slurm)", "",
              markdown(per_rule.round(3)), ""]  # fmt: skip
    data_h = table[~learned].paper_s.sum()
    learned_h = table[learned].paper_s.sum()
    gpu = "not measured on a GPU" if not rates else f"from {sorted({name for _, name in rates.values()})}"
    lines += [f"- data jobs: {hours(data_h)} of CPU on this machine",
              f"- learned jobs: {hours(learned_h)} on this CPU (for scale); GPU-hours: {gpu}",
              f"- written: {table.paper_mb.sum() / 1024:.3g} GB in all"]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", choices=sorted(STUDIES))
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--test-scenes", type=int, default=1, help="SID-layout test scenes (the x4 memory check: 4)")
    parser.add_argument("--targets", nargs="*", default=[], help="snakemake targets (default: the whole study)")
    parser.add_argument("--device", default="cpu", help="cuda: the learned jobs on a GPU, the priors at paper batch")
    args = parser.parse_args()
    workdir = (args.workdir or ROOT / "rehearsal" / args.study).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    paths = write_data(args.study, workdir, args.test_scenes)
    wall = run(args.study, workdir, paths, args.targets, args.device)
    text = report(args.study, workdir, wall)
    (workdir / "rehearsal.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
