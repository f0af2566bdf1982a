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


rule compare:
    input:
        metrics=all_approaches("results/{approach}/metrics.csv", ON_IMAGES),
        samples=all_approaches("results/{approach}/samples.h5", ON_IMAGES),
        data=[reads_files(name)["data"] for name in ON_IMAGES],
        masks=[reads_files(name)["masks"] for name in ON_IMAGES],
        train_logs=all_approaches("results/{approach}/train_log.csv", LEARNED),
        sweeps=all_approaches("results/{approach}/nfe_sweep.csv", SWEPT),
        lowlight=all_approaches("results/{approach}/metrics.csv", ON_TILES),
        lowlight_samples=all_approaches("results/{approach}/samples.h5", ON_TILES),
        lowlight_tiles=[reads_files(name)["metadata"] for name in ON_TILES],
        prior_logs=expand("results/priors/{prior}/train_log.csv", prior=PRIORS),
        prior_samples=expand("results/priors/{prior}/samples.npz", prior=PRIORS),
        spectral=all_approaches("results/{approach}/metrics.csv", ON_SPECTRAL),
        spectral_samples=all_approaches("results/{approach}/samples.h5", ON_SPECTRAL),
        spectral_data=[reads_files(name)["data"] for name in ON_SPECTRAL],
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
        images=config["figures"]["images"],
        sparsity=SPARSITY,
        code=code("sparsefield.stages.compare"),
    log:
        "results/logs/compare.log",
    benchmark:
        "results/benchmarks/compare.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/compare.py"
