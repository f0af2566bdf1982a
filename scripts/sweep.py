"""Snakemake adapter: a sampled approach's results/{approach}/nfe_sweep.csv (sparsefield.stages.sweep)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

import torch

from sparsefield.stages.sweep import sweep

torch.set_num_threads(snakemake.threads)
sweep(
    snakemake.input,
    snakemake.output[0],
    approach=snakemake.wildcards.approach,
    kind=snakemake.params.kind,
    settings=snakemake.params.settings,
    device=snakemake.params.device,
)
