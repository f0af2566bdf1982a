# Score every approach on its fixed masks, then compare them all.
rule evaluate:
    input:
        unpack(approach_data),
        samples="results/{approach}/samples.h5",
    output:
        "results/{approach}/metrics.csv",
    wildcard_constraints:
        approach=one_of(MASKED),
    params:
        code=code("sparsefield.evaluate"),
    log:
        "results/logs/evaluate/{approach}.log",
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/evaluate.py"


rule compare:
    input:
        metrics=all_approaches("results/{approach}/metrics.csv"),
        samples=all_approaches("results/{approach}/samples.h5"),
        data=all_approach_data("data"),
        masks=all_approach_data("masks"),
        train_logs=expand("results/{approach}/train_log.csv", approach=LEARNED),
        sweeps=expand("results/{approach}/nfe_sweep.csv", approach=LEARNED),
        lowlight=expand("results/{approach}/metrics.csv", approach=LOWLIGHT),
        lowlight_samples=expand("results/{approach}/samples.h5", approach=LOWLIGHT),
        lowlight_tiles=[f"results/tiles/{APPROACHES[name]['rawset']}/metadata.json" for name in LOWLIGHT],
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
        code=code("sparsefield.report"),
    log:
        "results/logs/compare.log",
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/compare.py"
