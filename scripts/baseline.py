"""Snakemake adapter: a classical baseline's results/{approach}/samples.h5 (sparsefield.baselines)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.baselines import run_baseline

entry = snakemake.params.approach
run_baseline(
    snakemake.input.data,
    snakemake.input.masks,
    snakemake.output[0],
    method=entry["kind"],
    approach=snakemake.wildcards.approach,
    dataset=entry["dataset"],
    scheme=entry["scheme"],
    n_images=snakemake.params.n_images,
    workers=snakemake.threads,
    **entry["params"],
)
