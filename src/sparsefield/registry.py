"""Every approach kind by name, in one explicit dict. It names modules; it imports none of them.

A kind says what its approach reads (a modality), whether it is learned, which module wires its family
(`methods/<family>.py`), which objective it trains and which samplers it offers. A modality (`MODALITIES`)
says how its approaches' data is read, which files a job needs, how its results are labelled, scored and
reported. The workflow's rules dispatch on `reads` and `learned` only, never on a family or a modality's
name: adding a kind is one row here and its modules, adding a modality one row and its modules; no rule
changes.

Modules are resolved with importlib only when a stage needs them (`load`), so a code fingerprint
(`sparsefield.fingerprint.kind_fingerprint`) follows one kind's own modules and a new family
changes no other kind's jobs. A kind's row itself enters only its own kind's fingerprint.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Modality:
    """What approaches of one `reads` value see, and how they are scored and reported.

    files: the files a job of an approach reads, by the name the reader takes them under, as templates over
    the approach's config entry; `optional` ones join when the entry has that key (an `estimate:`) or the
    kind `needs` it (a raw set's noise calibration). labels: the dataset and scheme columns of its results.
    evaluated: the `evaluation:` key bounding how many test items it is scored on (None: all of them).
    """

    reader: str  # module: read_split(inputs, split) and CHUNK, the items a job holds at once
    scorer: str  # module: score(chunks, test) -> metrics.csv's rows
    report: str  # module: section(runs, table, ...) -> its part of comparison.md and its figures
    keys: tuple[str, ...]  # the entry keys naming its data, each a section of the config (dataset -> datasets)
    files: dict[str, str]
    optional: dict[str, str]
    labels: tuple[str, str]
    evaluated: str | None = None


MODALITIES: dict[str, Modality] = {
    "images": Modality(  # a dataset's images on a scheme's fixed masks (+ a classical estimate)
        "sparsefield.data.images.sets", "sparsefield.scoring.masks", "sparsefield.stages.sections.images",
        ("dataset", "scheme"),
        {"data": "results/data/{dataset}.h5", "masks": "results/masks/{dataset}/{scheme}.h5"},
        {"estimate": "results/estimates/{dataset}/{scheme}/{estimate}.h5"},
        ("{dataset}", "{scheme}"), "n_images"),
    "tiles": Modality(  # a raw set's clean tiles and validated noisy/clean test pairs
        "sparsefield.data.raw.tiles", "sparsefield.scoring.tiles", "sparsefield.stages.sections.tiles",
        ("rawset",), {"metadata": "results/tiles/{rawset}/metadata.json"},
        {"noise": "results/tiles/{rawset}/noise.json"}, ("{rawset}", "lowlight"), "n_tiles"),
    "spectral": Modality(  # a multispectral dataset's images and their leaf masks
        "sparsefield.data.spectral.sets", "sparsefield.scoring.spectral", "sparsefield.stages.sections.spectral",
        ("dataset",), {"data": "results/data/{dataset}.h5"}, {}, ("{dataset}", "leaf")),
}


@dataclass(frozen=True)
class Kind:
    reads: str  # a MODALITIES key: "images" (a dataset and a mask scheme), "tiles" (a raw set), "spectral"
    method: str  # module wiring the family: Params, reconstruct (+ fit, rebuild, training, sweep)
    description: str
    learned: bool = False  # has a train stage (results/{approach}/model.pt)
    objective: str = ""  # "module:Class" of the training objective (learned kinds)
    sampling: str = ""  # module holding the objective's SAMPLERS (learned kinds)
    samplers: tuple[str, ...] = ()  # the sampler names of that module (config checks them)
    posterior: bool = False  # samples around a trained prior its approach names (`prior:`, results/priors/)
    needs: tuple[str, ...] = ()  # further artifacts of what it reads: "noise" (the raw set's noise calibration)


_CLASSICAL = "sparsefield.methods.interpolation"
_FIELD = "sparsefield.methods.field"
_LOWLIGHT = "sparsefield.methods.lowlight"
_EDM = "sparsefield.methods.edm_posterior"
PRIOR_METHOD = "sparsefield.methods.edm_prior"  # trains a `priors:` entry (stages.prior): `prior_training`

KINDS: dict[str, Kind] = {
    "nearest": Kind("images", _CLASSICAL, "nearest observed pixel (scipy griddata)"),
    "linear": Kind("images", _CLASSICAL, "piecewise-linear on the Delaunay triangulation (scipy griddata)"),
    "cubic": Kind("images", _CLASSICAL, "Clough-Tocher C1 cubic on the triangulation (scipy griddata)"),
    "biharmonic": Kind("images", _CLASSICAL, "biharmonic inpainting (scikit-image)"),
    "normconv": Kind("images", _CLASSICAL, "multi-scale normalised convolution: the fields' starting point"),
    "score": Kind(
        "images",
        _FIELD,
        "Perceiver IO field, VP-SDE score model; Euler-Maruyama (+ Langevin corrector)",
        learned=True,
        objective="sparsefield.objectives.score:VPScore",
        sampling="sparsefield.sampling.vp",
        samplers=("euler_maruyama", "pc"),
    ),
    "denoiser": Kind(
        "images",
        _FIELD,
        "Perceiver IO field, x0-denoiser on a cosine schedule; DDPM / DDIM",
        learned=True,
        objective="sparsefield.objectives.denoiser:X0Denoiser",
        sampling="sparsefield.sampling.ddpm",
        samplers=("ddpm", "ddim"),
    ),
    "flow": Kind(
        "images",
        _FIELD,
        "Perceiver IO field, flow matching on the straight path; Euler / Heun",
        learned=True,
        objective="sparsefield.objectives.flow:FlowMatching",
        sampling="sparsefield.sampling.flow",
        samplers=("euler", "heun"),
    ),
    "ddo": Kind(
        "images",
        "sparsefield.methods.ddo",
        "conditional FNO-UNet operator, blurring diffusion in function space (GRF noise); ancestral per DCT mode",
        learned=True,
        objective="sparsefield.objectives.blurring:BlurringDiffusion",
        sampling="sparsefield.sampling.blurring",
        samplers=("ancestral", "ancestral_x0"),
    ),
    "edm_sparse": Kind(
        "images",
        _EDM,
        "unconditional EDM prior on the train images; posterior sampling with the mask likelihood (DPS / DiffPIR)",
        sampling="sparsefield.sampling.posterior",
        samplers=("dps", "diffpir"),
        posterior=True,
    ),
    "edm_lowlight": Kind(
        "tiles",
        _EDM,
        "unconditional EDM prior on clean raw crops; Poisson-Gaussian likelihood of the short exposure (DPS / DiffPIR)",
        sampling="sparsefield.sampling.posterior",
        samplers=("dps", "diffpir"),
        posterior=True,
        needs=("noise",),
    ),
    "edm_denoise": Kind(
        "tiles",
        _EDM,
        "the EDM raw prior's denoiser applied once to the amplified short exposure at its calibrated noise std",
        posterior=True,
        needs=("noise",),
    ),
    "vae": Kind(
        "spectral",
        "sparsefield.methods.vae",
        "KL autoencoder of multispectral images; per-band MSE + spectral angle on the leaf mask (or every pixel) + KL",
        learned=True,
        objective="sparsefield.objectives.spectral:MaskedSpectralLoss",
    ),
    "pca": Kind("spectral", "sparsefield.methods.pca",
                "per-pixel PCA of the standardised spectra, k components fitted on the train leaf (or all) pixels"),
    "amplify": Kind("tiles", _LOWLIGHT, "short exposure x exposure ratio, clipped"),
    "amplify_denoise": Kind("tiles", _LOWLIGHT, "amplify, then a scikit-image denoiser (NL-means / wavelet)"),
}


def load(name: str):
    """The module `a.b.c`, or the attribute `a.b.c:Name` of it."""
    module, _, attribute = name.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


def modules(kind: str) -> tuple[str, ...]:
    """The modules a kind's train, reconstruct and sweep jobs run besides the stage's own: its reader, family,
    objective and sampling (its evaluate jobs: its reader and scorer, `fingerprint.kind_fingerprint`)."""
    row = KINDS[kind]
    return tuple(name for name in (MODALITIES[row.reads].reader, row.method, row.objective.partition(":")[0],
                                   row.sampling) if name)


def read_split(reads: str, inputs, split: str):
    """The `split` ("train" or "test") of what an approach of this `reads` sees: its modality's reader's
    `read_split(inputs, split)`, loaded by name, so each kind's code fingerprint follows only its own reader."""
    if reads not in MODALITIES:
        raise ValueError(f"unknown reads {reads!r}; the registry's modalities are {', '.join(map(repr, MODALITIES))}")
    return load(MODALITIES[reads].reader).read_split(inputs, split)


def reads_files(entry: dict) -> dict[str, str]:
    """{name: path} of the files a job of the approach `entry` reads (its modality's `files` and `optional`)."""
    kind = KINDS[entry["kind"]]
    modality = MODALITIES[kind.reads]
    wanted = {**modality.files, **{name: path for name, path in modality.optional.items()
                                   if name in entry or name in kind.needs}}
    return {name: path.format(**entry) for name, path in wanted.items()}


def labels(entry: dict) -> dict[str, str]:
    """The dataset and scheme columns of the approach `entry`'s results."""
    dataset, scheme = MODALITIES[KINDS[entry["kind"]].reads].labels
    return {"dataset": dataset.format(**entry), "scheme": scheme.format(**entry)}


def approaches_where(approaches: dict[str, dict], *, learned: bool | None = None, reads: str | None = None,
                     sampled: bool | None = None, posterior: bool | None = None) -> list[str]:
    """Names of the configured approaches whose kind matches every filter given (None = any).

    `sampled`: the kind has samplers, so it gets an NFE sweep.
    """

    def keep(kind: Kind) -> bool:
        return ((learned is None or kind.learned == learned) and (reads is None or kind.reads == reads)
                and (sampled is None or bool(kind.samplers) == sampled)
                and (posterior is None or kind.posterior == posterior))

    return sorted(name for name, entry in approaches.items() if keep(KINDS[entry["kind"]]))
