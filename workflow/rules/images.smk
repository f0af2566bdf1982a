rule images:
    output:
        "results/data/{dataset}.h5",
    params:
        dataset=dataset_entry,
        writer=dataset_writer,
        code=dataset_code,
    log:
        "results/logs/images/{dataset}.log",
    benchmark:
        "results/benchmarks/images/{dataset}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/images.py"
