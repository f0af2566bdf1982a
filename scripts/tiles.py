"""Snakemake adapter: merge a raw set's capture tile lists into results/tiles/{rawset}/metadata.json."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.data.raw import write_metadata

write_metadata(snakemake.input.meta, snakemake.output[0], rawset=snakemake.wildcards.rawset)
