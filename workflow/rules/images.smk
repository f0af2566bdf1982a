rule images:
    output:
        "results/data/{dataset}.h5",
    params:
        dataset=dataset_entry,
        code=code("sparsefield.data.images"),
    log:
        "results/logs/images/{dataset}.log",
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/images.py"
