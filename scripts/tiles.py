"""Snakemake adapter: results/tiles/{rawset}/metadata.json (sparsefield.stages.tiles)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.stages.tiles import tiles

tiles(snakemake.input.meta, snakemake.output[0], rawset=snakemake.wildcards.rawset)
