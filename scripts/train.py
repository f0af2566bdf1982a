"""Snakemake adapter: train a learned approach (sparsefield.stages.train)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

import torch

from sparsefield.stages.train import train

torch.set_num_threads(snakemake.threads)
train(
    snakemake.input,
    str(Path(snakemake.output.model).parent),
    approach=snakemake.wildcards.approach,
    kind=snakemake.params.kind,
    settings=snakemake.params.settings,
    device=snakemake.params.device,
    code=snakemake.params.code,
)
