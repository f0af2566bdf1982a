"""Snakemake adapter: one raw capture -> results/tiles/{rawset}/{capture}.pt + .json (sparsefield.stages.demosaic)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.stages.demosaic import demosaic

demosaic(snakemake.params.raw, snakemake.output.tiles, snakemake.output.meta, layout=snakemake.params.layout,
         entry=snakemake.params.entry)
