"""The builtin multispectral leaf set (source `leaves`): 5-band reflectance images of leaves on soil with leaf masks.

Bands: MicaSense RedEdge-MX blue, green, red, red edge and NIR (`BAND_CENTRES`, `BAND_FWHM`), each a Gaussian
response S_b(λ); a spectrum R(λ) gives the band value b = Σ_λ R(λ) S_b(λ) / Σ_λ S_b(λ). That is linear in R,
so mixing band values is mixing spectra, and everything below mixes band values.

Leaves: PROSPECT-D (Féret et al. 2017, Remote Sens. Environ. 193: 204-215) as implemented by `torchrtm`
(MIT), evaluated on `SPECTRAL_RANGE` only (where the responses are > 1e-6 of their peaks). Traits per leaf,
uniform in typical PROSPECT ranges:

    N 1.2-2.5   Cab 10-70 µg/cm²   Car = Cab / U(4, 6)   Canth 0-3 µg/cm²
    Cbrown 0-0.6 for one leaf in five (senescent), else 0   Cw 0.005-0.03 cm   Cm 0.002-0.012 g/cm²

Each leaf also has a vein spectrum (Cab and Car × 0.45): a midrib and chevron lateral veins, drawn
anti-aliased. The tissue between them mixes the leaf and vein spectra by a smooth field
(R = R_leaf + 0.5 (1 − m) (R_vein − R_leaf), m ∈ [0, 1]): a smooth within-leaf chlorophyll variation.
Shapes: ellipses pointed towards the tip, half-width w(u) = W √(1 − u²) (1 − u)^τ along the midrib
u ∈ [−1, 1] (τ ∈ [0, 0.6]; τ = 0 an ellipse); later leaves occlude earlier ones. Every image has leaves[0]
to leaves[1] leaves; the first one's centre lies in the middle 60 % of the image and its half-width is
at least 1.5 px, so it always covers a pixel.

Background: torchrtm's dry and wet soil spectra mixed per pixel by a smooth moisture field, times a
brightness in [0.7, 1.1] and a fine grain of ±4 %. Illumination: a smooth multiplicative field
(0.9-1.1) over the image and a linear shading gradient of ±3-10 % across each leaf. Sensor noise:
Gaussian with std `noise` (reflectance), then clipped to [0, 1]. The leaf mask (before noise) is the
union of the leaf shapes.

Deterministic from `seed`: train and test draw from separate streams, so the test split does not
depend on n_train; PROSPECT runs on one torch thread so the bytes do not depend on the thread count.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sparsefield.data.spectral import SpectralSet

BANDS = ("blue", "green", "red", "red_edge", "nir")
BAND_CENTRES = (475.0, 560.0, 668.0, 717.0, 842.0)  # nm, MicaSense RedEdge-MX
BAND_FWHM = (32.0, 27.0, 14.0, 12.0, 57.0)  # nm
SPECTRAL_RANGE = (400.0, 1000.0)  # nm: blue's response at 400 nm is 3e-7 of its peak, NIR's at 1000 nm 4e-10
TRAITS = ("Cab", "Car", "Canth", "Cbrown", "Cw", "Cm")  # PROSPECT-D's trait columns, in order; N apart
VEIN_CHLOROPHYLL = 0.45  # a vein's Cab and Car relative to its leaf's
PIXELS_PER_CHUNK = 2**22  # images are composed in chunks of about this many leaf-slot pixels


def band_responses(wavelengths: np.ndarray) -> np.ndarray:
    """(C, L) Gaussian response curves S_b on `wavelengths` (σ = FWHM / (2 √(2 ln 2))), each summing to 1."""
    sigma = np.asarray(BAND_FWHM)[:, None] / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    offset = np.asarray(wavelengths, dtype=np.float64)[None, :] - np.asarray(BAND_CENTRES)[:, None]
    curves = np.exp(-0.5 * (offset / sigma) ** 2)
    return curves / curves.sum(1, keepdims=True)


def integrate_bands(spectra: np.ndarray, wavelengths: np.ndarray) -> np.ndarray:
    """(..., L) spectra R on `wavelengths` -> (..., C) band values Σ_λ R(λ) S_b(λ) / Σ_λ S_b(λ), float64."""
    return np.asarray(spectra, dtype=np.float64) @ band_responses(wavelengths).T


def _torchrtm():
    """torchrtm's `prospectd`, its coefficient table and `load_soil_spectra` (its import warnings silenced)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit deprecation FutureWarnings at import
            from torchrtm.data_loader import load_prospectd_matrix, load_soil_spectra
            from torchrtm.leaf.prospect import prospectd
    except ImportError:
        message = "leaves: the builtin leaf set needs the PROSPECT model of torchrtm; pip install torchrtm"
        raise ImportError(message) from None
    return prospectd, load_prospectd_matrix, load_soil_spectra


def _in_range(wavelengths: np.ndarray) -> np.ndarray:
    return (wavelengths >= SPECTRAL_RANGE[0]) & (wavelengths <= SPECTRAL_RANGE[1])


def leaf_reflectance(traits: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """PROSPECT-D reflectance of n leaves on `SPECTRAL_RANGE`.

    Args:
        traits: N and the `TRAITS` (Cab, Car, Canth, Cbrown, Cw, Cm), each an (n,) array.

    Returns:
        (wavelengths (L,) nm, reflectance (n, L) float64); one call to torchrtm, on one thread.
    """
    import torch

    prospectd, load_prospectd_matrix, _ = _torchrtm()
    table = load_prospectd_matrix().double()  # columns: wavelength, refractive index, 6 absorption coefficients
    wavelengths = table[:, 0].numpy()
    keep = _in_range(wavelengths)
    columns = torch.from_numpy(np.stack([np.asarray(traits[name], dtype=np.float64) for name in TRAITS], axis=1))
    structure = torch.from_numpy(np.asarray(traits["N"], dtype=np.float64))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the bytes must not depend on the thread count
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reflectance, _ = prospectd(columns, structure, CoefMat=table[torch.from_numpy(keep)], batch_size=4096)
    finally:
        torch.set_num_threads(threads)
    return wavelengths[keep], reflectance.numpy()


def soil_reflectance() -> tuple[np.ndarray, np.ndarray]:
    """torchrtm's dry and wet soil on `SPECTRAL_RANGE`: (wavelengths (L,) nm, reflectance (2, L) float64).

    Both rise slowly and smoothly from blue to NIR (NIR / red ≈ 1.3 dry, 1.7 wet): no red edge.
    """
    _, _, load_soil_spectra = _torchrtm()
    dry, wet = load_soil_spectra()
    wavelengths = 400.0 + np.arange(len(dry))  # torchrtm's grid: 400-2500 nm at 1 nm, as PROSPECT's
    keep = _in_range(wavelengths)
    return wavelengths[keep], np.stack([dry.double().numpy(), wet.double().numpy()])[:, keep]


def _interpolation(cells: int, size: int) -> np.ndarray:
    """(size, cells) weights taking a cells-point grid to size pixel centres, smoothstep h(t) = 3t² − 2t³ between
    grid points; every row sums to 1."""
    position = (np.arange(size) + 0.5) / size * (cells - 1)
    low = np.minimum(np.floor(position).astype(int), cells - 2)
    t = position - low
    h = t * t * (3.0 - 2.0 * t)
    weights = np.zeros((size, cells))
    weights[np.arange(size), low] = 1.0 - h
    weights[np.arange(size), low + 1] = h
    return weights


def _smooth(grid: np.ndarray, size: int) -> np.ndarray:
    """Smooth fields (..., size, size) in the range of `grid` (..., cells, cells): A · grid · Aᵀ."""
    weights = _interpolation(grid.shape[-1], size)
    return np.einsum("sc,...cd,td->...st", weights, grid, weights)


def _draw(rng: np.random.Generator, n: int, slots: int, size: int, fewest: int):
    """Every random number of n images with `slots` leaf slots each (but the noise), in a fixed order.

    Returns:
        (per image: arrays (n, ...), per leaf slot: arrays (n, slots)); lengths and centres in px.
    """
    image = dict(
        count=rng.integers(fewest, slots + 1, n),
        moisture=rng.uniform(0.0, 1.0, (n, 4, 4)),  # the smooth fields' grids
        grain=rng.uniform(-1.0, 1.0, (n, max(size // 4, 2), max(size // 4, 2))),
        light=rng.uniform(0.0, 1.0, (n, 3, 3)),
        tissue=rng.uniform(0.0, 1.0, (n, slots, 3, 3)),
        brightness=rng.uniform(0.7, 1.1, n),
    )
    shape = (n, slots)
    length = np.maximum(rng.uniform(0.22, 0.5, shape) * size, 4.5)  # half-length L; W >= 0.35 L >= 1.5 px
    cab = rng.uniform(10.0, 70.0, shape)
    senescent = rng.uniform(size=shape) < 0.2
    leaf = dict(
        y=rng.uniform(0.2, 0.8, shape) * size,
        x=rng.uniform(0.2, 0.8, shape) * size,
        length=length,
        width=length * rng.uniform(0.35, 0.6, shape),  # half-width W
        angle=rng.uniform(0.0, 2 * np.pi, shape),  # of the tip
        tip=rng.uniform(0.0, 0.6, shape),  # τ
        shade=rng.uniform(0.03, 0.1, shape),
        shade_angle=rng.uniform(0.0, 2 * np.pi, shape),
        vein_spacing=rng.uniform(0.35, 0.55, shape),  # between lateral veins, along u
        vein_slope=rng.uniform(0.5, 1.0, shape),  # lateral veins: u + slope |v| = const
        vein_phase=rng.uniform(0.0, 1.0, shape),
        N=rng.uniform(1.2, 2.5, shape),
        Cab=cab,
        Car=cab / rng.uniform(4.0, 6.0, shape),
        Canth=rng.uniform(0.0, 3.0, shape),
        Cbrown=np.where(senescent, rng.uniform(0.0, 0.6, shape), 0.0),
        Cw=rng.uniform(0.005, 0.03, shape),
        Cm=rng.uniform(0.002, 0.012, shape),
    )
    return image, leaf


def _leaf_bands(leaf: dict[str, np.ndarray], active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, slots, C) band values of every active slot's leaf and vein spectra (0 for empty slots): one PROSPECT call."""
    traits = {name: leaf[name][active] for name in ("N", *TRAITS)}
    vein = {**traits, "Cab": traits["Cab"] * VEIN_CHLOROPHYLL, "Car": traits["Car"] * VEIN_CHLOROPHYLL}
    wavelengths, spectra = leaf_reflectance({name: np.concatenate([traits[name], vein[name]]) for name in traits})
    bands = integrate_bands(spectra, wavelengths)
    body, veins = (np.zeros((*active.shape, len(BANDS))) for _ in range(2))
    body[active], veins[active] = bands[: active.sum()], bands[active.sum() :]
    return body, veins


def _compose(image: dict, leaf: dict, body: np.ndarray, veins: np.ndarray, soil: np.ndarray, size: int):
    """Noise-free images (n, size, size, C) float64 and leaf masks (n, size, size) bool of a chunk of draws."""
    n, slots = leaf["length"].shape
    moisture = _smooth(image["moisture"], size)[..., None]
    grain = 1.0 + 0.04 * _smooth(image["grain"], size)[..., None]
    out = image["brightness"][:, None, None, None] * grain * (soil[0] + moisture * (soil[1] - soil[0]))
    mask = np.zeros((n, size, size), dtype=bool)
    tissue = _smooth(image["tissue"], size)[..., None]  # (n, slots, size, size, 1)
    active = np.arange(slots)[None, :] < image["count"][:, None]
    centres = np.arange(size) + 0.5
    for k in range(slots):  # later leaves on top
        at = {key: value[:, k, None, None] for key, value in leaf.items()}  # (n, 1, 1): broadcast over pixels
        dy, dx = centres[None, :, None] - at["y"], centres[None, None, :] - at["x"]
        cos, sin = np.cos(at["angle"]), np.sin(at["angle"])
        along, across = dx * cos + dy * sin, dy * cos - dx * sin  # px, along the midrib (to the tip) and across
        u, v = along / at["length"], across / at["width"]
        half_width = np.sqrt(np.clip(1 - u**2, 0, None)) * np.clip(1 - u, 0, None) ** at["tip"]  # w(u) / W
        inside = (np.abs(u) < 1) & (np.abs(v) <= half_width) & active[:, k, None, None]
        midrib = np.exp(-0.5 * (across / np.maximum(0.4, 0.06 * at["width"])) ** 2)
        phase = (u + at["vein_slope"] * np.abs(v)) / at["vein_spacing"] - at["vein_phase"]
        off = np.abs(phase - np.round(phase)) * at["vein_spacing"]  # to the nearest lateral vein, in u units
        distance = off / np.sqrt(at["length"] ** -2 + (at["vein_slope"] / at["width"]) ** 2)  # normal, px
        lateral = 0.6 * np.exp(-0.5 * (distance / 0.35) ** 2) * np.clip(1 - np.abs(v), 0, 1)
        vein = np.maximum(midrib, lateral)[..., None]
        body_k, vein_k = body[:, k, None, None, :], veins[:, k, None, None, :]
        between = body_k + 0.5 * (1 - tissue[:, k]) * (vein_k - body_k)
        shading = 1 + at["shade"] * (u * np.cos(at["shade_angle"]) + v * np.sin(at["shade_angle"]))
        out = np.where(inside[..., None], (between + vein * (vein_k - between)) * shading[..., None], out)
        mask |= inside
    light = 0.9 + 0.2 * _smooth(image["light"], size)[..., None]
    return out * light, mask


def _split(rng: np.random.Generator, n: int, size: int, leaves: tuple[int, int], noise: float, soil: np.ndarray):
    """(images (n, size, size, C) float32, masks (n, size, size) uint8) of one split."""
    image, leaf = _draw(rng, n, leaves[1], size, leaves[0])
    body, veins = _leaf_bands(leaf, np.arange(leaves[1])[None, :] < image["count"][:, None])
    images = np.empty((n, size, size, len(BANDS)), dtype=np.float32)
    masks = np.empty((n, size, size), dtype=np.uint8)
    chunk = max(1, PIXELS_PER_CHUNK // (leaves[1] * size * size))
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        chunk_image = {key: value[part] for key, value in image.items()}
        chunk_leaf = {key: value[part] for key, value in leaf.items()}
        clean, masks[part] = _compose(chunk_image, chunk_leaf, body[part], veins[part], soil, size)
        images[part] = np.clip(clean + rng.normal(0.0, noise, clean.shape), 0.0, 1.0)
    return images, masks


def leaves_images(*, n_train: int, n_test: int, size: int = 32, leaves: tuple[int, int] = (1, 4),
                  noise: float = 0.004, seed: int = 0, where: str = "leaves") -> SpectralSet:  # fmt: skip
    """The builtin leaf set (module docstring), deterministic from `seed`.

    Args:
        n_train, n_test: images per split (>= 1).
        size: side H = W in pixels (>= 8).
        leaves: the fewest and the most leaves per image, 1 <= fewest <= most.
        noise: sensor noise std in reflectance units.
        seed: seed of everything; the test split depends on seed, n_test, size, leaves and noise only.
        where: what the error messages call this set (`data.spectral.build_spectral` passes the dataset name).

    Returns:
        SpectralSet of float32 (n, size, size, 5) reflectance and uint8 masks, bands `BANDS`, wavelengths
        `BAND_CENTRES`, sha256 of the generated arrays.
    """
    from sparsefield.data.spectral import SpectralImages, SpectralSet  # data.spectral imports this module
    from sparsefield.io import sha256_arrays

    if n_train < 1 or n_test < 1:
        raise ValueError(f"{where}: n_train and n_test must be >= 1, got {n_train} and {n_test}")
    if size < 8:
        raise ValueError(f"{where}: size {size} is below 8 pixels; raise it")
    fewest, most = leaves
    if not 1 <= fewest <= most:
        raise ValueError(f"{where}: leaves must be [fewest, most] with 1 <= fewest <= most, got {list(leaves)}")
    if noise < 0:
        raise ValueError(f"{where}: noise must be >= 0, got {noise}")
    wavelengths, soil = soil_reflectance()
    soil = integrate_bands(soil, wavelengths)
    train_rng, test_rng = (np.random.default_rng([seed, stream]) for stream in (0, 1))
    train = _split(train_rng, n_train, size, (fewest, most), noise, soil)
    test = _split(test_rng, n_test, size, (fewest, most), noise, soil)
    return SpectralSet(SpectralImages(*train, BANDS), SpectralImages(*test, BANDS), "leaves",
                       sha256_arrays(*train, *test), BAND_CENTRES)  # fmt: skip
