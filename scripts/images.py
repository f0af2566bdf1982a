"""Snakemake adapter: build results/data/{dataset}.h5 (sparsefield.data.images, or data.spectral for
a multispectral source)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.config import SPECTRAL_SOURCES

if snakemake.params.dataset["source"] in SPECTRAL_SOURCES:
    from sparsefield.data.spectral import build_spectral as build
else:
    from sparsefield.data.images import build_images as build

build(snakemake.output[0], **snakemake.params.dataset)
