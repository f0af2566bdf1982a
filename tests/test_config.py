"""Config schema: the defaults validate; bad config fails with one line naming the key."""

import copy
import dataclasses
import inspect
import typing

import pytest
import yaml

from sparsefield.config import ConfigError, approach_params, needs_gpu, validate_config
from sparsefield.methods import ddo, edm_posterior, edm_prior, field, lowlight, pca, vae
from sparsefield.params import field_names, from_signature
from sparsefield.registry import KINDS, load

STUDIES = ["config/paper/cifar10.yaml", "config/paper/sid.yaml", "config/paper/leaves.yaml"]


@pytest.mark.parametrize("name", ["config/config.yaml", *STUDIES, "tests/workflow/config.yaml"])
def test_shipped_configs_validate(repo_root, schema, name):
    config = yaml.safe_load((repo_root / name).read_text())
    validate_config(config, schema)
    assert config["evaluation"]["n_images"] is None or config["evaluation"]["n_images"] > 0  # default filled


def test_the_paper_studies_run_alone_and_together(repo_root, schema):
    """Each study is a whole configuration; several --configfile merge (Snakemake's update_config) into one run
    that holds every study's approaches, with no key of one changed by another."""
    from snakemake.utils import update_config

    studies = [yaml.safe_load((repo_root / name).read_text()) for name in STUDIES]
    merged = {}
    for study in studies:
        update_config(merged, copy.deepcopy(study))
    names = [set(study["approaches"]) for study in studies]
    assert set.union(*names) == set(merged["approaches"]) and sum(map(len, names)) == len(merged["approaches"])
    for study in studies:  # every key a study sets keeps its value in the merged run
        for key in ("device", "datasets", "schemes", "priors", "rawsets"):
            for name, value in (study.get(key) or {}).items() if isinstance(study.get(key), dict) else ():
                assert merged[key][name] == value, (key, name)
        assert merged["device"] == study["device"] == "cuda"  # the paper asks for GPUs from any machine
    validate_config(merged, schema)


def test_defaults_are_filled(config, schema):
    del config["figures"], config["schemes"]["cq_10_10"]["seed"]
    validate_config(config, schema)
    assert config["figures"]["images"] is None  # the first six test images every approach scored
    assert config["schemes"]["cq_10_10"]["seed"] == 42


def test_schema_kinds_are_the_registry(schema):
    kinds = yaml.safe_load(schema.read_text())["properties"]["approaches"]["additionalProperties"]
    assert sorted(kinds["properties"]["kind"]["enum"]) == sorted(KINDS)


NETWORKS = [(field.Backbone, "sparsefield.nn.perceiver_io:PerceiverIO", {"channels", "use_prior"}),
            (ddo.Backbone, "sparsefield.nn.fno_unet:FNOUNet", {"in_ch", "out_ch", "resolution"}),
            (edm_prior.Backbone, "sparsefield.nn.edm_unet:EDMUNet", {"channels", "heads", "emb_mult"}),
            (vae.Backbone, "sparsefield.nn.kl_autoencoder:KLAutoencoder", {"channels", "shift", "scale"})]


@pytest.mark.parametrize("backbone, network, excluded", NETWORKS, ids=[n[1].rpartition(":")[2] for n in NETWORKS])
def test_backbone_defaults_are_the_networks_own(backbone, network, excluded):
    """A family's Backbone is read from its network's signature (`params.from_signature`): the same keys, but for
    those the family sets from the data, with the network's defaults, as the imported network has them."""
    signature = inspect.signature(load(network)).parameters
    assert field_names(backbone) == set(signature) - {"self"} - excluded
    for name in field_names(backbone):
        assert getattr(backbone(), name) == signature[name].default, name


def test_from_signature_refuses_a_default_it_cannot_read(tmp_path, monkeypatch):
    (tmp_path / "toy_network.py").write_text("SIZE = 4\nclass Net:\n    def __init__(self, a: int = 1, b: int = SIZE):"
                                             "\n        pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert dataclasses.asdict(from_signature("Toy", "toy_network:Net", exclude=("b",))()) == {"a": 1}
    with pytest.raises(ValueError, match="malformed"):  # a default that is not a literal
        from_signature("Toy", "toy_network:Net")


def schema_keys_match(node: dict, cls, defs: dict, where: str) -> list[str]:
    """Where the schema's properties and the dataclass's fields differ, following $ref and nested dataclasses."""
    while "$ref" in node:
        node = defs[node["$ref"].rpartition("/")[2]]
    keys = set(node.get("properties", {}))
    found = [] if keys == field_names(cls) else [f"{where}: schema {sorted(keys)} != {cls.__name__} "
                                                    f"{sorted(field_names(cls))}"]
    hints = typing.get_type_hints(cls)
    for name in keys & field_names(cls):
        nested = [arg for arg in (hints[name], *typing.get_args(hints[name])) if dataclasses.is_dataclass(arg)]
        if nested:
            found += schema_keys_match(node["properties"][name], nested[0], defs, f"{where}.{name}")
    return found


FAMILIES = [("learned", field.Params), ("ddo", ddo.Params), ("vae", vae.Params), ("pca", pca.Params),
            ("posterior", edm_posterior.Params), ("edm_prior", edm_prior.PriorParams), ("denoise", lowlight.Params)]


@pytest.mark.parametrize("name, params", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_every_familys_schema_names_its_dataclass_keys(schema, name, params):
    """The schema checks shapes and ranges, the dataclass names the keys: they agree key for key, nested ones too."""
    defs = yaml.safe_load(schema.read_text())["$defs"]
    assert not schema_keys_match(defs[name], params, defs, name)


def test_objective_schemas_are_the_objectives_arguments(schema):
    defs = yaml.safe_load(schema.read_text())["$defs"]
    for kind, row in KINDS.items():
        if row.learned:
            arguments = set(inspect.signature(load(row.objective)).parameters)
            assert set(defs[f"objective_{kind}"]["properties"]) == arguments, kind


def test_params_bind_with_defaults_and_sorted_keys(config, schema):
    validate_config(config, schema)
    bound = approach_params(config)
    flow = bound["flow_matching"]
    assert isinstance(flow, field.Params) and flow.train.num_workers == 0 and flow.model.backbone.dropout == 0.0
    assert flow.sample.sweep_nfe == (4, 8, 16)  # lists become the typed tuples
    assert isinstance(bound["linear"], load(KINDS["linear"].method).Params)


def test_needs_gpu():
    assert needs_gpu("cpu") == 0 and needs_gpu("cuda") == 1 and needs_gpu("cuda:1") == 1 and needs_gpu("mps") == 0
    assert needs_gpu("auto") in (0, 1)


def test_unknown_sampler_names_the_key(repo_root, schema):
    config = yaml.safe_load((repo_root / "tests/workflow/config.yaml").read_text())
    config["approaches"]["flow_tiny"]["params"]["sample"]["sampler"] = "ddim"
    with pytest.raises(ConfigError, match=r"approaches\.flow_tiny\.params\.sample\.sampler: 'ddim' is not"):
        validate_config(config, schema)


def test_residual_ddo_without_a_prior_names_the_key(config, schema):
    del config["approaches"]["ddo"]["estimate"]
    with pytest.raises(ConfigError, match=r"approaches\.ddo\.estimate: missing; .*add `estimate: biharmonic`"):
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
        (["datasets", "builtin", "n_trian"], 5, r"datasets\.builtin\.n_trian: not a parameter of source 'builtin'"),
        (["approaches", "flow_matching", "params", "train", "stpes"], 5, r"approaches\.\w+\.params\.train"),
        (["approaches", "flow_matching", "params", "objective"], {"t_epss": 0.1}, r"params\.objective"),
        (["approaches", "flow_matching", "params", "model", "backbone", "n_latent"], 8, r"backbone"),
        (["threads"], {"train": 0}, r"threads\.train"),
        (["approaches", "ddo", "estimate"], "kriging", r"approaches\.ddo\.estimate: 'kriging' is not one of"),
        (["approaches", "flow_matching", "estimate"], "biharmonic", r"flow_matching\.estimate: this approach"),
        (["approaches", "ddo_plain", "estimate"], "biharmonic", r"approaches\.ddo_plain\.estimate: this approach"),
        (["approaches", "ddo", "params", "loss"], "context", r"approaches\.ddo\.params\.loss: 'context'"),
        (["approaches", "ddo", "params", "objective"], {"prediction": "v"}, r"params\.objective\.prediction"),
        (["approaches", "pca_masked", "params", "components"], 6, r"components: 6, but its dataset has 5 bands"),
        (["approaches", "vae_masked", "scheme"], "cq_10_10", r"vae_masked\.scheme: kind 'vae' takes no scheme"),
        (["approaches", "pca_masked", "dataset"], "builtin", r"pca_masked\.dataset: 'builtin' is an RGB dataset"),
        (["approaches", "linear", "dataset"], "leaves", r"linear\.dataset: 'leaves' is a multispectral dataset"),
    ],
)
def test_rejections_name_the_key(config, schema, path, value, message):
    if path[:2] == ["datasets", "cifar"]:
        config["datasets"]["cifar"] = {}
    with pytest.raises(ConfigError, match=message) as err:
        validate_config(broken(config, path, value), schema)
    assert "\n" not in str(err.value)
