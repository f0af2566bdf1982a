#!/usr/bin/env bash
# The one prepared run for a lent GPU machine (the device tool runs it in the repository's root):
#   1. benchmarks/device.py: each learned family at the paper's sizes for ~60 s through the training loop and its
#      DataLoader; writes benchmarks/device_results.json with the GPU's name (the rehearsal prices GPU-hours from it)
#   2. the SID rehearsal's learned jobs on the GPU at the paper's batch (the prior: 2 updates of 256 crops of 256 px,
#      32 a pass; its DPS / DiffPIR / denoise posterior jobs), on SID-layout data written there
# Everything it measures lands in $OUT (the device tool brings it back).
set -euo pipefail
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.csv"
timeout 330 python benchmarks/device.py --seconds 60 --device cuda --record "$OUT/device_results.json" \
    2>&1 | tee "$OUT/device.log"
timeout 400 python benchmarks/paper_rehearsal.py sid --device cuda --workdir /tmp/rehearsal-sid \
    --targets results/priors/raw_sid/model.pt results/edm_lowlight_dps/metrics.csv \
    results/edm_lowlight_diffpir/metrics.csv results/edm_lowlight_denoise/metrics.csv 2>&1 | tee "$OUT/rehearsal.log"
cp /tmp/rehearsal-sid/rehearsal.md "$OUT/"
