"""Snakemake adapter: train a prior into results/priors/{prior}/ (sparsefield.stages.prior)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

import torch

from sparsefield.stages.prior import train_prior

torch.set_num_threads(snakemake.threads)
train_prior(
    snakemake.input,
    str(Path(snakemake.output.model).parent),
    prior=snakemake.wildcards.prior,
    source=snakemake.params.source,
    settings=snakemake.params.settings,
    device=snakemake.params.device,
    code=snakemake.params.code,
)
