"""Snakemake adapter: results/estimates/{dataset}/{scheme}/{method}.h5 (sparsefield.stages.estimate)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.stages.estimate import build_estimate

build_estimate(
    snakemake.input.data,
    snakemake.input.masks,
    snakemake.output[0],
    method=snakemake.wildcards.method,
    threads=snakemake.threads,
)
