"""Config schema: the defaults validate; bad config fails with one line naming the key."""

import copy

import pytest
import yaml

from sparsefield.config import ConfigError, validate_config
from sparsefield.registry import KINDS


@pytest.fixture
def schema(repo_root):
    return repo_root / "workflow/schemas/config.schema.yaml"


@pytest.fixture
def config(repo_root):
    return yaml.safe_load((repo_root / "config/config.yaml").read_text())


@pytest.mark.parametrize("name", ["config/config.yaml", "config/paper.yaml", "tests/workflow/config.yaml"])
def test_shipped_configs_validate(repo_root, schema, name):
    config = yaml.safe_load((repo_root / name).read_text())
    validate_config(config, schema)
    assert config["evaluation"]["n_images"] is None or config["evaluation"]["n_images"] > 0  # default filled


def test_defaults_are_filled(config, schema):
    del config["figures"], config["schemes"]["cq_10_10"]["seed"]
    validate_config(config, schema)
    assert config["figures"]["images"] == [0, 1, 2, 3, 4, 5]
    assert config["schemes"]["cq_10_10"]["seed"] == 42


def test_schema_kinds_are_the_registry(schema):
    kinds = yaml.safe_load(schema.read_text())["properties"]["approaches"]["additionalProperties"]
    assert sorted(kinds["properties"]["kind"]["enum"]) == sorted(KINDS)


def test_registry_samplers_are_the_objectives():
    from sparsefield.objectives import OBJECTIVES

    for kind, objective in OBJECTIVES.items():
        assert KINDS[kind].samplers == objective.SAMPLERS


def test_unknown_sampler_names_the_key(repo_root, schema):
    config = yaml.safe_load((repo_root / "tests/workflow/config.yaml").read_text())
    config["approaches"]["flow_tiny"]["params"]["sample"]["sampler"] = "ddim"
    with pytest.raises(ConfigError, match=r"approaches\.flow_tiny\.params\.sample\.sampler: 'ddim' is not"):
        validate_config(config, schema)


def broken(config, path, value):
    config = copy.deepcopy(config)
    *parents, last = path
    node = config
    for key in parents:
        node = node[key]
    node[last] = value
    return config


@pytest.mark.parametrize(
    "path, value, message",
    [
        (["schemes", "cq_10_10", "query_ratio"], 0.95, r"schemes\.cq_10_10: context_ratio \+ query_ratio = 1\.05 > 1"),
        (["schemes", "cq_10_10", "context_ratio"], 0, r"schemes\.cq_10_10\.context_ratio"),
        (["approaches", "linear", "kind"], "bogus", r"approaches\.linear\.kind: 'bogus' is not one of"),
        (["approaches", "linear", "dataset"], "imagenet", r"approaches\.linear\.dataset: unknown dataset 'imagenet'"),
        (["approaches", "linear", "scheme"], "nope", r"approaches\.linear\.scheme: unknown scheme 'nope'"),
        (["datasets", "builtin", "n_train"], 0, r"datasets\.builtin\.n_train"),
        (["datasets", "builtin", "size"], -32, r"datasets\.builtin\.size"),
        (["datasets", "builtin", "source"], "mnist", r"datasets\.builtin\.source: 'mnist' is not one of"),
        (["datasets", "cifar", "source"], "cifar10", r"datasets\.cifar: 'path' is a required property"),
        (["approaches", "data"], {"kind": "linear", "dataset": "builtin", "scheme": "cq_10_10"}, r"approaches\.data"),
        (["approaches", "a/b"], {"kind": "linear", "dataset": "builtin", "scheme": "cq_10_10"}, r"approaches"),
        (["evaluation", "n_images"], 0, r"evaluation\.n_images"),
        (["approaches", "linear", "params"], {"k": 3}, r"approaches\.linear\.params: {.k.: 3} is expected to be empty"),
        (["typo_key"], 1, r"typo_key"),
    ],
)
def test_rejections_name_the_key(config, schema, path, value, message):
    if path[:2] == ["datasets", "cifar"]:
        config["datasets"]["cifar"] = {}
    with pytest.raises(ConfigError, match=message) as err:
        validate_config(broken(config, path, value), schema)
    assert "\n" not in str(err.value)
