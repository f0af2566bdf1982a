"""Snakemake adapter: sample a trained approach on the test split (sparsefield.sample.sampling_stage)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

import torch

from sparsefield.sample import sampling_stage

torch.set_num_threads(snakemake.threads)
entry, params = snakemake.params.entry, snakemake.params.entry["params"]
sampling_stage(
    snakemake.input.model,
    snakemake.input.data,
    snakemake.input.masks,
    snakemake.output.samples,
    snakemake.output.sweep,
    train_log=snakemake.input.train_log,
    approach=snakemake.wildcards.approach,
    kind=entry["kind"],
    dataset=entry["dataset"],
    scheme=entry["scheme"],
    objective=params["objective"],
    n_images=snakemake.params.n_images,
    seed=params["seed"],
    device=snakemake.params.device,
    **params["sample"],
)
