# Score every approach with its kind's scorer, then compare them all.
rule evaluate:
    input:
        unpack(approach_inputs),
        samples="results/{approach}/samples.h5",
    output:
        "results/{approach}/metrics.csv",
    wildcard_constraints:
        approach=one_of(APPROACHES),
    params:
        kind=kind_of,
        code=evaluate_code,
    log:
        "results/logs/evaluate/{approach}.log",
    benchmark:
        "results/benchmarks/evaluate/{approach}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/evaluate.py"


RUNS = compare_runs()  # {reads: {approach: its outputs and inputs}}: what the compare job reports


rule compare:
    input:
        metrics=all_approaches("results/{approach}/metrics.csv", APPROACHES),
        samples=all_approaches("results/{approach}/samples.h5", APPROACHES),
        read=sorted({path for name in APPROACHES for path in reads_files(name).values()}),
        train_logs=all_approaches("results/{approach}/train_log.csv", LEARNED),
        sweeps=all_approaches("results/{approach}/nfe_sweep.csv", SWEPT),
        prior_logs=expand("results/priors/{prior}/train_log.csv", prior=PRIORS),
        prior_samples=expand("results/priors/{prior}/samples.npz", prior=PRIORS),
    output:
        csv=report(
            "results/comparison.csv",
            caption="../report/comparison.rst",
            category="Comparison",
        ),
        md="results/comparison.md",
        sweep=report("results/nfe_sweep.csv", caption="../report/nfe_sweep.rst", category="Comparison"),
        figures=report(
            directory("results/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    params:
        runs=RUNS,
        images=config["figures"]["images"],
        sparsity=SPARSITY,
        n_images=config["evaluation"]["n_images"],
        code=compare_code(),
    log:
        "results/logs/compare.log",
    benchmark:
        "results/benchmarks/compare.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/compare.py"
