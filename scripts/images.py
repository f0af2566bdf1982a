"""Snakemake adapter: build results/data/{dataset}.h5 (sparsefield.data.images)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.data.images import build_images

build_images(snakemake.output[0], **snakemake.params.dataset)
