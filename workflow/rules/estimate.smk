# A classical estimate of every image of a dataset on a scheme, computed once for the learned
# approaches that model the residual around it (an approach's `estimate:`).
rule estimate:
    input:
        data="results/data/{dataset}.h5",
        masks="results/masks/{dataset}/{scheme}.h5",
    output:
        "results/estimates/{dataset}/{scheme}/{method}.h5",
    wildcard_constraints:
        method=one_of(ESTIMATES),
    params:
        code=code("sparsefield.stages.estimate"),
    threads: THREADS["estimate"]
    log:
        "results/logs/estimate/{dataset}/{scheme}/{method}.log",
    benchmark:
        "results/benchmarks/estimate/{dataset}/{scheme}/{method}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/estimate.py"
