"""Snakemake adapter: results/comparison.csv, comparison.md, nfe_sweep.csv and figures/ (sparsefield.stages.compare)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.stages.compare import compare

compare(
    snakemake.params.runs,
    snakemake.output.csv,
    snakemake.output.md,
    snakemake.output.figures,
    train_logs=snakemake.input.train_logs,
    sweeps=snakemake.input.sweeps,
    out_sweep=snakemake.output.sweep,
    prior_logs=snakemake.input.prior_logs,
    prior_samples=snakemake.input.prior_samples,
    images=snakemake.params.images,
    sparsity=snakemake.params.sparsity,
    n_images=snakemake.params.n_images,  # a test split that held fewer is said so in the report
)
