"""Snakemake adapter: one raw capture -> results/tiles/{rawset}/{capture}.pt + .json (sparsefield.data.raw)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.data.raw import demosaic_capture

entry = snakemake.params.entry
demosaic_capture(
    snakemake.params.raw,
    snakemake.output.tiles,
    snakemake.output.meta,
    root=snakemake.params.layout["root"],
    camera=snakemake.params.layout["camera"],
    tile_size=entry["tile_size"],
    stride=entry["stride"],
    algorithm=entry["algorithm"],
)
