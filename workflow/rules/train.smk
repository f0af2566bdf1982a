# Learned approaches: train a model on what the approach reads (its training split).
rule train:
    input:
        unpack(approach_inputs),
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
        settings=train_settings,
        kind=kind_of,
        device=config["device"],
        code=train_code,
    threads: THREADS["train"]
    resources:
        gpu=approach_gpu,
    log:
        "results/logs/train/{approach}.log",
    benchmark:
        "results/benchmarks/train/{approach}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/train.py"
