"""Config validation with one-line errors that name the offending key.

JSON-schema checks (types, ranges, enums; filling defaults) come from
`workflow/schemas/config.schema.yaml`; the checks that span keys (ratios that
sum past 1, an approach naming a dataset that does not exist) are `checks`, those
of the data a config names `data_checks`; `validate_config` runs them all.
"""

from __future__ import annotations

import copy
import glob
import os

import jsonschema
import yaml

from sparsefield.checks import (
    check_approach,
    check_bound,
    check_priors,
    check_schemes,
    check_scored,
)
from sparsefield.data.spectral.sources import SOURCES as SPECTRAL_SOURCES
from sparsefield.data_checks import check_config_file, check_dataset, check_paths, check_rawset
from sparsefield.errors import ConfigError
from sparsefield.params import ParamsError, bind, canonical
from sparsefield.registry import KINDS, load

__all__ = ["ConfigError", "approach_params", "check_config_file", "check_paths", "has_nvidia_gpu", "needs_gpu",
           "sparsity_groups", "validate_config", "writer_of"]


def writer_of(source: str) -> str:
    """"module:function" writing a dataset of `source` (the images stage loads it by name)."""
    return ("sparsefield.data.spectral.sources:build_spectral" if source in SPECTRAL_SOURCES
            else "sparsefield.data.images.sources:build_images")



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
    check_schemes(config)
    for name, entry in config["datasets"].items():
        check_dataset(name, entry)
    for name, approach in config["approaches"].items():
        check_approach(name, approach, config)
    for name, entry in config["rawsets"].items():
        check_rawset(name, entry)
    check_priors(config)
    check_scored(config)
    for name, params in approach_params(config).items():  # every approach's params bind to its family's Params
        check_bound(name, params, config)
    return config


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
            for members in groups.values() if len(members) >= min_ratios}
