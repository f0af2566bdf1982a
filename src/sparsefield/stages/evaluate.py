"""The evaluate stage: an approach's samples.h5, scored by its kind's scorer -> results/{approach}/metrics.csv.

The samples are read a chunk of rows at a time (the reader's `CHUNK`) and the truth of each chunk's items
only, so the job's memory follows a chunk, never the test split.
"""

from __future__ import annotations

from sparsefield.io import atomic_path
from sparsefield.registry import KINDS, MODALITIES, load, read_split
from sparsefield.samples import iter_samples, read_attrs
from sparsefield.scoring import COLUMNS


def evaluate(inputs, samples_path, out_path, *, kind: str) -> None:
    """Score `samples_path` against the test split the approach reads; write the long metrics.csv."""
    row = KINDS[kind]
    attrs = read_attrs(samples_path)
    chunks = iter_samples(samples_path, rows=load(MODALITIES[row.reads].reader).CHUNK)
    try:
        table = load(MODALITIES[row.reads].scorer).score(chunks, read_split(row.reads, inputs, "test"))
    except ValueError as err:
        raise ValueError(f"{samples_path}: {err}") from None
    for key in ("scheme", "dataset", "approach"):
        if key not in table:
            table.insert(0, key, attrs[key])
    with atomic_path(out_path) as tmp:
        table[COLUMNS].to_csv(tmp, index=False, float_format="%.6g")
