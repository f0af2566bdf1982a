"""The builtin multispectral leaf set: 5-band reflectance images of leaves on soil, with their leaf masks.

Leaf spectra come from PROSPECT-D (Féret et al. 2017) as implemented by the `torchrtm` package
(MIT; 400–2500 nm at 1 nm), one leaf at a time in a batch, from traits drawn in typical PROSPECT
ranges: N 1.2–2.5, Cab 10–70 µg/cm², Car = Cab / U(4, 6), Canth 0–3 µg/cm², Cbrown 0–0.6 for one
leaf in five (senescent), else 0, Cw 0.005–0.03 cm, Cm 0.002–0.012 g/cm². Each leaf has a second,
vein spectrum (Cab × 0.6): a midrib and lateral veins. Soil is torchrtm's dry / wet soil, mixed per
pixel by a smooth moisture field and scaled by a brightness in [0.7, 1.1].

Band values integrate a spectrum R(λ) over Gaussian response curves S_b (MicaSense RedEdge-MX
centres and FWHM): b = Σ_λ R S_b / Σ_λ S_b. That is linear, so mixing band values is mixing spectra.
Illumination: a smooth multiplicative field (±10 %) and a shading gradient across each leaf
(±8 %); sensor noise: Gaussian, std `noise` in reflectance, then clipped to [0, 1].
"""

from __future__ import annotations

import warnings

import numpy as np

from sparsefield.data.spectral.sets import SpectralImages, SpectralSet
from sparsefield.io import sha256_arrays

BANDS = ("blue", "green", "red", "red_edge", "nir")
BAND_CENTRES = (475.0, 560.0, 668.0, 717.0, 842.0)  # nm
BAND_FWHM = (32.0, 27.0, 14.0, 12.0, 57.0)  # nm
WAVELENGTHS = np.arange(400.0, 1001.0)  # the part of PROSPECT's 400-2500 nm grid the bands see (NIR: 842 ± 6.5 σ)


def band_responses(wavelengths: np.ndarray) -> np.ndarray:
    """(C, L) Gaussian response curves on `wavelengths`, each normalised to sum 1."""
    sigma = np.asarray(BAND_FWHM)[:, None] / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    curves = np.exp(-0.5 * ((np.asarray(wavelengths)[None, :] - np.asarray(BAND_CENTRES)[:, None]) / sigma) ** 2)
    return curves / curves.sum(1, keepdims=True)


def integrate_bands(spectra: np.ndarray, wavelengths: np.ndarray) -> np.ndarray:
    """(..., L) spectra -> (..., C) band values Σ_λ R S_b / Σ_λ S_b."""
    return np.asarray(spectra, dtype=np.float64) @ band_responses(wavelengths).T


def _torchrtm():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torchrtm.data_loader import load_prospectd_matrix, load_soil_spectra
            from torchrtm.leaf.prospect import prospectd
    except ImportError:
        raise ImportError("leaves: the builtin leaf set needs the PROSPECT model of torchrtm; "
                          "pip install torchrtm") from None
    return prospectd, load_prospectd_matrix, load_soil_spectra


def leaf_reflectance(traits: np.ndarray, structure: np.ndarray) -> np.ndarray:
    """(n, L) PROSPECT-D reflectance on `WAVELENGTHS` of traits (n, 6) = [Cab, Car, Canth, Cbrown, Cw, Cm] and N (n,).

    Only the coefficients' rows of `WAVELENGTHS` are computed: 3.5x less work than the whole 400-2500 nm.
    """
    import torch

    prospectd, coefficients, _ = _torchrtm()
    table = coefficients()  # columns: wavelength, refractive index, specific absorptions
    table = table[(table[:, 0] >= WAVELENGTHS[0]) & (table[:, 0] <= WAVELENGTHS[-1])]
    if not np.array_equal(table[:, 0].numpy(), WAVELENGTHS):
        raise ValueError("leaves: torchrtm's PROSPECT-D table is not on a 1 nm grid from 400 nm; check its version")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the bytes must not depend on the thread count
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reflectance, _ = prospectd(torch.tensor(traits, dtype=torch.float32),
                                       torch.tensor(structure, dtype=torch.float32), CoefMat=table)
    finally:
        torch.set_num_threads(threads)
    return reflectance.double().numpy()


def soil_bands() -> np.ndarray:
    """(2, C) band values of torchrtm's dry and wet soil."""
    _, _, load_soil_spectra = _torchrtm()
    dry, wet = load_soil_spectra()  # on 400-2500 nm at 1 nm
    spectra = np.stack([dry.double().numpy(), wet.double().numpy()])[:, : len(WAVELENGTHS)]
    return integrate_bands(spectra, WAVELENGTHS)


def _smooth(rng, size: int, cells: int = 4) -> np.ndarray:
    """A smooth field in [0, 1] of (size, size): bilinear upsampling of a random (cells x cells) grid."""
    grid = rng.uniform(0.0, 1.0, (cells, cells))
    axis = np.linspace(0, cells - 1, size)
    i0 = np.clip(np.floor(axis).astype(int), 0, cells - 2)
    t = axis - i0
    rows = grid[i0] * (1 - t)[:, None] + grid[i0 + 1] * t[:, None]
    return rows[:, i0] * (1 - t)[None, :] + rows[:, i0 + 1] * t[None, :]


def _traits(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    cab = rng.uniform(10.0, 70.0, n)
    brown = np.where(rng.uniform(size=n) < 0.2, rng.uniform(0.0, 0.6, n), 0.0)
    traits = np.stack([cab, cab / rng.uniform(4.0, 6.0, n), rng.uniform(0.0, 3.0, n), brown,
                       rng.uniform(0.005, 0.03, n), rng.uniform(0.002, 0.012, n)], axis=1)
    return traits, rng.uniform(1.2, 2.5, n)


def _split(rng, n: int, size: int, leaves: tuple[int, int], noise: float, soil: np.ndarray):

    counts = rng.integers(leaves[0], leaves[1] + 1, n)
    traits, structure = _traits(rng, int(counts.sum()))
    veins = traits.copy()
    veins[:, 0] *= 0.6
    bands = integrate_bands(leaf_reflectance(np.concatenate([traits, veins]), np.concatenate([structure] * 2)),
                            WAVELENGTHS)
    body, vein = bands[: len(traits)], bands[len(traits) :]
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = np.empty((n, size, size, len(BANDS)), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=np.uint8)
    leaf = 0
    for i in range(n):
        moisture = _smooth(rng, size)[..., None]
        image = rng.uniform(0.7, 1.1) * (moisture * soil[1] + (1 - moisture) * soil[0])
        mask = np.zeros((size, size), dtype=bool)
        for _ in range(counts[i]):
            cy, cx = rng.uniform(0.2, 0.8, 2)  # the centre is inside: never empty
            length, width = rng.uniform(0.2, 0.45), rng.uniform(0.1, 0.22)
            angle = rng.uniform(0, np.pi)
            u = ((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)) / length  # along the midrib
            v = (-(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)) / width
            shape = u**2 + (v / (1 - 0.35 * u)) ** 2 <= 1  # a leaf pointed at u = 1
            veined = (np.abs(v) < 0.08) | ((np.abs(np.sin(6 * (u + 0.7 * np.abs(v)))) < 0.12) & shape)
            mix = _smooth(rng, size)[..., None]  # within-leaf chlorophyll variation
            spectrum = mix * body[leaf] + (1 - mix) * (0.7 * body[leaf] + 0.3 * vein[leaf])
            spectrum = np.where(veined[..., None], vein[leaf], spectrum)
            shading = 1.0 + 0.08 * np.clip(u, -1, 1) * rng.choice([-1.0, 1.0])
            image = np.where(shape[..., None], spectrum * shading[..., None], image)
            mask |= shape
            leaf += 1
        light = 0.9 + 0.2 * _smooth(rng, size, 3)[..., None]
        images[i] = np.clip(image * light + rng.normal(0.0, noise, image.shape), 0.0, 1.0)
        masks[i] = mask
    return SpectralImages(images, masks, BANDS)


def leaves_images(*, n_train: int, n_test: int, size: int = 32, leaves: tuple[int, int] = (1, 4),
                  noise: float = 0.004, seed: int = 0, where: str = "leaves"):
    """The builtin leaf set (a `data.spectral.sets.SpectralSet`; module docstring), deterministic from `seed`; the test
    split does not depend on n_train.

    Args:
        n_train, n_test: images per split. size: side H = W (>= 8).
        leaves: the fewest and most leaves per image. noise: sensor noise std (reflectance).
    """
    if size < 8:
        raise ValueError(f"{where}: size {size} is below 8 pixels; raise it")
    if not 1 <= leaves[0] <= leaves[1]:
        raise ValueError(f"{where}: leaves must be [fewest, most] with 1 <= fewest <= most, got {list(leaves)}")

    soil = soil_bands()
    train_rng, test_rng = (np.random.default_rng([seed, split]) for split in (0, 1))
    train = _split(train_rng, n_train, size, tuple(leaves), noise, soil)
    test = _split(test_rng, n_test, size, tuple(leaves), noise, soil)

    return SpectralSet(train, test, "leaves", sha256_arrays(train.images, test.images), BAND_CENTRES)
