"""The config checks that span keys, each raising a one-line `ConfigError` naming the key and the fix: schemes
that leave pixels, approaches and the data they name, their bound params, priors and how many test images are
scored (the data's own checks: `data_checks`).
"""

from __future__ import annotations

from sparsefield.data.images.sources import SOURCES as IMAGE_SOURCES
from sparsefield.data.spectral.leaves import BANDS
from sparsefield.data.spectral.sources import SOURCES as SPECTRAL_SOURCES
from sparsefield.errors import ConfigError
from sparsefield.params import ParamsError, bind
from sparsefield.registry import KINDS, PRIOR_METHOD, load

SOURCES = {**IMAGE_SOURCES, **SPECTRAL_SOURCES}  # a dataset's source -> the function writing it
# folders under results/ that are not approaches
RESERVED = {"data", "masks", "figures", "logs", "benchmarks", "tiles", "raw", "priors", "estimates"}




def check_schemes(config: dict) -> None:
    """A scheme leaves pixels to reconstruct: context_ratio below 1, context_ratio + query_ratio at most 1."""
    for name, scheme in config["schemes"].items():
        if scheme["context_ratio"] >= 1:
            raise ConfigError(f"config key schemes.{name}.context_ratio: {scheme['context_ratio']:g} leaves no pixel "
                              "to reconstruct (every pixel is context); give a ratio below 1")
        total = scheme["context_ratio"] + scheme["query_ratio"]
        if total > 1:
            raise ConfigError(
                f"config key schemes.{name}: context_ratio + query_ratio = {total:g} > 1; "
                "lower them so they sum to at most 1"
            )


def check_approach(name: str, approach: dict, config: dict) -> None:
    """An approach's name, kind, samplers and the data it names (a raw set, a multispectral or an RGB dataset)."""
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
                              "fixed context pixels; an approach on raw tiles has none, remove it")
        _check_lowlight(name, approach, config["rawsets"])
        return
    if KINDS[approach["kind"]].reads == "spectral":
        _check_spectral(name, approach, config["datasets"])
        return
    for key, known in (("dataset", config["datasets"]), ("scheme", config["schemes"])):
        if approach[key] not in known:
            raise ConfigError(
                f"config key approaches.{name}.{key}: unknown {key} '{approach[key]}'; "
                f"define it under {key}s: (have {sorted(known)})"
            )
    if config["datasets"][approach["dataset"]]["source"] in SPECTRAL_SOURCES:
        raise ConfigError(f"config key approaches.{name}.dataset: '{approach['dataset']}' is a multispectral "
                          f"dataset; kind '{approach['kind']}' reads RGB images (use kind vae or pca)")

def check_bound(name: str, params, config: dict) -> None:
    """An approach's bound params agree with its entry: an `estimate:` exactly where the family reads one; a
    PCA keeps at most its dataset's bands."""
    reads = params.reads_estimate() if hasattr(params, "reads_estimate") else False  # the family's own rule
    given = "estimate" in config["approaches"][name]
    if reads and not given:
        raise ConfigError(f"config key approaches.{name}.estimate: missing; model.residual models the residual "
                          "around a classical estimate: add `estimate: biharmonic`, or set "
                          "model.residual: false")
    if given and not reads:
        raise ConfigError(f"config key approaches.{name}.estimate: this approach reads no estimate (its kind, or "
                          "model.residual: false); remove the key")
    if config["approaches"][name]["kind"] == "pca":
        _check_components(name, params.components, config["datasets"][config["approaches"][name]["dataset"]])







CIFAR10_TEST_IMAGES = 10000  # the test_batch of CIFAR-10's python version: n_test null reads all of it


def known_test_size(entry: dict) -> int | None:
    """How many images the test split of a dataset entry holds, when its config says so (None: known only once the
    data job has read its files). A given n_test is exact: a source that cannot give that many fails its job."""
    if entry.get("n_test") is not None:
        return entry["n_test"]
    return CIFAR10_TEST_IMAGES if entry["source"] == "cifar10" else None


def check_scored(config: dict) -> None:
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
                                  "image)")
            size, what = n_images, "evaluation.n_images"
        scored[name] = (size, what)
    wanted = config["figures"]["images"] or []  # null: the first six scored, whatever they are
    for name, (size, what) in sorted(scored.items()):
        beyond = [i for i in wanted if size is not None and i >= size]
        if beyond:
            raise ConfigError(f"config key figures.images: test image {beyond[0]} is not scored on datasets."
                              f"{name} ({what}: {size}, test images 0..{size - 1}); give indices in "
                              f"0..{size - 1}")






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
                      ("rawset", "it reads a dataset")):
        if key in approach:
            raise ConfigError(f"config key approaches.{name}.{key}: kind '{approach['kind']}' takes no {key}: "
                              f"({what}); remove it")
    if approach["dataset"] not in datasets:
        raise ConfigError(f"config key approaches.{name}.dataset: unknown dataset '{approach['dataset']}'; "
                          f"define it under datasets: (have {sorted(datasets)})")
    source = datasets[approach["dataset"]]["source"]
    if source not in SPECTRAL_SOURCES:
        raise ConfigError(f"config key approaches.{name}.dataset: '{approach['dataset']}' is an RGB dataset "
                          f"(source {source}); kind '{approach['kind']}' needs a multispectral source "
                          "(leaves or multispectral_folder)")


def _check_components(name: str, components: int, dataset: dict) -> None:
    """A per-pixel PCA keeps at most as many directions as its dataset has bands."""

    n_bands = len(dataset["bands"]) if dataset["source"] == "multispectral_folder" else len(BANDS)
    if not 1 <= components <= n_bands:
        raise ConfigError(f"config key approaches.{name}.params.components: {components}, but its dataset has "
                          f"{n_bands} bands; give 1..{n_bands}")


def check_priors(config: dict) -> None:
    """Each prior's source exists (a raw set with val scenes for its validation); posterior approaches name a
    prior of the data they read; no other approach names one."""
    priors, rawsets = config["priors"], config["rawsets"]
    for name, entry in priors.items():
        key, known = ("rawset", rawsets) if "rawset" in entry else ("dataset", config["datasets"])
        if entry[key] not in known:
            raise ConfigError(f"config key priors.{name}.{key}: unknown {key} '{entry[key]}'; "
                              f"define it under {key}s: (have {sorted(known)})")
        if key == "dataset" and known[entry[key]]["source"] in SPECTRAL_SOURCES:
            raise ConfigError(f"config key priors.{name}.dataset: '{entry[key]}' is a multispectral dataset; an "
                              "EDM prior trains on RGB images or a raw set")
        raw = rawsets.get(entry.get("rawset"), {})
        if raw.get("kind") == "builtin" and raw.get("n_val", 0) < 1:
            raise ConfigError(f"config key rawsets.{entry['rawset']}.n_val: prior {name} validates on the val "
                              "scenes' clean tiles; set n_val: 1 or more")
        try:
            bind(load(PRIOR_METHOD).PriorParams, entry["params"], f"priors.{name}.params")
        except ParamsError as err:
            raise ConfigError(str(err)) from None
    for name, approach in config["approaches"].items():
        row = KINDS[approach["kind"]]
        if not row.posterior:
            if "prior" in approach:
                raise ConfigError(f"config key approaches.{name}.prior: kind '{approach['kind']}' samples around no "
                                  "trained prior; remove the key")
            continue
        if approach["prior"] not in priors:
            raise ConfigError(f"config key approaches.{name}.prior: unknown prior '{approach['prior']}'; define it "
                              f"under priors: (have {sorted(priors)})")
        source = "rawset" if row.reads == "tiles" else "dataset"
        if source not in priors[approach["prior"]]:
            raise ConfigError(f"config key approaches.{name}.prior: '{approach['prior']}' is trained on a "
                              f"{'dataset' if source == 'rawset' else 'raw set'}, and kind '{approach['kind']}' "
                              f"reads {row.reads}; name a prior with {source}:")


