"""Snakemake adapter: write a builtin raw set's DNG captures and list files (sparsefield.data.synth_raw)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # the checkout's package: the code common.smk fingerprints

from sparsefield.data.synth_raw import build_builtin

demosaic_keys = ("kind", "tile_size", "stride", "algorithm")  # read by the demosaic rule
params = {key: value for key, value in snakemake.params.entry.items() if key not in demosaic_keys}
build_builtin(Path(snakemake.output.captures).parent, **params)
