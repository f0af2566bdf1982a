# Config validation, code fingerprints and input functions shared by every stage.
import re
import sys
from pathlib import Path

# The package is imported from this checkout's src/ (here and in every script), so
# the workflow runs the code it fingerprints, installed or not, in any conda env.
SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))

from sparsefield.config import validate_config
from sparsefield.fingerprint import source_fingerprint
from sparsefield.registry import approaches_in_stage

validate_config(config, Path(workflow.current_basedir) / "../schemas/config.schema.yaml")

APPROACHES = config["approaches"]
BASELINES = approaches_in_stage(APPROACHES, "baseline")
LEARNED = approaches_in_stage(APPROACHES, "train")


wildcard_constraints:
    dataset=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    scheme=r"[A-Za-z0-9][A-Za-z0-9_.-]*",


def code(*modules):
    """Fingerprint of the package modules a rule runs (reruns the rule on a code edit)."""
    return source_fingerprint(SRC / "sparsefield", *modules)


def one_of(names):
    """Regex matching exactly the given names (for wildcard_constraints)."""
    return "|".join(map(re.escape, names)) if names else "(?!)"


def data_file(dataset):
    return f"results/data/{dataset}.h5"


def masks_file(dataset, scheme):
    return f"results/masks/{dataset}/{scheme}.h5"


def approach_files(name):
    """Images and fixed masks the approach `name` is trained and scored on."""
    entry = APPROACHES[name]
    return {"data": data_file(entry["dataset"]), "masks": masks_file(entry["dataset"], entry["scheme"])}


def approach_data(wildcards):
    return approach_files(wildcards.approach)


def approach_entry(wildcards):
    return APPROACHES[wildcards.approach]


def dataset_entry(wildcards):
    return config["datasets"][wildcards.dataset]


def scheme_entry(wildcards):
    return config["schemes"][wildcards.scheme]


def all_approaches(pattern):
    """`pattern` (e.g. results/{approach}/metrics.csv) for every configured approach."""
    return [pattern.format(approach=name) for name in sorted(APPROACHES)]


def all_approach_data(kind):
    """Each approach's data or masks file, aligned with all_approaches()."""
    return [approach_files(name)[kind] for name in sorted(APPROACHES)]
