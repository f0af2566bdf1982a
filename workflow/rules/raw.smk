# Raw captures -> demosaiced tiles (one job per capture) -> the low-light baselines scored on them.
rule rawset:
    output:
        lists=expand("results/raw/{{rawset}}/{camera}_{split}_list.txt", camera=BUILTIN_CAMERA, split=SID_SPLITS),
        captures=directory(f"results/raw/{{rawset}}/{BUILTIN_CAMERA}"),
    wildcard_constraints:
        rawset=one_of(BUILTIN_RAWSETS),
    params:
        entry=rawset_entry,
        code=code("sparsefield.data.synth_raw"),
    log:
        "results/logs/rawset/{rawset}.log",
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/rawset.py"


rule demosaic:
    input:
        unpack(capture_inputs),
    output:
        tiles="results/tiles/{rawset}/{capture}.pt",
        meta="results/tiles/{rawset}/{capture}.json",
    wildcard_constraints:
        rawset=one_of(RAWSETS),
    params:
        raw=capture_file,
        layout=rawset_layout,
        entry=rawset_entry,
        code=code("sparsefield.data.raw"),
    log:
        "results/logs/demosaic/{rawset}/{capture}.log",
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/demosaic.py"


rule tiles:
    input:
        unpack(rawset_tiles),
    output:
        "results/tiles/{rawset}/metadata.json",
    wildcard_constraints:
        rawset=one_of(RAWSETS),
    params:
        code=code("sparsefield.data.raw"),
    log:
        "results/logs/tiles/{rawset}.log",
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/tiles.py"


rule lowlight:
    input:
        metadata=lowlight_metadata,
    output:
        "results/{approach}/samples.h5",
    wildcard_constraints:
        approach=one_of(LOWLIGHT),
    params:
        entry=approach_entry,
        code=code("sparsefield.lowlight"),
    log:
        "results/logs/lowlight/{approach}.log",
    benchmark:
        "results/benchmarks/lowlight/{approach}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/lowlight.py"


rule evaluate_lowlight:
    input:
        metadata=lowlight_metadata,
        samples="results/{approach}/samples.h5",
    output:
        "results/{approach}/metrics.csv",
    wildcard_constraints:
        approach=one_of(LOWLIGHT),
    params:
        code=code("sparsefield.lowlight"),
    log:
        "results/logs/evaluate_lowlight/{approach}.log",
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/evaluate_lowlight.py"
