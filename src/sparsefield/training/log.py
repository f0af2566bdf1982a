"""train_log.csv, written row by row as training runs, and resumable after a kill.

Columns: step, loss (the optimised masked reduction), loss_query and loss_full (the same reduction
over the query pixels and over every pixel, empty where a family does not predict them), lr,
grad_norm, samples_per_s, seconds; then whatever the learning curve adds (first evaluation: the
file is rewritten once with the new columns, earlier rows empty there).
"""

from __future__ import annotations

import csv
from pathlib import Path

from sparsefield.io import atomic_path

LOG_COLUMNS = ["step", "loss", "loss_query", "loss_full", "lr", "grad_norm", "samples_per_s", "seconds"]


class CsvLog:
    """train_log.csv; keeps the rows up to `keep_through` of an earlier run, grows columns when new keys appear."""

    def __init__(self, path: Path, keep_through: int):
        self.path, self.file = Path(path), None
        header, rows = list(LOG_COLUMNS), []
        if keep_through > 0 and self.path.exists():
            header, rows = self._read()
            rows = [r for r in rows if int(r["step"]) <= keep_through]
        self._rewrite(header, rows)

    def _read(self) -> tuple[list[str], list[dict]]:
        with open(self.path, newline="") as f:
            reader = csv.DictReader(f)
            rows, last = [], 0
            for row in reader:  # skip a line cut short by a kill, and any repeated step
                if None not in row.values() and row["step"].isdigit() and int(row["step"]) > last:
                    rows.append(row)
                    last = int(row["step"])
            return list(reader.fieldnames or LOG_COLUMNS), rows

    def _rewrite(self, header: list[str], rows: list[dict]) -> None:
        if self.file is not None:
            self.file.close()
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, header, restval="")
            writer.writeheader()
            writer.writerows(rows)
        self.header = header
        self.file = open(self.path, "a", newline="")
        self.writer = csv.DictWriter(self.file, header, restval="")

    def write(self, row: dict) -> None:
        new = [key for key in row if key not in self.header]
        if new:
            self.file.flush()
            self._rewrite(self.header + new, self._read()[1])
        self.writer.writerow(row)
        self.file.flush()

    def close(self) -> None:
        self.file.close()
