"""Snakemake adapter: a low-light approach's results/{approach}/samples.h5 (sparsefield.lowlight)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.lowlight import lowlight_stage

entry = snakemake.params.entry
lowlight_stage(
    snakemake.input.metadata,
    snakemake.output[0],
    approach=snakemake.wildcards.approach,
    kind=entry["kind"],
    rawset=entry["rawset"],
    **entry["params"],
)
