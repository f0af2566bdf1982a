"""Config validation with one-line errors that name the offending key.

JSON-schema checks (types, ranges, enums; filling defaults) come from
`workflow/schemas/config.schema.yaml`; the checks that span keys (ratios that
sum past 1, an approach naming a dataset that does not exist) live here.
"""

from __future__ import annotations

import os

import jsonschema
import yaml

from sparsefield.registry import KINDS

# folders under results/ that are not approaches
RESERVED = {"data", "masks", "figures", "logs", "benchmarks", "tiles", "raw"}


class ConfigError(ValueError):
    """A config value is wrong; the message names the key and the fix."""


def _with_defaults(cls):
    """A validator class that also fills in each property's `default`."""
    validate_properties = cls.VALIDATORS["properties"]

    def properties(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = sub["default"]
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
        total = scheme["context_ratio"] + scheme["query_ratio"]
        if total > 1:
            raise ConfigError(
                f"config key schemes.{name}: context_ratio + query_ratio = {total:g} > 1; "
                "lower them so they sum to at most 1"
            )
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
        for key, known in (("dataset", config["datasets"]), ("scheme", config["schemes"])):
            if approach[key] not in known:
                raise ConfigError(
                    f"config key approaches.{name}.{key}: unknown {key} '{approach[key]}'; "
                    f"define it under {key}s: (have {sorted(known)})"
                )
    return config
