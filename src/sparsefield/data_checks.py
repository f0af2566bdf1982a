"""The checks of the data a config names, each raising a one-line `ConfigError` naming the key and the fix: a
dataset's keys per source, a raw set's keys, duplicate keys in a config file, and every configured data path
(before any job, a dry run too).
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import yaml

from sparsefield.data.images.cifar10 import CIFAR_URL, _locate_cifar
from sparsefield.data.images.sources import SOURCES as IMAGE_SOURCES
from sparsefield.data.raw.sid import list_file
from sparsefield.data.raw.synth import build_builtin, builtin_pairs
from sparsefield.data.spectral.sources import SOURCES as SPECTRAL_SOURCES
from sparsefield.errors import ConfigError

SOURCES = {**IMAGE_SOURCES, **SPECTRAL_SOURCES}  # a dataset's source -> the function writing it


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
                                      "keep one (YAML keeps only the last)")
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
                        "is, or set download: true",
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
                              f"{fixes['cifar10']}")
        if entry["source"] != "cifar10" and not path.is_dir():
            raise ConfigError(f"{key}: {path} is not a folder; {fixes[entry['source']]}")
    for name, entry in config["rawsets"].items():
        if entry["kind"] != "sid":
            continue
        root, camera, key = Path(entry["root"]), entry["camera"], f"config key rawsets.{name}.root"
        if not root.is_dir():
            raise ConfigError(f"{key}: {root} does not exist; put SID there ({camera}/short, {camera}/long, "
                              f"{camera}_train_list.txt, ...) or set the key to where it is")
        for split in ("train", "test"):  # a missing val list is an empty val split
            if not list_file(root, camera, split).is_file():
                raise ConfigError(f"{key}: {root} holds no {list_file(root, camera, split).name}; point it at the "
                                  f"folder holding SID's {camera}/ and its list files")


def check_dataset(name: str, entry: dict) -> None:
    """Every key of a dataset entry is a parameter of its source's function (`data.images.sources.SOURCES`), and
    its split sizes are numbers where the source cannot take null (all): a generated set, or an image folder cut
    into patches."""
    make = SOURCES[entry["source"]]
    parameters = {key: p for key, p in inspect.signature(make).parameters.items() if key != "where"}
    unknown = sorted(set(entry) - set(parameters) - {"source"})
    if unknown:
        raise ConfigError(f"config key datasets.{name}.{unknown[0]}: not a parameter of source "
                          f"'{entry['source']}'; use one of {sorted(parameters)}")
    for key in ("n_train", "n_test"):
        if key not in parameters or entry.get(key) is not None:
            continue
        given = "null" if key in entry else "missing"
        if parameters[key].default is inspect.Parameter.empty:  # builtin, leaves: the writer makes every image
            raise ConfigError(f"config key datasets.{name}.{key}: {given}, but source '{entry['source']}' generates "
                              "its images (null, the whole split, is only for cifar10, imagefolder with mode: resize "
                              "and multispectral_folder); give a number")
        if entry["source"] == "imagefolder" and entry.get("mode", parameters["mode"].default) == "patches":
            raise ConfigError(f"config key datasets.{name}.{key}: {given}, but mode: patches cuts a given number "
                              "of patches; give a number, or set mode: resize (one image per file, null = "
                              "all)")


SID_KEYS = {"root", "camera"}


BUILTIN_DEFAULTS = {  # build_builtin's keyword arguments and their defaults (n_train, n_test: required)
    key: p.default for key, p in inspect.signature(build_builtin).parameters.items() if p.kind == p.KEYWORD_ONLY
}


BUILTIN_KEYS = set(BUILTIN_DEFAULTS)


def check_rawset(name: str, entry: dict) -> None:
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
