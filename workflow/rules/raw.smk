# Raw captures -> demosaiced tiles (one job per capture; the SLURM profile groups them into few jobs).
rule rawset:
    output:
        lists=expand("results/raw/{{rawset}}/{camera}_{split}_list.txt", camera=BUILTIN_CAMERA, split=SID_SPLITS),
        captures=directory(f"results/raw/{{rawset}}/{BUILTIN_CAMERA}"),
    wildcard_constraints:
        rawset=one_of(BUILTIN_RAWSETS),
    params:
        entry=rawset_entry,
        code=code("sparsefield.stages.rawset"),
    log:
        "results/logs/rawset/{rawset}.log",
    benchmark:
        "results/benchmarks/rawset/{rawset}.tsv"
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
        code=code("sparsefield.stages.demosaic"),
    log:
        "results/logs/demosaic/{rawset}/{capture}.log",
    benchmark:
        "results/benchmarks/demosaic/{rawset}/{capture}.tsv"
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
        code=code("sparsefield.stages.tiles"),
    log:
        "results/logs/tiles/{rawset}.log",
    benchmark:
        "results/benchmarks/tiles/{rawset}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/tiles.py"


# The raw set's noise calibration from its train pairs (variance against mean per channel, per ISO),
# with the raw-domain fit beside the levels the files declare (a builtin set's NoiseProfile).
rule calibrate:
    input:
        unpack(rawset_calibration_inputs),
    output:
        "results/tiles/{rawset}/noise.json",
    wildcard_constraints:
        rawset=one_of(RAWSETS),
    params:
        layout=rawset_layout,
        code=code("sparsefield.stages.calibrate"),
    log:
        "results/logs/calibrate/{rawset}.log",
    benchmark:
        "results/benchmarks/calibrate/{rawset}.tsv"
    conda:
        "../../envs/sparsefield.yaml"
    script:
        "../../scripts/calibrate.py"
