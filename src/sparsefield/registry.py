"""Every approach kind by name, in one explicit dict. It names modules; it imports none of them.

A kind says what its approach reads, whether it is learned, which module wires its family
(`methods/<family>.py`: Params, reconstruct, and for learned kinds build, batches, load), which
objective it trains and which samplers it offers, and which scorer evaluates it. The workflow's
rules dispatch on `reads` and `learned` only, never on a family: adding a kind is one row here
and its modules, and no rule changes.

Modules are resolved with importlib only when a stage needs them (`load`), so a code fingerprint
(`sparsefield.fingerprint.kind_fingerprint`) follows one kind's own modules and a new family
changes no other kind's jobs. A kind's row itself enters only its own kind's fingerprint.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

READERS = {  # reads -> the module whose read_split(inputs, split) gives an approach its data (`stages.data`)
    "images": "sparsefield.data.sets",  # images + fixed masks of a dataset (+ a classical estimate)
    "tiles": "sparsefield.data.tiles",  # a raw set's clean tiles / validated test pairs
    "spectral": "sparsefield.data.spectral",  # a multispectral dataset's images and leaf masks
}


@dataclass(frozen=True)
class Kind:
    reads: str  # "images" (a dataset and a mask scheme), "tiles" (a raw set) or "spectral" (a multispectral dataset)
    method: str  # module wiring the family: Params, reconstruct (+ build, batches, loss, load if learned)
    scorer: str  # module whose `score` evaluates the approach's samples.h5
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
_MASKS, _TILES, _SPECTRAL = "sparsefield.scoring.masks", "sparsefield.scoring.tiles", "sparsefield.scoring.spectral"
PRIOR_METHOD = "sparsefield.methods.edm_prior"  # trains a `priors:` entry (stages.prior): `prior_training`

KINDS: dict[str, Kind] = {
    "nearest": Kind("images", _CLASSICAL, _MASKS, "nearest observed pixel (scipy griddata)"),
    "linear": Kind("images", _CLASSICAL, _MASKS, "piecewise-linear on the Delaunay triangulation (scipy griddata)"),
    "cubic": Kind("images", _CLASSICAL, _MASKS, "Clough-Tocher C1 cubic on the triangulation (scipy griddata)"),
    "biharmonic": Kind("images", _CLASSICAL, _MASKS, "biharmonic inpainting (scikit-image)"),
    "normconv": Kind("images", _CLASSICAL, _MASKS, "multi-scale normalised convolution: the fields' starting point"),
    "score": Kind(
        "images",
        _FIELD,
        _MASKS,
        "Perceiver IO field, VP-SDE score model; Euler-Maruyama (+ Langevin corrector)",
        learned=True,
        objective="sparsefield.objectives.score:VPScore",
        sampling="sparsefield.sampling.vp",
        samplers=("euler_maruyama", "pc"),
    ),
    "denoiser": Kind(
        "images",
        _FIELD,
        _MASKS,
        "Perceiver IO field, x0-denoiser on a cosine schedule; DDPM / DDIM",
        learned=True,
        objective="sparsefield.objectives.denoiser:X0Denoiser",
        sampling="sparsefield.sampling.ddpm",
        samplers=("ddpm", "ddim"),
    ),
    "flow": Kind(
        "images",
        _FIELD,
        _MASKS,
        "Perceiver IO field, flow matching on the straight path; Euler / Heun",
        learned=True,
        objective="sparsefield.objectives.flow:FlowMatching",
        sampling="sparsefield.sampling.flow",
        samplers=("euler", "heun"),
    ),
    "ddo": Kind(
        "images",
        "sparsefield.methods.ddo",
        _MASKS,
        "conditional FNO-UNet operator, blurring diffusion in function space (GRF noise); ancestral per DCT mode",
        learned=True,
        objective="sparsefield.objectives.blurring:BlurringDiffusion",
        sampling="sparsefield.sampling.blurring",
        samplers=("ancestral", "ancestral_x0"),
    ),
    "edm_sparse": Kind(
        "images",
        _EDM,
        _MASKS,
        "unconditional EDM prior on the train images; posterior sampling with the mask likelihood (DPS / DiffPIR)",
        sampling="sparsefield.sampling.posterior",
        samplers=("dps", "diffpir"),
        posterior=True,
    ),
    "edm_lowlight": Kind(
        "tiles",
        _EDM,
        _TILES,
        "unconditional EDM prior on clean raw crops; Poisson-Gaussian likelihood of the short exposure (DPS / DiffPIR)",
        sampling="sparsefield.sampling.posterior",
        samplers=("dps", "diffpir"),
        posterior=True,
        needs=("noise",),
    ),
    "edm_denoise": Kind(
        "tiles",
        _EDM,
        _TILES,
        "the EDM raw prior's denoiser applied once to the amplified short exposure at its calibrated noise std",
        posterior=True,
        needs=("noise",),
    ),
    "vae": Kind(
        "spectral",
        "sparsefield.methods.vae",
        _SPECTRAL,
        "KL autoencoder of multispectral images; per-band MSE + spectral angle on the leaf mask (or every pixel) + KL",
        learned=True,
        objective="sparsefield.objectives.spectral:MaskedSpectralLoss",
    ),
    "pca": Kind("spectral", "sparsefield.methods.pca", _SPECTRAL,
                "per-pixel PCA of the standardised spectra, k components fitted on the train leaf (or all) pixels"),
    "amplify": Kind("tiles", _LOWLIGHT, _TILES, "short exposure x exposure ratio, clipped"),
    "amplify_denoise": Kind("tiles", _LOWLIGHT, _TILES, "amplify, then a scikit-image denoiser (NL-means / wavelet)"),
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
    return tuple(name for name in (READERS[row.reads], row.method, row.objective.partition(":")[0], row.sampling)
                 if name)


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
