# Config validation, code fingerprints and input functions shared by every stage.
# Rules dispatch on what a kind reads and whether it is learned (sparsefield.registry), never on its family.
import re
import sys
from pathlib import Path

# The package is imported from this checkout's src/ (here and in every script), so the workflow
# runs the code it fingerprints, installed or not, in any conda env.
SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))

from sparsefield.config import (
    ConfigError,
    approach_params,
    check_config_file,
    check_paths,
    has_nvidia_gpu,
    needs_gpu,
    sparsity_groups,
    validate_config,
    writer_of,
)
from sparsefield.data.raw.sid import SPLITS as SID_SPLITS, captures, read_lists
from sparsefield.data.raw.synth import CAMERA as BUILTIN_CAMERA, builtin_pairs
from sparsefield.errors import failed_job_reasons
from sparsefield.fingerprint import kind_fingerprint, source_fingerprint
from sparsefield.params import canonical
from sparsefield.registry import KINDS, MODALITIES, approaches_where, labels
from sparsefield.registry import reads_files as registry_reads_files

for configfile_path in workflow.configfiles:  # Snakemake's loader keeps the last of two equal keys: refuse them
    check_config_file(configfile_path)
validate_config(config, Path(workflow.current_basedir) / "../schemas/config.schema.yaml")
check_paths(config)  # every data path there, before the DAG reads a SID raw set's lists or any job starts

APPROACHES = config["approaches"]
SETTINGS = {name: canonical(params) for name, params in approach_params(config).items()}  # sorted keys
LEARNED = approaches_where(APPROACHES, learned=True)
POSTERIOR = approaches_where(APPROACHES, posterior=True)  # sample around a trained prior (their `prior:`)
SWEPT = [  # their NFE sweep is a rule of its own (unless sweep_nfe is empty)
    name for name in approaches_where(APPROACHES, sampled=True) if (SETTINGS[name].get("sample") or {}).get("sweep_nfe")
]
RAWSETS = config["rawsets"]
PRIORS = config["priors"]  # trained once into results/priors/{prior}/, shared by the approaches naming them
SPARSITY = {label: {str(r): name for r, name in members.items()} for label, members in sparsity_groups(config).items()}
BUILTIN_RAWSETS = sorted(name for name, entry in RAWSETS.items() if entry["kind"] == "builtin")
THREADS = config["threads"]
ESTIMATES = sorted({entry["estimate"] for entry in APPROACHES.values() if "estimate" in entry})  # classical estimates read
GPU = needs_gpu(config["device"], local=workflow.local_exec)  # 0 on a CPU device: CPU trainings run side by side



onstart:
    # A real run (never a dry run) that will start GPU jobs: fail at once where there is no GPU to run them.
    gpu_jobs = [job for job in workflow.dag.needrun_jobs() if job.resources.get("gpu", 0)]
    if gpu_jobs and workflow.local_exec and not has_nvidia_gpu():
        raise ConfigError(
            f"config key device: {config['device']}, but this machine shows no NVIDIA GPU for the {len(gpu_jobs)} "
            f"GPU jobs of this run (the first writes {gpu_jobs[0].output[0]}); set device: cpu (or auto), or run on a GPU machine "
            "or through a cluster profile"
        )
    if gpu_jobs and workflow.local_exec and "gpu" not in workflow.resource_settings.resources:
        logger.warning(
            f"device {config['device']} needs a GPU, and no --resources gpu=N caps the GPU jobs: every learned "
            "job may start at once; run with --resources gpu=N (N: this machine's GPUs, one job on each)"
        )
    if config["device"] == "auto" and not workflow.local_exec and (LEARNED or POSTERIOR or PRIORS):
        logger.warning(
            "device: auto asks no cluster job for a GPU (the submitting machine cannot know the nodes'): the "
            "learned jobs run on a GPU only where one happens to be; set device: cuda to have each ask for one"
        )


onerror:
    # Each failed job's one-line reason (its log's traceback's last line) where the user looks, beside Snakemake's
    # CalledProcessError and the log's path.
    for line in failed_job_reasons(getattr(getattr(workflow, "scheduler", None), "failed", ())):
        logger.error(line)


wildcard_constraints:
    dataset=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    scheme=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    capture=r"\d+_\d+_\d+(?:\.\d+)?s",  # SID's file stems: {scene}_{shot}_{exposure}s


# Cheap rules run on the submitting machine, never as cluster jobs.
localrules:
    all,
    images,
    masks,
    rawset,
    tiles,
    compare,


def code(*modules):
    """Fingerprint of the package modules a rule runs (reruns the rule on a code edit)."""
    return source_fingerprint(SRC / "sparsefield", *modules)


_KIND_CODE = {}


def kind_code(stage, approach, scorer=False):
    """Fingerprint of what `stage` runs for `approach`: the stage and its kind's own modules."""
    key = (stage, APPROACHES[approach]["kind"], scorer)
    if key not in _KIND_CODE:
        _KIND_CODE[key] = kind_fingerprint(SRC / "sparsefield", f"sparsefield.stages.{stage}", key[1], scorer=scorer)
    return _KIND_CODE[key]


def train_code(wildcards):
    return kind_code("train", wildcards.approach)


def reconstruct_code(wildcards):
    return kind_code("reconstruct", wildcards.approach)


def sweep_code(wildcards):
    return kind_code("sweep", wildcards.approach)


def evaluate_code(wildcards):
    return kind_code("evaluate", wildcards.approach, scorer=True)


def one_of(names):
    """Regex matching exactly the given names (for wildcard_constraints)."""
    return "|".join(map(re.escape, names)) if names else "(?!)"


def kind_of(wildcards):
    return APPROACHES[wildcards.approach]["kind"]


def data_file(dataset):
    return f"results/data/{dataset}.h5"


def reads_files(name):
    """The files approach `name` reads, by the names its modality's reader takes (sparsefield.registry)."""
    return registry_reads_files(APPROACHES[name])


def compare_runs():
    """{reads: {approach: its metrics.csv, samples.h5 and the files it read}}: the compare job's approaches."""
    runs = {}
    for name in sorted(APPROACHES):
        files = reads_files(name)
        run = {"metrics": f"results/{name}/metrics.csv", "samples": f"results/{name}/samples.h5", "files": files}
        runs.setdefault(KINDS[APPROACHES[name]["kind"]].reads, {})[name] = run
    return runs


def compare_code():
    """Fingerprint of the compare stage and the section module of every modality it reports."""
    return code("sparsefield.stages.compare", *(MODALITIES[reads].report for reads in RUNS))


def approach_inputs(wildcards):
    return reads_files(wildcards.approach)


def reconstruct_inputs(wildcards):
    """What the approach reads, and its trained model (and training log) when learned: its own, or its prior's."""
    files = reads_files(wildcards.approach)
    if KINDS[kind_of(wildcards)].learned:
        files.update(model=f"results/{wildcards.approach}/model.pt", train_log=f"results/{wildcards.approach}/train_log.csv")
    elif KINDS[kind_of(wildcards)].posterior:
        folder = f"results/priors/{APPROACHES[wildcards.approach]['prior']}"
        files.update(model=f"{folder}/model.pt", train_log=f"{folder}/train_log.csv")
    return files


def approach_settings(wildcards):
    """The approach's params bound to its family's Params, defaults filled, keys sorted."""
    return SETTINGS[wildcards.approach]


def train_settings(wildcards):
    """What training reads: the params without the sampling section (a sampling edit never retrains)."""
    return {key: value for key, value in SETTINGS[wildcards.approach].items() if key != "sample"}


def approach_names(wildcards):
    """The dataset and scheme columns of the approach's results (its modality's labels)."""
    return labels(APPROACHES[wildcards.approach])


def evaluated_items(wildcards):
    """How many test items every approach on the same data is scored on: its modality's evaluation key
    (evaluation.n_images of a dataset's images, n_tiles of a raw set's pairs; a multispectral dataset: all)."""
    key = MODALITIES[KINDS[kind_of(wildcards)].reads].evaluated
    return config["evaluation"][key] if key else None


def approach_gpu(wildcards):
    """The gpu resource of the approach's jobs: the device's, for a learned or posterior approach; 0 otherwise."""
    row = KINDS[kind_of(wildcards)]
    return GPU if row.learned or row.posterior else 0


def all_approaches(pattern, names):
    return [pattern.format(approach=name) for name in names]


def dataset_entry(wildcards):
    return canonical(config["datasets"][wildcards.dataset])


def dataset_writer(wildcards):
    """The writer of dataset {dataset}: an RGB source's (data.images) or a multispectral one's (data.spectral)."""
    return writer_of(config["datasets"][wildcards.dataset]["source"])


def dataset_code(wildcards):
    """Fingerprint of the images stage and the dataset's own writer (an edit of the other writer reruns none)."""
    return code("sparsefield.stages.images", dataset_writer(wildcards).partition(":")[0])


def scheme_entry(wildcards):
    return canonical(config["schemes"][wildcards.scheme])


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
    return canonical(RAWSETS[wildcards.rawset])


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


# --- priors ------------------------------------------------------------------------------------


def prior_inputs(wildcards):
    """What prior {prior} trains on: its raw set's tile metadata, or its dataset's images."""
    entry = PRIORS[wildcards.prior]
    if "rawset" in entry:
        return {"metadata": f"results/tiles/{entry['rawset']}/metadata.json"}
    return {"data": data_file(entry["dataset"])}


def prior_source(wildcards):
    entry = PRIORS[wildcards.prior]
    return {key: entry[key] for key in ("rawset", "dataset") if key in entry}


def prior_settings(wildcards):
    return canonical(PRIORS[wildcards.prior]["params"])


def rawset_calibration_inputs(wildcards):
    """The tiles to calibrate on, and (a builtin or SID raw set's) raw captures and lists for the raw-domain check."""
    name = wildcards.rawset
    files = {"metadata": f"results/tiles/{name}/metadata.json", "lists": rawset_lists(name)}
    if RAWSETS[name]["kind"] == "builtin":
        files["raw"] = f"{rawset_root(name)}/{rawset_camera(name)}"
    return files
