# Classical interpolation / inpainting: approaches with no train step.
rule baseline:
    input:
        unpack(approach_data),
    output:
        "results/{approach}/samples.h5",
    wildcard_constraints:
        approach=one_of(BASELINES),
    params:
        approach=approach_entry,
        n_images=config["evaluation"]["n_images"],
        code=code("sparsefield.baselines"),
    threads: 2
    log:
        "results/logs/baseline/{approach}.log",
    benchmark:
        "results/benchmarks/baseline/{approach}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/baseline.py"
