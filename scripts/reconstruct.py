"""Snakemake adapter: an approach's results/{approach}/samples.h5 (sparsefield.stages.reconstruct)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

import torch

from sparsefield.stages.reconstruct import reconstruct

torch.set_num_threads(snakemake.threads)
reconstruct(
    snakemake.input,
    snakemake.output[0],
    approach=snakemake.wildcards.approach,
    kind=snakemake.params.kind,
    settings=snakemake.params.settings,
    **snakemake.params.names,
    n_images=snakemake.params.n_images,
    device=snakemake.params.device,
    threads=snakemake.threads,
)
