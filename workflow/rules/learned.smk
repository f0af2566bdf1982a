# Learned approaches: train a model on the training split, then sample the test split.
rule train:
    input:
        unpack(approach_data),
    output:
        model="results/{approach}/model.pt",
        log=report(
            "results/{approach}/train_log.csv",
            caption="../report/train_log.rst",
            category="Training",
            subcategory="{approach}",
        ),
    wildcard_constraints:
        approach=one_of(LEARNED),
    params:
        entry=approach_entry,
        out_dir="results/{approach}",
        device=config["device"],
        code=code("sparsefield.approach"),
    threads: workflow.cores
    resources:
        gpu=1,
    log:
        "results/logs/train/{approach}.log",
    benchmark:
        "results/benchmarks/train/{approach}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/train.py"


rule sample:
    input:
        unpack(approach_data),
        model="results/{approach}/model.pt",
        train_log="results/{approach}/train_log.csv",
    output:
        samples="results/{approach}/samples.h5",
        sweep="results/{approach}/nfe_sweep.csv",
    wildcard_constraints:
        approach=one_of(LEARNED),
    params:
        entry=approach_entry,
        n_images=config["evaluation"]["n_images"],
        device=config["device"],
        code=code("sparsefield.sample"),
    threads: workflow.cores
    resources:
        gpu=1,
    log:
        "results/logs/sample/{approach}.log",
    benchmark:
        "results/benchmarks/sample/{approach}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/sample.py"
