"""The rehearsal's measurements and the paper run they predict.

A rehearsal run leaves one Snakemake `benchmark:` file per job (results/benchmarks/{rule}/{job}.tsv: wall
seconds, peak RSS, MB written, CPU seconds). `jobs` reads them; `unit_costs` adds what each learned job did
(training samples/s from its train_log.csv, sampling seconds per item and NFE from its samples.h5); `predict`
scales each job to the paper's data:

    data jobs     seconds and MB written scale with the items a job handles (images, captures, scenes, test
                  items), from a start-up measured as the rule's fastest job: t = t0 + (t - t0) · paper / rehearsal;
                  peak memory does not scale (every job's memory follows its chunk: the point of the rehearsal)
    learned jobs  training: the paper's samples (epochs · N, kimg · 1000, steps · batch) / samples per second;
                  sampling: items · K · NFE · seconds per (item, sample, NFE). On a GPU: samples/s measured by
                  benchmarks/device.py (recorded in benchmarks/device_results.json with the GPU's name), else
                  "not measured on a GPU"; on this CPU: this rehearsal's rates, for scale only

Counts of the real data sets are `REAL`: CIFAR-10's 50 000 / 10 000 images; SID Sony's 231 long and 2697 short
exposures (Chen et al. 2018), 161 / 20 / 50 train / val / test scenes, ~600 test pairs, 176 tiles of 256 px
a capture (4256 x 2848 at stride 256); the user's leaf stacks: per 1000 tiles of 128 px.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

REAL = {
    "cifar10": {"train_images": 50000, "test_images": 10000},
    "sid": {"captures": 231 + 2697, "train_scenes": 161, "test_pairs": 598, "tiles_per_capture": 176},
    "leaves": {"tiles": 1000},
}
COLUMNS = {"s": "seconds", "max_rss": "peak_rss_mb", "cpu_time": "cpu_seconds"}
OUTPUTS = {  # rule -> what a job writes, from its benchmark file's name under the rule (workflow/rules/*.smk)
    "rawset": ["raw/{job}"],
    "images": ["data/{job}.h5"],
    "masks": ["masks/{job}.h5"],
    "estimate": ["estimates/{job}.h5"],
    "demosaic": ["tiles/{job}.pt", "tiles/{job}.json"],
    "tiles": ["tiles/{job}/metadata.json"],
    "calibrate": ["tiles/{job}/noise.json"],
    "prior": ["priors/{job}"],
    "train": ["{job}/model.pt", "{job}/train_log.csv"],
    "reconstruct": ["{job}/samples.h5"],
    "sweep": ["{job}/nfe_sweep.csv"],
    "evaluate": ["{job}/metrics.csv"],
    "compare": ["comparison.csv", "comparison.md", "nfe_sweep.csv", "figures"],
}


def size_mb(path: Path) -> float:
    """MB of a file, or of every file under a folder (0 when absent)."""
    files = [path] if path.is_file() else list(path.rglob("*")) if path.is_dir() else []
    return sum(f.stat().st_size for f in files if f.is_file()) / 2**20


def jobs(results: str | Path) -> pd.DataFrame:
    """One row per job of a run: rule, job (the benchmark file's path under the rule), seconds, peak_rss_mb,
    cpu_seconds, written_mb (the size of its outputs)."""
    results, rows = Path(results), []
    for path in sorted(Path(results, "benchmarks").rglob("*.tsv")):
        parts = path.relative_to(results / "benchmarks").with_suffix("").parts
        rule, job = parts[0], "/".join(parts[1:]) or "-"  # compare: results/benchmarks/compare.tsv
        table = pd.read_csv(path, sep="\t").rename(columns=COLUMNS)
        written = sum(size_mb(results / pattern.format(job=job)) for pattern in OUTPUTS.get(rule, []))
        rows.append({"rule": rule, "job": job, **table.iloc[-1][list(COLUMNS.values())].to_dict(),
                     "written_mb": written})
    return pd.DataFrame(rows, columns=["rule", "job", *COLUMNS.values(), "written_mb"])


def scaled(seconds: pd.Series, factor: pd.Series) -> pd.Series:
    """Seconds of jobs scaled by `factor` beyond their rule's start-up (its fastest job): t0 + (t − t0) · factor."""
    start = seconds.groupby(level=0).transform("min") if seconds.index.nlevels > 1 else seconds.min()
    return start + (seconds - start).clip(lower=0) * factor


def hours(seconds: float) -> str:
    return "-" if seconds is None or not math.isfinite(seconds) else f"{seconds / 3600:.3g} h"


def markdown(table: pd.DataFrame, floatfmt: str = ".3g") -> str:
    """A table as Markdown (pipes), numbers to 3 significant digits."""
    head = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(table[c]) else "---" for c in table.columns) + "|"
    body = ["| " + " | ".join(format(v, floatfmt) if isinstance(v, float) else str(v) for v in row) + " |"
            for row in table.itertuples(index=False)]
    return "\n".join([head, rule, *body])
