"""Config validation with one-line errors that name the offending key.

JSON-schema checks (types, ranges, enums; filling defaults) come from
`workflow/schemas/config.schema.yaml`; the checks that span keys (ratios that
sum past 1, an approach naming a dataset that does not exist) live here.
"""

from __future__ import annotations

import copy
import glob
import inspect
import os
from pathlib import Path

import jsonschema
import yaml

from sparsefield.data.images.cifar10 import CIFAR_URL, _locate_cifar
from sparsefield.data.images.sources import SOURCES as IMAGE_SOURCES
from sparsefield.data.raw.sid import list_file
from sparsefield.data.raw.synth import build_builtin, builtin_pairs
from sparsefield.data.spectral.leaves import BANDS
from sparsefield.data.spectral.sources import SOURCES as SPECTRAL_SOURCES
from sparsefield.params import ParamsError, bind, canonical
from sparsefield.registry import KINDS, PRIOR_METHOD, load

SOURCES = {**IMAGE_SOURCES, **SPECTRAL_SOURCES}  # a dataset's source -> the function writing it


def writer_of(source: str) -> str:
    """"module:function" writing a dataset of `source` (the images stage loads it by name)."""
    return ("sparsefield.data.spectral.sources:build_spectral" if source in SPECTRAL_SOURCES
            else "sparsefield.data.images.sources:build_images")

# folders under results/ that are not approaches
RESERVED = {"data", "masks", "figures", "logs", "benchmarks", "tiles", "raw", "priors", "estimates"}


class ConfigError(ValueError):
    """A config value is wrong; the message names the key and the fix."""


def _with_defaults(cls):
    """A validator class that also fills in each property's `default`."""
    validate_properties = cls.VALIDATORS["properties"]

    def properties(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])  # never one default object in two places
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": properties})


def _key(path) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def validate_config(config: dict, schema_path: str | os.PathLike) -> dict:
    """Check `config` against the schema (filling defaults in place) and across keys.

    Raises:
        ConfigError: one line, naming the key, e.g.
            "config key schemes.bad: context_ratio + query_ratio = 1.2 > 1; lower them so they sum to at most 1".
    """
    with open(schema_path) as f:
        schema = yaml.safe_load(f)
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(f"config key {_key(error.absolute_path)}: {error.message}")
    for name, scheme in config["schemes"].items():
        if scheme["context_ratio"] >= 1:
            raise ConfigError(f"config key schemes.{name}.context_ratio: {scheme['context_ratio']:g} leaves no pixel "
                              "to reconstruct (every pixel is context); give a ratio below 1")  # fmt: skip
        total = scheme["context_ratio"] + scheme["query_ratio"]
        if total > 1:
            raise ConfigError(
                f"config key schemes.{name}: context_ratio + query_ratio = {total:g} > 1; "
                "lower them so they sum to at most 1"
            )
    for name, entry in config["datasets"].items():
        _check_dataset(name, entry)
    for name, approach in config["approaches"].items():
        if name in RESERVED:
            raise ConfigError(f"config key approaches.{name}: '{name}' is a results/ folder; rename the approach")
        if approach["kind"] not in KINDS:
            raise ConfigError(f"config key approaches.{name}.kind: unknown kind '{approach['kind']}'")
        for part in ("evaluation", "sample"):
            sampler = approach["params"].get(part, {}).get("sampler")
            if sampler is not None and sampler not in KINDS[approach["kind"]].samplers:
                raise ConfigError(
                    f"config key approaches.{name}.params.{part}.sampler: '{sampler}' is not a sampler of kind "
                    f"'{approach['kind']}'; use one of {list(KINDS[approach['kind']].samplers)}"
                )
        if KINDS[approach["kind"]].reads == "tiles":
            if "estimate" in approach:
                raise ConfigError(f"config key approaches.{name}.estimate: an estimate is computed from an image's "
                                  "fixed context pixels; an approach on raw tiles has none, remove it")  # fmt: skip
            _check_lowlight(name, approach, config["rawsets"])
            continue
        if KINDS[approach["kind"]].reads == "spectral":
            _check_spectral(name, approach, config["datasets"])
            continue
        for key, known in (("dataset", config["datasets"]), ("scheme", config["schemes"])):
            if approach[key] not in known:
                raise ConfigError(
                    f"config key approaches.{name}.{key}: unknown {key} '{approach[key]}'; "
                    f"define it under {key}s: (have {sorted(known)})"
                )
        if config["datasets"][approach["dataset"]]["source"] in SPECTRAL_SOURCES:
            raise ConfigError(f"config key approaches.{name}.dataset: '{approach['dataset']}' is a multispectral "
                              f"dataset; kind '{approach['kind']}' reads RGB images (use kind vae or pca)")  # fmt: skip
    for name, entry in config["rawsets"].items():
        _check_rawset(name, entry)
    _check_priors(config)
    _check_scored(config)
    for name, params in approach_params(config).items():  # every approach's params bind to its family's Params
        reads = params.reads_estimate() if hasattr(params, "reads_estimate") else False  # the family's own rule
        given = "estimate" in config["approaches"][name]
        if reads and not given:
            raise ConfigError(f"config key approaches.{name}.estimate: missing; model.residual models the residual "
                              "around a classical estimate: add `estimate: biharmonic`, or set "
                              "model.residual: false")  # fmt: skip
        if given and not reads:
            raise ConfigError(f"config key approaches.{name}.estimate: this approach reads no estimate (its kind, or "
                              "model.residual: false); remove the key")  # fmt: skip
        if config["approaches"][name]["kind"] == "pca":
            _check_components(name, params.components, config["datasets"][config["approaches"][name]["dataset"]])
    return config


def check_config_file(path: str | os.PathLike) -> None:
    """Refuse a key given twice in one mapping of the YAML (or JSON) config file `path`: PyYAML, and Snakemake's
    loader, keep the last and drop the first without a word. A merge key (`<<: *anchor`) and the keys it brings in
    are no duplicates: a key beside it overrides them.

    Raises:
        ConfigError: one line naming the file, the key and both lines, e.g. "config file my.yaml: key
            approaches.nearest appears twice (lines 6 and 8); keep one (YAML keeps only the last)".
    """
    with open(path, encoding="utf-8") as f:
        root = yaml.compose(f, Loader=yaml.SafeLoader)  # nodes, with their lines: before keys are merged
    todo, seen = [(root, [])], set()
    while todo:
        node, where = todo.pop()
        if id(node) in seen:  # an alias: the anchored node, already checked
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            lines = {}
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge":
                    continue
                name = key.value if isinstance(key, yaml.ScalarNode) else f"(a {key.id} key)"
                line = key.start_mark.line + 1
                if (key.tag, name) in lines:
                    first, dotted = lines[key.tag, name], ".".join([*where, name])
                    raise ConfigError(f"config file {path}: key {dotted} appears twice (lines {first} and {line}); "
                                      "keep one (YAML keeps only the last)")  # fmt: skip
                lines[key.tag, name] = line
                todo.append((value, [*where, name]))
        elif isinstance(node, yaml.SequenceNode):
            todo.extend((item, [*where, str(i)]) for i, item in enumerate(node.value))


def check_paths(config: dict) -> None:
    """Every data path the config names is there: run from the Snakefile before any job (a dry run too), where a
    missing folder would otherwise stop a data job, or the DAG (a SID raw set's list files), with a traceback.

    Raises:
        ConfigError: one line naming the key, e.g. "config key rawsets.sid_sony.root: data/SID does not exist; ...".
    """
    fixes = {"cifar10": f"download CIFAR-10's python version from {CIFAR_URL} and put it there, set path to where it "
                        "is, or set download: true",  # fmt: skip
             "imagefolder": "set path to a folder of PNG / JPEG / TIFF images",
             "multispectral_folder": "set path to the folder of multi-band TIFF stacks and their masks"}
    for name, entry in config["datasets"].items():
        if "path" not in entry or (entry["source"] == "cifar10" and entry.get("download")):  # its job fetches it
            continue
        path, key = Path(entry["path"]), f"config key datasets.{name}.path"
        if not path.exists():
            raise ConfigError(f"{key}: {path} does not exist; {fixes[entry['source']]}")
        if entry["source"] == "cifar10" and _locate_cifar(path) is None:
            raise ConfigError(f"{key}: {path} holds no cifar-10-batches-py folder or cifar-10-python.tar.gz; "
                              f"{fixes['cifar10']}")  # fmt: skip
        if entry["source"] != "cifar10" and not path.is_dir():
            raise ConfigError(f"{key}: {path} is not a folder; {fixes[entry['source']]}")
    for name, entry in config["rawsets"].items():
        if entry["kind"] != "sid":
            continue
        root, camera, key = Path(entry["root"]), entry["camera"], f"config key rawsets.{name}.root"
        if not root.is_dir():
            raise ConfigError(f"{key}: {root} does not exist; put SID there ({camera}/short, {camera}/long, "
                              f"{camera}_train_list.txt, ...) or set the key to where it is")  # fmt: skip
        for split in ("train", "test"):  # a missing val list is an empty val split
            if not list_file(root, camera, split).is_file():
                raise ConfigError(f"{key}: {root} holds no {list_file(root, camera, split).name}; point it at the "
                                  f"folder holding SID's {camera}/ and its list files")  # fmt: skip


def approach_params(config: dict) -> dict:
    """{approach: its params bound to the family's typed Params} (`methods/<family>.py`; no torch import).

    Raises:
        ConfigError: an unknown or missing key, naming it (e.g. approaches.x.params.train.stpes).
    """
    bound = {}
    for name, entry in config["approaches"].items():
        cls = load(KINDS[entry["kind"]].method).Params
        try:
            bound[name] = bind(cls, entry.get("params", {}), f"approaches.{name}.params")
        except ParamsError as err:
            raise ConfigError(str(err)) from None
    return bound


def has_nvidia_gpu() -> bool:
    """This machine shows an NVIDIA GPU (no torch import: /dev/nvidia0 or /proc/driver/nvidia/gpus/*)."""
    return os.path.exists("/dev/nvidia0") or bool(glob.glob("/proc/driver/nvidia/gpus/*"))


def needs_gpu(device: str, *, local: bool = True) -> int:
    """The `gpu` resource of a learned job: 1 for a CUDA device, 0 for cpu / mps, and for `auto` 1 only when
    the run is local (`local`) and this machine shows an NVIDIA GPU: a machine that submits to a cluster
    cannot know its nodes, so `auto` asks no cluster job for a GPU (`device: cuda` does)."""
    if device.startswith("cuda"):
        return 1
    if device == "auto":
        return int(local and has_nvidia_gpu())
    return 0


def _check_dataset(name: str, entry: dict) -> None:
    """Every key of a dataset entry is a parameter of its source's function (`data.images.sources.SOURCES`), and
    its split sizes are numbers where the source cannot take null (all): a generated set, or an image folder cut
    into patches."""
    make = SOURCES[entry["source"]]
    parameters = {key: p for key, p in inspect.signature(make).parameters.items() if key != "where"}
    unknown = sorted(set(entry) - set(parameters) - {"source"})
    if unknown:
        raise ConfigError(f"config key datasets.{name}.{unknown[0]}: not a parameter of source "
                          f"'{entry['source']}'; use one of {sorted(parameters)}")  # fmt: skip
    for key in ("n_train", "n_test"):
        if key not in parameters or entry.get(key) is not None:
            continue
        given = "null" if key in entry else "missing"
        if parameters[key].default is inspect.Parameter.empty:  # builtin, leaves: the writer makes every image
            raise ConfigError(f"config key datasets.{name}.{key}: {given}, but source '{entry['source']}' generates "
                              "its images (null, the whole split, is only for cifar10, imagefolder with mode: resize "
                              "and multispectral_folder); give a number")  # fmt: skip
        if entry["source"] == "imagefolder" and entry.get("mode", parameters["mode"].default) == "patches":
            raise ConfigError(f"config key datasets.{name}.{key}: {given}, but mode: patches cuts a given number "
                              "of patches; give a number, or set mode: resize (one image per file, null = "
                              "all)")  # fmt: skip


CIFAR10_TEST_IMAGES = 10000  # the test_batch of CIFAR-10's python version: n_test null reads all of it


def known_test_size(entry: dict) -> int | None:
    """How many images the test split of a dataset entry holds, when its config says so (None: known only once the
    data job has read its files). A given n_test is exact: a source that cannot give that many fails its job."""
    if entry.get("n_test") is not None:
        return entry["n_test"]
    return CIFAR10_TEST_IMAGES if entry["source"] == "cifar10" else None


def _check_scored(config: dict) -> None:
    """evaluation.n_images within each scored RGB dataset's test split, and figures.images within the scored test
    images of every dataset an approach scores, where the config tells the split's size."""
    datasets, n_images = config["datasets"], config["evaluation"]["n_images"]
    scored = {}  # dataset -> (test images scored, where the limit comes from), where known
    for approach in config["approaches"].values():
        reads = KINDS[approach["kind"]].reads
        if reads == "tiles" or approach["dataset"] in scored:
            continue
        name = approach["dataset"]
        size = known_test_size(datasets[name])
        what = f"datasets.{name}.n_test" if datasets[name].get("n_test") is not None else f"the test split of {name}"
        if reads == "images" and n_images is not None:  # a multispectral dataset is scored whole
            if size is not None and n_images > size:
                raise ConfigError(f"config key evaluation.n_images: {n_images}, but {what} is {size}: only "
                                  f"{size} would be scored; lower it to {size} or less, or set null (every test "
                                  "image)")  # fmt: skip
            size, what = n_images, "evaluation.n_images"
        scored[name] = (size, what)
    wanted = config["figures"]["images"] or []  # null: the first six scored, whatever they are
    for name, (size, what) in sorted(scored.items()):
        beyond = [i for i in wanted if size is not None and i >= size]
        if beyond:
            raise ConfigError(f"config key figures.images: test image {beyond[0]} is not scored on datasets."
                              f"{name} ({what}: {size}, test images 0..{size - 1}); give indices in "
                              f"0..{size - 1}")  # fmt: skip


SID_KEYS = {"root", "camera"}
BUILTIN_DEFAULTS = {  # build_builtin's keyword arguments and their defaults (n_train, n_test: required)
    key: p.default for key, p in inspect.signature(build_builtin).parameters.items() if p.kind == p.KEYWORD_ONLY
}
BUILTIN_KEYS = set(BUILTIN_DEFAULTS)


def _check_rawset(name: str, entry: dict) -> None:
    """Keys of the other kind, tiles larger than a builtin scene, ratios SID's names cannot spell.

    Fills stride (the tile size) and a builtin set's defaults (build_builtin's), so that the
    workflow and the writer read the same values.
    """
    foreign = sorted(set(entry) & (BUILTIN_KEYS if entry["kind"] == "sid" else SID_KEYS))
    if foreign:
        raise ConfigError(
            f"config key rawsets.{name}.{foreign[0]}: a {entry['kind']} raw set does not take it; remove it"
        )
    entry.setdefault("stride", entry["tile_size"])
    if entry["kind"] != "builtin":
        return
    for key, default in BUILTIN_DEFAULTS.items():
        if default is not inspect.Parameter.empty:
            entry.setdefault(key, list(default) if isinstance(default, tuple) else default)
    size = entry["size"]
    if size % 2:
        raise ConfigError(f"config key rawsets.{name}.size: {size} is odd; a Bayer mosaic needs an even size")
    if entry["tile_size"] > size:
        raise ConfigError(
            f"config key rawsets.{name}.tile_size: {entry['tile_size']} > the scene size {size}; lower it or raise size"
        )
    try:
        builtin_pairs(n_train=1, n_val=0, n_test=1, ratios=entry["ratios"])
    except ValueError as err:
        raise ConfigError(f"config key rawsets.{name}.ratios: {err}") from None


def _check_lowlight(name: str, approach: dict, rawsets: dict) -> None:
    """A low-light approach names a defined raw set, and no dataset or scheme."""
    for key in ("dataset", "scheme"):
        if key in approach:
            raise ConfigError(f"config key approaches.{name}.{key}: a low-light approach takes rawset:, not {key}:")
    if approach["rawset"] not in rawsets:
        raise ConfigError(
            f"config key approaches.{name}.rawset: unknown rawset '{approach['rawset']}'; "
            f"define it under rawsets: (have {sorted(rawsets)})"
        )


def _check_spectral(name: str, approach: dict, datasets: dict) -> None:
    """A multispectral approach names a multispectral dataset, and no scheme (the leaf masks are the dataset's)."""
    for key, what in (("scheme", "the leaf masks are its dataset's own"), ("estimate", "it reads no estimate"),
                      ("rawset", "it reads a dataset")):  # fmt: skip
        if key in approach:
            raise ConfigError(f"config key approaches.{name}.{key}: kind '{approach['kind']}' takes no {key}: "
                              f"({what}); remove it")  # fmt: skip
    if approach["dataset"] not in datasets:
        raise ConfigError(f"config key approaches.{name}.dataset: unknown dataset '{approach['dataset']}'; "
                          f"define it under datasets: (have {sorted(datasets)})")  # fmt: skip
    source = datasets[approach["dataset"]]["source"]
    if source not in SPECTRAL_SOURCES:
        raise ConfigError(f"config key approaches.{name}.dataset: '{approach['dataset']}' is an RGB dataset "
                          f"(source {source}); kind '{approach['kind']}' needs a multispectral source "
                          "(leaves or multispectral_folder)")  # fmt: skip


def _check_components(name: str, components: int, dataset: dict) -> None:
    """A per-pixel PCA keeps at most as many directions as its dataset has bands."""

    n_bands = len(dataset["bands"]) if dataset["source"] == "multispectral_folder" else len(BANDS)
    if not 1 <= components <= n_bands:
        raise ConfigError(f"config key approaches.{name}.params.components: {components}, but its dataset has "
                          f"{n_bands} bands; give 1..{n_bands}")  # fmt: skip


def _check_priors(config: dict) -> None:
    """Each prior's source exists (a raw set with val scenes for its validation); posterior approaches name a
    prior of the data they read; no other approach names one."""
    priors, rawsets = config["priors"], config["rawsets"]
    for name, entry in priors.items():
        key, known = ("rawset", rawsets) if "rawset" in entry else ("dataset", config["datasets"])
        if entry[key] not in known:
            raise ConfigError(f"config key priors.{name}.{key}: unknown {key} '{entry[key]}'; "
                              f"define it under {key}s: (have {sorted(known)})")  # fmt: skip
        if key == "dataset" and known[entry[key]]["source"] in SPECTRAL_SOURCES:
            raise ConfigError(f"config key priors.{name}.dataset: '{entry[key]}' is a multispectral dataset; an "
                              "EDM prior trains on RGB images or a raw set")  # fmt: skip
        raw = rawsets.get(entry.get("rawset"), {})
        if raw.get("kind") == "builtin" and raw.get("n_val", 0) < 1:
            raise ConfigError(f"config key rawsets.{entry['rawset']}.n_val: prior {name} validates on the val "
                              "scenes' clean tiles; set n_val: 1 or more")  # fmt: skip
        try:
            bind(load(PRIOR_METHOD).PriorParams, entry["params"], f"priors.{name}.params")
        except ParamsError as err:
            raise ConfigError(str(err)) from None
    for name, approach in config["approaches"].items():
        row = KINDS[approach["kind"]]
        if not row.posterior:
            if "prior" in approach:
                raise ConfigError(f"config key approaches.{name}.prior: kind '{approach['kind']}' samples around no "
                                  "trained prior; remove the key")  # fmt: skip
            continue
        if approach["prior"] not in priors:
            raise ConfigError(f"config key approaches.{name}.prior: unknown prior '{approach['prior']}'; define it "
                              f"under priors: (have {sorted(priors)})")  # fmt: skip
        source = "rawset" if row.reads == "tiles" else "dataset"
        if source not in priors[approach["prior"]]:
            raise ConfigError(f"config key approaches.{name}.prior: '{approach['prior']}' is trained on a "
                              f"{'dataset' if source == 'rawset' else 'raw set'}, and kind '{approach['kind']}' "
                              f"reads {row.reads}; name a prior with {source}:")  # fmt: skip


def sparsity_groups(config: dict, min_ratios: int = 3) -> dict[str, dict[float, str]]:
    """{label: {context_ratio: approach}} of approaches alike but for their scheme, on schemes alike but for
    their context ratio (the same query ratio and seed), at `min_ratios` ratios or more: a sparsity sweep.

    Adding `biharmonic_c05` beside `biharmonic` on a scheme with context_ratio 0.05 extends biharmonic's
    sweep; no rule and no list names the sweep. Settings of the NFE sweep (`sample.sweep_*`) are ignored.
    The label is the group's shortest approach name.
    """
    schemes, groups = config["schemes"], {}
    for name, entry in config["approaches"].items():
        if KINDS[entry["kind"]].reads != "images":
            continue
        scheme = schemes[entry["scheme"]]
        alike = {key: value for key, value in entry.items() if key not in ("scheme", "params")}
        sample = {k: v for k, v in (entry.get("params", {}).get("sample") or {}).items() if not k.startswith("sweep_")}
        params = {**entry.get("params", {}), "sample": sample}  # the NFE sweep's settings do not make a model
        key = (repr(canonical([alike, params])), scheme["query_ratio"], scheme.get("seed"))
        groups.setdefault(key, {})[float(scheme["context_ratio"])] = name
    return {min(members.values(), key=lambda n: (len(n), n)): dict(sorted(members.items()))
            for members in groups.values() if len(members) >= min_ratios}  # fmt: skip
