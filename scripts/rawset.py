"""Snakemake adapter: a builtin raw set's DNG captures and list files (sparsefield.stages.rawset)."""

import sys

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from pathlib import Path

from sparsefield.stages.rawset import rawset

rawset(Path(snakemake.output.captures).parent, snakemake.params.entry)
