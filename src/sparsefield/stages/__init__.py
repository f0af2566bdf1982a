"""The stages the Snakemake scripts call: train, reconstruct, sweep, evaluate, compare.

Each reads its input files, dispatches on the approach's kind through the registry, and writes
its outputs atomically; the families' wiring (`sparsefield.methods`) and math never touch a file.
"""
