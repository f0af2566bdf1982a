# Unconditional priors (`priors:`): each trained once, shared by every posterior approach that names it.
rule prior:
    input:
        unpack(prior_inputs),
    output:
        model="results/priors/{prior}/model.pt",
        log=report(
            "results/priors/{prior}/train_log.csv",
            caption="../report/train_log.rst",
            category="Training",
            subcategory="{prior}",
        ),
        samples="results/priors/{prior}/samples.npz",
    wildcard_constraints:
        prior=one_of(PRIORS),
    params:
        settings=prior_settings,
        source=prior_source,
        device=config["device"],
        code=code("sparsefield.stages.prior", "sparsefield.methods.edm_prior"),
    threads: THREADS["train"]
    resources:
        gpu=GPU,
    log:
        "results/logs/prior/{prior}.log",
    benchmark:
        "results/benchmarks/prior/{prior}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/prior.py"
