# sparsefield: reconstruct images from partial observations, every approach on the
# same fixed masks and metrics. Stages live in workflow/rules/, logic in src/sparsefield/.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/masks.smk"
include: "workflow/rules/estimate.smk"
include: "workflow/rules/raw.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/prior.smk"
include: "workflow/rules/reconstruct.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    input:
        "results/comparison.csv",
        "results/comparison.md",
        "results/figures",
        expand("results/tiles/{rawset}/metadata.json", rawset=RAWSETS),
    default_target: True
