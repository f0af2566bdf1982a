rule masks:
    input:
        "results/data/{dataset}.h5",
    output:
        "results/masks/{dataset}/{scheme}.h5",
    params:
        scheme=scheme_entry,
        code=code("sparsefield.stages.masks"),
    log:
        "results/logs/masks/{dataset}/{scheme}.log",
    benchmark:
        "results/benchmarks/masks/{dataset}/{scheme}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/masks.py"
