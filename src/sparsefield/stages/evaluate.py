"""The evaluate stage: an approach's samples.h5, scored by its kind's scorer -> results/{approach}/metrics.csv."""

from __future__ import annotations

from sparsefield.io import atomic_path
from sparsefield.registry import KINDS, load
from sparsefield.samples import read_samples
from sparsefield.scoring import COLUMNS
from sparsefield.stages.data import read_split


def evaluate(inputs, samples_path, out_path, *, kind: str) -> None:
    """Score `samples_path` against the test split the approach reads; write the long metrics.csv."""
    row = KINDS[kind]
    samples = read_samples(samples_path)
    try:
        table = load(row.scorer).score(samples, read_split(row.reads, inputs, "test"))
    except ValueError as err:
        raise ValueError(f"{samples_path}: {err}") from None
    for key in ("scheme", "dataset", "approach"):
        if key not in table:
            table.insert(0, key, samples.attrs[key])
    with atomic_path(out_path) as tmp:
        table[COLUMNS].to_csv(tmp, index=False, float_format="%.6g")
