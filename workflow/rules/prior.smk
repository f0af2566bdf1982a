# A classical estimate of every image of a dataset on a scheme, computed once for the learned
# approaches that model the residual around it (an approach's `prior:`).
rule prior:
    input:
        data="results/data/{dataset}.h5",
        masks="results/masks/{dataset}/{scheme}.h5",
    output:
        "results/priors/{dataset}/{scheme}/{method}.h5",
    wildcard_constraints:
        method=one_of(PRIORS),
    params:
        code=code("sparsefield.stages.prior"),
    threads: THREADS["prior"]
    log:
        "results/logs/prior/{dataset}/{scheme}/{method}.log",
    benchmark:
        "results/benchmarks/prior/{dataset}/{scheme}/{method}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/prior.py"
