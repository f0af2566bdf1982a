# Config validation, code fingerprints and input functions shared by every stage.
import re
import sys
from pathlib import Path

# The package is imported from this checkout's src/ (here and in every script), so
# the workflow runs the code it fingerprints, installed or not, in any conda env.
SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))

from sparsefield.config import validate_config
from sparsefield.data.sid import SPLITS as SID_SPLITS, captures, read_lists
from sparsefield.data.synth_raw import CAMERA as BUILTIN_CAMERA, builtin_pairs
from sparsefield.fingerprint import source_fingerprint
from sparsefield.registry import approaches_in_stage

validate_config(config, Path(workflow.current_basedir) / "../schemas/config.schema.yaml")

APPROACHES = config["approaches"]
BASELINES = approaches_in_stage(APPROACHES, "baseline")
LEARNED = approaches_in_stage(APPROACHES, "train")
LOWLIGHT = approaches_in_stage(APPROACHES, "lowlight")  # scored on a raw set, not on masks
MASKED = [name for name in sorted(APPROACHES) if name not in LOWLIGHT]
RAWSETS = config["rawsets"]
BUILTIN_RAWSETS = sorted(name for name, entry in RAWSETS.items() if entry["kind"] == "builtin")


wildcard_constraints:
    dataset=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    scheme=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    capture=r"\d+_\d+_\d+(?:\.\d+)?s",  # SID's file stems: {scene}_{shot}_{exposure}s


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
    """`pattern` (e.g. results/{approach}/metrics.csv) for every approach scored on masks."""
    return [pattern.format(approach=name) for name in MASKED]


def all_approach_data(kind):
    """Each approach's data or masks file, aligned with all_approaches()."""
    return [approach_files(name)[kind] for name in MASKED]


# --- raw sets ----------------------------------------------------------------------------------


def rawset_root(name):
    """Folder holding the raw set's {camera}/ captures and {camera}_{split}_list.txt files."""
    return f"results/raw/{name}" if RAWSETS[name]["kind"] == "builtin" else RAWSETS[name]["root"]


def rawset_camera(name):
    return BUILTIN_CAMERA if RAWSETS[name]["kind"] == "builtin" else RAWSETS[name]["camera"]


_CAPTURES = {}


def rawset_captures(name):
    """{capture: sid.Capture} of a raw set: a builtin set's follow from config, SID's from its lists."""
    if name not in _CAPTURES:
        entry = RAWSETS[name]
        if entry["kind"] == "builtin":  # validate_config filled in the writer's defaults
            counts = {key: entry[key] for key in ("n_train", "n_val", "n_test")}
            pairs = builtin_pairs(**counts, ratios=entry["ratios"])
        else:
            pairs = read_lists(entry["root"], entry["camera"])  # one line naming a missing root
        _CAPTURES[name] = captures(pairs)
    return _CAPTURES[name]


def rawset_entry(wildcards):
    return RAWSETS[wildcards.rawset]


def rawset_layout(wildcards):
    return {"root": rawset_root(wildcards.rawset), "camera": rawset_camera(wildcards.rawset)}


def rawset_lists(name):
    root, camera = rawset_root(name), rawset_camera(name)
    lists = [f"{root}/{camera}_{split}_list.txt" for split in SID_SPLITS]
    return lists if RAWSETS[name]["kind"] == "builtin" else [path for path in lists if Path(path).exists()]


def capture_file(wildcards):
    """The raw file of capture {capture} of raw set {rawset}."""
    known = rawset_captures(wildcards.rawset)
    if wildcards.capture not in known:
        raise ValueError(f"raw set {wildcards.rawset} has no capture {wildcards.capture}")
    return f"{rawset_root(wildcards.rawset)}/{known[wildcards.capture].path}"


def capture_inputs(wildcards):
    """The capture's raw file (a builtin set's: the folder its writer makes) and the list files."""
    name = wildcards.rawset
    builtin = RAWSETS[name]["kind"] == "builtin"
    raw = f"{rawset_root(name)}/{rawset_camera(name)}" if builtin else capture_file(wildcards)
    return {"raw": raw, "lists": rawset_lists(name)}


def rawset_tiles(wildcards):
    """Every capture's tiles (.pt) and tile list (.json) of raw set {rawset}."""
    stems = [f"results/tiles/{wildcards.rawset}/{capture}" for capture in rawset_captures(wildcards.rawset)]
    return {"tiles": [f"{stem}.pt" for stem in stems], "meta": [f"{stem}.json" for stem in stems]}


def lowlight_metadata(wildcards):
    return f"results/tiles/{APPROACHES[wildcards.approach]['rawset']}/metadata.json"
