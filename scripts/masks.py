"""Snakemake adapter: build results/masks/{dataset}/{scheme}.h5 (sparsefield.data.masks)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.data.masks import build_masks

build_masks(
    snakemake.input[0],
    snakemake.output[0],
    scheme=snakemake.wildcards.scheme,
    **snakemake.params.scheme,
)
