"""The paper rehearsal: a study's paper configuration through Snakemake on this CPU, on data in the real formats at
the real sizes, then the paper run it predicts.

    python benchmarks/paper_rehearsal.py cifar10|sid|leaves [--workdir rehearsal/STUDY] [--test-scenes 1]
                                         [--targets T ...] [--device cuda] [--report-only]

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

from snakemake.utils import update_config  # noqa: E402

from sparsefield.config import validate_config  # noqa: E402
from sparsefield.registry import KINDS  # noqa: E402
from sparsefield.rehearsal import data  # noqa: E402
from sparsefield.rehearsal.plan import STUDIES, rehearsal_overlay  # noqa: E402
from sparsefield.rehearsal.price import REAL, hours, jobs, markdown  # noqa: E402

PRIOR_BATCH = {"cifar10": (128, 64), "raw_sid": (2, 1)}  # (batch, per pass) on 2 cores: 2 passes an update
MEMORY_MB = 20000  # of this machine's 24 GB: a paper-size training takes up to ~10 GB on the CPU,
JOB_MB = {"train": 12000, "prior": 12000, "reconstruct": 8000, "sweep": 8000}  # so two never run side by side
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
                                device=device)
    (workdir / "overlay.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", *targets, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(ROOT / STUDIES[study]), str(workdir / "overlay.yaml"), "--replace-workflow-config",
           "--cores", "2", "--resources", "gpu=1", f"mem_mb={MEMORY_MB}", "--set-resources",
           *(f"{rule}:mem_mb={mb}" for rule, mb in JOB_MB.items())]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.perf_counter() - start


def paper_config(study: str, workdir: Path | None = None) -> dict:
    """The study's paper configuration; with `workdir`, as its rehearsal ran it (with workdir/overlay.yaml)."""
    config = yaml.safe_load((ROOT / STUDIES[study]).read_text())
    if workdir is not None:
        update_config(config, yaml.safe_load((workdir / "overlay.yaml").read_text()))
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


def _attrs(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {"n": len(f["index"]), **{key: f.attrs[key] for key in f.attrs}}


def _tiles(path: Path) -> int:
    with h5py.File(path, "r") as f:
        return sum(len(f[split]["images"]) for split in ("train", "test"))


def units(study: str, table: pd.DataFrame, results: Path, config: dict, ran: dict) -> pd.DataFrame:
    """Per job of the rehearsal, its unit cost and the paper's count of units: `unit`, `done` (units the rehearsal
    job did), `paper` (units of the paper's job), `s_per_unit`, `jobs` (such jobs in the paper run).

    A job's seconds are its start-up (`t0`: the run's fastest job, Python and imports) and its units of work:
    a data job's captures, scenes or test items; a training's examples (from its train_log: seconds of training
    alone); a sampler's item-NFEs (from its samples.h5: the sampler's own seconds per item, at the rehearsal's
    NFE), where the paper's NFE is the rehearsal's times the paper's steps over the rehearsal's 2. An evaluate
    job that scored a few sampled items takes the per-item rate of the largest evaluate job (`report`).
    `config` is the paper configuration, `ran` the one the rehearsal ran (its batches); a job of neither (another
    study's, in a run of several) counts as one job.
    """
    t0 = table.seconds.min()
    test_items = {"cifar10": REAL["cifar10"]["test_images"], "leaves": REAL["leaves"]["tiles"] * 0.3}
    if study == "sid":
        tiles = json.loads((results / "tiles/sid_sony/metadata.json").read_text())["tiles"]
        captures = len({t["capture"] for t in tiles})
        test_items["sid"] = REAL["sid"]["test_pairs"] * REAL["sid"]["tiles_per_capture"]
        train_scenes = len({t["scene"] for t in tiles if t["split"] == "train"})
    rows = []
    for rule, job, seconds in zip(table.rule, table.job, table.seconds, strict=True):
        entry = config["approaches"].get(job, {})
        row = KINDS[entry["kind"]] if entry else None
        sample = ((entry.get("params") or {}).get("sample") or {}) if entry else {}
        unit, done, paper, jobs_, size = "job", 1.0, 1.0, 1.0, None
        if study == "sid" and rule == "demosaic":
            unit, jobs_ = "capture", REAL["sid"]["captures"] / captures
        elif study == "sid" and rule == "tiles":
            unit, done, paper = "capture", captures, REAL["sid"]["captures"]
        elif study == "sid" and rule == "calibrate":
            unit, done, paper = "train scene", train_scenes, REAL["sid"]["train_scenes"]
        elif study == "leaves" and rule == "images":
            unit, done, paper = "tile", _tiles(results / "data/leaves.h5"), REAL["leaves"]["tiles"]
        elif rule in ("reconstruct", "evaluate") and row is not None:
            attrs = _attrs(results / job / "samples.h5")
            unit, done = "item", attrs["n"]
            paper = min(test_items[study], sample.get("images") or test_items[study])
            size = paper / attrs["n"]  # samples.h5 and metrics follow the items
            if rule == "reconstruct" and (row.learned or row.posterior):
                nfe = max(1, int(attrs["nfe"]))
                unit, done = "item-NFE", attrs["n"] * nfe
                paper *= nfe * sample.get("steps", 2) / 2 if sample else nfe
                seconds = t0 + float(attrs["seconds_per_image"]) * attrs["n"]  # the sampler's own seconds
        elif rule == "sweep" and row is not None:
            sweep = pd.read_csv(results / job / "nfe_sweep.csv")
            unit, done = "item-NFE", float(sweep.nfe.sum())  # the rehearsal sweeps 1 image a budget
            seconds = t0 + float((sweep.seconds_per_image).sum())
            paper = sum(sample.get("sweep_nfe", [])) * sample.get("sweep_images", 1)
        elif rule in ("train", "prior") and (entry or job in (config.get("priors") or {})):
            log = pd.read_csv(results / ("priors" if rule == "prior" else "") / job / "train_log.csv")
            params, run_params = ((config["priors"][job]["params"], ran["priors"][job]["params"]) if rule == "prior"
                                  else (entry["params"], ran["approaches"][job]["params"]))
            n_train = {"cifar10": REAL["cifar10"]["train_images"], "leaves": REAL["leaves"]["tiles"] * 0.7}.get(study)
            unit, done = "training example", len(log) * run_params["train"]["batch_size"]
            paper, seconds = _samples(params, n_train), t0 + float(log.seconds.iloc[-1])
        grows = rule in ("images", "masks", "estimate", "tiles")  # outputs that follow the data
        size = size if size is not None else paper / done if grows else 1.0
        rows.append({"unit": unit, "done": done, "paper": paper, "jobs": jobs_, "size": size,
                     "s_per_unit": max(seconds - t0, 0.0) / done})
    return pd.DataFrame(rows, index=table.index).assign(t0=t0)


def device_rates() -> dict:
    """{family: (samples/s, GPU name)} recorded by benchmarks/device.py on a GPU (empty when none was)."""
    if not DEVICE_RESULTS.exists():
        return {}
    recorded = json.loads(DEVICE_RESULTS.read_text())
    return {row["family"]: (row["samples_per_s"], recorded["gpu"]) for row in recorded["families"]}


def report(study: str, workdir: Path, wall: float) -> str:
    """The rehearsal's jobs and the paper run they predict, as Markdown."""
    results = workdir / "results"
    config = paper_config(study)
    table = jobs(results)
    table = table.join(units(study, table, results, config, paper_config(study, workdir)))
    scored = table[table.rule == "evaluate"]
    if len(scored):  # a score of 2 items is its start-up: such jobs take the rate of the rule's largest job
        largest = scored.loc[scored.done.idxmax()]
        few = (table.rule == "evaluate") & (table.done < largest.done / 10)
        table.loc[few, "s_per_unit"] = largest.s_per_unit
    on_gpu = [n for n, e in config["approaches"].items() if KINDS[e["kind"]].learned or KINDS[e["kind"]].posterior]
    table["gpu"] = table.rule.isin(["train", "prior"]) | (table.rule.isin(["reconstruct", "sweep"])
                                                          & table.job.isin(on_gpu))
    table["paper_s"] = (table.t0 + table.s_per_unit * table.paper) * table.jobs
    table["paper_gb"] = table.written_mb * table.jobs * table["size"] / 1024
    pss = pd.concat([pd.read_csv(p, sep="\t").iloc[-1:] for p in sorted((results / "benchmarks").rglob("*.tsv"))])
    table["peak_pss_mb"] = pss["max_pss"].to_numpy()  # the benchmark files in `jobs`' order
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    default_mb = profile["default-resources"]["mem_mb"]
    limit = {rule: spec.get("mem_mb", default_mb) for rule, spec in profile["set-resources"].items()}
    shown = table[["rule", "job", "seconds", "peak_rss_mb", "peak_pss_mb", "written_mb"]]
    lines = [f"# Rehearsal of config/paper/{study}.yaml on this CPU: {len(table)} jobs, {wall / 60:.1f} min wall", "",
             "## Jobs (Snakemake's benchmark files; RSS sums a job's processes, PSS shares their common pages)", "",
             markdown(shown), ""]
    per_rule = table.groupby(["rule", "gpu"]).agg(jobs=("jobs", "sum"), cpu_h=("paper_s", "sum"),
                                                  peak_rss_mb=("peak_rss_mb", "max"),
                                                  peak_pss_mb=("peak_pss_mb", "max"),
                                                  written_gb=("paper_gb", "sum")).reset_index()
    per_rule["cpu_h"] /= 3600
    per_rule["slurm_mem_mb"] = [limit.get(rule, default_mb) for rule in per_rule.rule]
    per_rule["gpu"] = per_rule.gpu.map({True: "GPU job", False: "-"})
    lines += ["## The paper run (hours of this CPU; peak memory against profiles/slurm's mem_mb)", "",
              markdown(per_rule), ""]
    rates = device_rates()
    names = sorted({name for _, name in rates.values()})
    gpu_note = f"samples/s of {names} in benchmarks/device_results.json" if rates else "not measured on a GPU"
    costs = table[["rule", "job", "unit", "s_per_unit", "done", "paper"]].assign(cpu_h=table.paper_s / 3600)
    lines += ["## Unit costs on this CPU, and each job's units in the paper run", "", markdown(costs), "",
              f"- data jobs: {hours(table[~table.gpu].paper_s.sum())} of this CPU",
              f"- GPU jobs: {hours(table[table.gpu].paper_s.sum())} of this CPU, for scale only; GPU-hours: "
              f"{gpu_note}",
              f"- written: {table.paper_gb.sum():.3g} GB in all"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", choices=sorted(STUDIES))
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--test-scenes", type=int, default=1, help="SID-layout test scenes (the x4 memory check: 4)")
    parser.add_argument("--targets", nargs="*", default=[], help="snakemake targets (default: the whole study)")
    parser.add_argument("--device", default="cpu", help="cuda: the learned jobs on a GPU, the priors at paper batch")
    parser.add_argument("--report-only", action="store_true", help="price the run already in --workdir")
    args = parser.parse_args(argv)
    workdir = (args.workdir or ROOT / "rehearsal" / args.study).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        wall = float((workdir / "wall_seconds").read_text()) if (workdir / "wall_seconds").exists() else float("nan")
    else:
        paths = write_data(args.study, workdir, args.test_scenes)
        wall = run(args.study, workdir, paths, args.targets, args.device)
        (workdir / "wall_seconds").write_text(f"{wall:.1f}\n")
    text = report(args.study, workdir, wall)
    (workdir / "rehearsal.md").write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main()
