"""Snakemake adapter: score a low-light approach against the long exposures -> metrics.csv (sparsefield.lowlight)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.lowlight import evaluate_lowlight

evaluate_lowlight(snakemake.input.metadata, snakemake.input.samples, snakemake.output[0])
