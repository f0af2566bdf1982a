"""Snakemake adapter: score results/{approach}/samples.h5 into metrics.csv (sparsefield.evaluate)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.evaluate import evaluate

evaluate(snakemake.input.data, snakemake.input.masks, snakemake.input.samples, snakemake.output[0])
