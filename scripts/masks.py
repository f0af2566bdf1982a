"""Snakemake adapter: results/masks/{dataset}/{scheme}.h5 (sparsefield.stages.masks)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.stages.masks import masks

masks(snakemake.input[0], snakemake.output[0], scheme=snakemake.wildcards.scheme, entry=snakemake.params.scheme)
