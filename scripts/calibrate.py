"""Snakemake adapter: a raw set's noise calibration results/tiles/{rawset}/noise.json (sparsefield.stages.calibrate)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.stages.calibrate import calibrate

calibrate(snakemake.input.metadata, snakemake.output[0], layout=snakemake.params.layout)
