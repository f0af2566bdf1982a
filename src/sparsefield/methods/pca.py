"""Family `pca` (kind pca): the per-pixel linear reference of the multispectral VAE.

Each pixel's spectrum x ∈ R^C, standardised per band with the training images' mean μ and std s
(the VAE's loss units), is projected on the first k principal directions V_k (C × k) of the
training pixels and mapped back:

    x̂ = μ + s ⊙ V_k V_kᵀ ((x − μ) / s)

k = `components` numbers per pixel: set it to the VAE's z_channels / f² to compare at the same
latent size (the report prints both). fit "leaf" estimates μ, s and V on the training leaf pixels
only (the masked VAE's view), "all" on every pixel (the unmasked one). No training job: the reconstruct
stage fits it on the train split (`fit`, well under a second) before the test images are projected.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sparsefield.samples import Reconstruction

FITS = ("leaf", "all")


@dataclass(frozen=True)
class Params:
    components: int = 2  # k: principal directions kept (numbers per pixel)
    fit: str = "leaf"  # pixels the directions are fitted on: "leaf" (the mask's) or "all"


def fitted_basis(pixels, components: int):
    """(μ, s, V_k) of pixels (P, C): per-band mean and std, the top-k eigenvectors of the standardised covariance."""

    pixels = np.asarray(pixels, dtype=np.float64)
    mean, std = pixels.mean(0), np.maximum(pixels.std(0), 1e-6)
    z = (pixels - mean) / std
    eigenvalues, vectors = np.linalg.eigh(z.T @ z / len(z))  # ascending
    return mean, std, vectors[:, ::-1][:, :components]


def project(images, mean, std, basis):
    """x̂ of images (..., C) on the basis (C, k) (module docstring), float32."""

    z = (np.asarray(images, dtype=np.float64) - mean) / std
    return (mean + std * (z @ basis @ basis.T)).astype(np.float32)


def fit(kind: str, params: Params, train):
    """(μ, s, V_k) fitted on the train split (`data.spectral.sets.SpectralImages`): the reconstruct stage's model."""

    channels = train.images.shape[-1]
    if params.fit not in FITS:
        raise ValueError(f"params.fit must be one of {FITS}, got {params.fit!r}")
    if not 1 <= params.components <= channels:
        raise ValueError(f"params.components is {params.components}; the images have {channels} bands: "
                         f"give 1..{channels}")
    pixels = train.images.reshape(-1, channels)
    if params.fit == "leaf":
        pixels = pixels[train.masks.reshape(-1) > 0]
    if len(pixels) <= channels:
        raise ValueError(f"the train split has {len(pixels)} pixels to fit {channels} bands on "
                         f"(fit: {params.fit}); give the dataset more {'leaf ' if params.fit == 'leaf' else ''}pixels")
    return fitted_basis(np.asarray(pixels, dtype=np.float64), params.components)


def reconstruct(kind: str, params: Params, data, *, model, **_):
    """Every test image of `data` (`data.spectral.sets.SpectralImages`) projected per pixel on `model` (`fit`)."""

    start = time.perf_counter()
    prediction = np.clip(project(data.images, *model), 0.0, 1.0)
    seconds = (time.perf_counter() - start) / max(len(data.images), 1)
    attrs = dict(nfe=0, seconds_per_image=seconds, latent_per_pixel=float(params.components))
    return Reconstruction(prediction[:, None], attrs)
