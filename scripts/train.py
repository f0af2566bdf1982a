"""Snakemake adapter: train a learned approach (sparsefield.approach.training_stage)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

import torch

from sparsefield.approach import training_stage

torch.set_num_threads(snakemake.threads)
entry, params = snakemake.params.entry, snakemake.params.entry["params"]
training_stage(
    snakemake.input.data,
    snakemake.input.masks,
    snakemake.params.out_dir,
    kind=entry["kind"],
    objective=params["objective"],
    model=params["model"],
    train_params=params["train"],
    evaluation=params["evaluation"],
    seed=params["seed"],
    device=snakemake.params.device,
    code=snakemake.params.code,
)
