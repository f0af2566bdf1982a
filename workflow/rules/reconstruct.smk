# Every approach's reconstruction of its test split (classical, low-light and learned alike),
# and the NFE sweep of the sampled ones.
rule reconstruct:
    input:
        unpack(reconstruct_inputs),
    output:
        "results/{approach}/samples.h5",
    wildcard_constraints:
        approach=one_of(APPROACHES),
    params:
        settings=approach_settings,
        kind=kind_of,
        names=approach_names,
        n_images=evaluated_items,
        device=config["device"],
        code=reconstruct_code,
    threads: THREADS["reconstruct"]
    resources:
        gpu=approach_gpu,
    log:
        "results/logs/reconstruct/{approach}.log",
    benchmark:
        "results/benchmarks/reconstruct/{approach}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/reconstruct.py"


rule sweep:
    input:
        unpack(reconstruct_inputs),
    output:
        "results/{approach}/nfe_sweep.csv",
    wildcard_constraints:
        approach=one_of(SWEPT),
    params:
        settings=approach_settings,
        kind=kind_of,
        device=config["device"],
        code=sweep_code,
    threads: THREADS["sweep"]
    resources:
        gpu=approach_gpu,
    log:
        "results/logs/sweep/{approach}.log",
    benchmark:
        "results/benchmarks/sweep/{approach}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/sweep.py"
