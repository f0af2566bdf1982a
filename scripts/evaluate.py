"""Snakemake adapter: score results/{approach}/samples.h5 into metrics.csv (sparsefield.stages.evaluate)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.stages.evaluate import evaluate

evaluate(snakemake.input, snakemake.input.samples, snakemake.output[0], kind=snakemake.params.kind)
