"""Snakemake adapter: a raw set's noise calibration results/tiles/{rawset}/noise.json (sparsefield.data.calibration)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.data.calibration import write_calibration

write_calibration(
    snakemake.input.metadata,
    snakemake.output[0],
    root=snakemake.params.layout["root"],
    camera=snakemake.params.layout["camera"],
)
