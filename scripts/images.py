"""Snakemake adapter: results/data/{dataset}.h5 (sparsefield.stages.images)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.stages.images import build_dataset

build_dataset(snakemake.output[0], snakemake.params.dataset, writer=snakemake.params.writer)
