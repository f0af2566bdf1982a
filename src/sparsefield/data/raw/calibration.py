"""Noise calibration of a raw set from its train pairs: variance against mean, then levels against ISO.

What a user with a real camera does (Foi et al. 2008, "Practical Poissonian-Gaussian noise
modeling"; the photon-transfer curve): per scene and channel, the variance of the short
exposure around its expected value is an affine function of that value,

    y = x / r + n,   Var n = a_c (x / r) + b_c                                   (1)

with y the short exposure and x the clean (long-exposure) value, both LINEAR in [0, 1]: the
developed tiles (white balance and colour matrix applied, `raw.develop`) mapped back from
[-1, 1] by (t + 1) / 2, the short one UNAMPLIFIED (its ratio r = 10 s / exposure is not applied).
(1) is the Poisson-Gaussian likelihood of the low-light restoration; a_c is the shot-noise gain,
b_c the signal-independent floor (read noise and the 14-bit rounding). The levels depend on the
ISO (the analogue gain), not on r: every capture of a scene shares one ISO, as in SID's lists,
so the ratios of a scene are pooled. Across scenes, shot noise scales with the gain and the floor
follows a power law (Brooks et al. 2019, Sec. 3.2, a line in log-log):

    a_c = k_c ISO,   log b_c = p_c log ISO + q_c                                 (2)

so that a new capture at any ISO gets its levels (`noise_levels`).

The fit (`fit_affine_variance`): samples binned by their mean (quantile bins plus equal-width
ones for the sparse bright tail), the sample variance of y - x / r per bin, then weighted least
squares of (1), each bin weighted by the inverse variance of its variance, (2 v^2 + a^3 m) /
(n - 1) (a^3 m: the Poisson fourth cumulant), iterated on the fitted line. Outliers: samples
farther than 8 std from their bin's mean are dropped (Poisson with >= 0.8 electrons of read noise
never gets there) and bins more than 3 std off the line are down-weighted (Huber).

Corrections, each measured on the builtin set:
- The long exposure is noisy too: its value / r has variance (a r m + b) / r^2 = a m / r + b / r^2.
  Its read part is r^2 times smaller, its shot part only r times (1 % of the slope at x100, not
  negligible against a 1-2 % standard error), so the residual has variance a m (1 + 1/r) +
  b (1 + 1/r^2): the fit regresses on m (1 + 1/r) and ignores b's 1e-4.
- LibRaw clips values below black to 0 (before demosaicing, and sRGB values below 0 after the
  colour matrix). The builtin scenes are dark: at ISO 10874 5-7 % of the R and B values are 0 (16 %
  in the darkest bins at x300), at ISO 120 67 % of R. Re-developing the same captures with the DN
  raised by a neutral offset (nothing clips) and subtracting it measures the bias of a fit on every
  pixel: a off by 9 % (median over 27 scene-channels, 38 % at the 90th percentile), b by -13 to
  -98 %. Per channel, only pixels with m_c >= 2 std (`CLIP_SIGMAS`, the std from the fitted line,
  iterated) are fitted: the clip bias of a is then 2 % (median; 3 std: 1.5 %, but the brightest
  10-30 % of a dark channel left then determine the line poorly). A channel with too few such
  pixels is fitted at 1 std, and says so ("clip_sigmas").
- Pixels whose clean value exceeds `HIGHLIGHT` in any channel (white clips after the white
  balance gains of up to 2.4) and those whose clean value is 0 are left out.
(1) with one a_c per channel is itself approximate in the tile domain: the colour matrix mixes
the camera channels, so the variance of R also grows with G and B; fits on the darker and brighter
halves of a scene differ by 1-30 %. Below ISO ~400 the raw noise is under one DN over most of
the dark builtin scenes, rounding dominates and a_c is no shot noise: the configured set's ISO 120
scene gets a_c 1.5 times its ISO 200 scene's (`raw_check.calibrate_raw`, whose bins span whole DN, gets both
right). b_c is poorly determined (+-50 % and worse); a_c to a few per cent at ISO >= 1000.

`raw_check.calibrate_raw` is the same fit on the raw mosaic (rawpy's `raw_image_visible`, (DN - black) /
(white - black), all CFA sites pooled), the domain where the builtin writer draws its levels
(`data.raw.synth.expose`): Var y = shot E y + read + 1/12 DN^2 of rounding. There is no clip (black
512 DN is far above the read noise; checked). Rounding adds exactly 1/12 DN^2 only over whole DN
(Widrow): where the noise is below one DN the residual is a deterministic function of the mean,
so the bins span whole DN (at least `MIN_STEPS`) with edges at half DN. It checks that the fit
recovers the DNG's NoiseProfile: over 36 scenes of 96 px, shot to 0.9 standard errors rms (max
9 %), read to 1 standard error where read > 1/12 DN^2; below that read is not identifiable.
"""

from __future__ import annotations

import os

import numpy as np

from sparsefield.data.raw.tiles import TileDataset, linear_rgb, load_metadata, select

CHANNELS = ("R", "G", "B")
BINS, MIN_COUNT = 48, 64  # quantile bins of the mean signal; bins with fewer samples are dropped
OUTLIER_SIGMAS = 8.0  # samples this far from their bin's mean are outliers
HUBER = 3.0  # bins this many std off the line are down-weighted
CLIP_SIGMAS = 2.0  # tiles: fit only where the mean is this many std above the clip at 0
HIGHLIGHT = 0.9  # tiles and raw: leave out pixels whose long exposure exceeds this (clipped at white)
MAX_PIXELS = 2**22  # pixels a scene's fit uses at most (evenly strided over its pairs): the job's memory bound
MIN_STEPS = 2  # rounded values: bins span whole steps, at least this many


def _edges(mean: np.ndarray, bins: int, quantum: float) -> np.ndarray:
    """Quantile and equal-width bin edges of `mean`; with a rounding step `quantum`, moved to half steps and
    `MIN_STEPS` steps apart at least."""
    fractions = np.linspace(0.0, 1.0, bins + 1)
    edges = np.unique(np.concatenate([np.quantile(mean, fractions), mean.min() + fractions * np.ptp(mean)]))
    if quantum <= 0:
        return edges
    steps = np.unique(np.round(edges / quantum - 0.5) + 0.5)
    kept = [steps[0]]
    for step in steps[1:]:
        if step - kept[-1] >= MIN_STEPS:
            kept.append(step)
    return np.array(kept[1:-1]) * quantum  # the outer bins, partly empty, are dropped


def _bins(mean, signal, residual, edges, min_count):
    """Per bin of `mean`: mean signal s, sample variance v of the residual, count n, residual mean mu."""
    index = np.searchsorted(edges, mean, side="right") - 1
    inside = (index >= 0) & (index < len(edges) - 1) & (mean <= edges[-1])
    index = np.where(inside, index, len(edges) - 1)  # one extra bin collects the samples outside
    n = np.bincount(index, minlength=len(edges)).astype(np.float64)
    safe = np.maximum(n, 1.0)
    s = np.bincount(index, signal, minlength=len(n)) / safe
    mu = np.bincount(index, residual, minlength=len(n)) / safe
    v = np.bincount(index, (residual - mu[index]) ** 2, minlength=len(n)) / np.maximum(n - 1.0, 1.0)
    ok = n >= min_count
    ok[-1] = False
    return s[ok], v[ok], n[ok], mu, index, inside


def _wls(s: np.ndarray, v: np.ndarray, n: np.ndarray, iterations: int = 6) -> tuple[float, float, np.ndarray]:
    """v = a s + b by weighted least squares, weights 1 / Var(v) from the current line (module docstring)."""
    design = np.stack([s, np.ones_like(s)], axis=1)
    floor = v[v > 0].min() if (v > 0).any() else 1e-30
    var_v = 2.0 * np.maximum(v, floor) ** 2 / np.maximum(n - 1.0, 1.0)  # first pass: the bins' own variances
    robust = np.ones_like(s)
    for _ in range(iterations):
        w = robust / var_v
        cov = np.linalg.inv(design.T @ (design * w[:, None]))
        a, b = cov @ (design.T @ (w * v))
        line = np.maximum(a * s + b, floor)
        var_v = (2.0 * line**2 + max(a, 0.0) ** 3 * s) / np.maximum(n - 1.0, 1.0)
        robust = np.minimum(1.0, HUBER / np.maximum(np.abs(v - line) / np.sqrt(var_v), 1e-12))
    return float(a), float(b), cov


def _fit(mean, value, *, signal=None, bins: int = BINS, min_count: int = MIN_COUNT, quantum: float = 0.0,
         passes: int = 3) -> dict:
    """`fit_affine_variance` with the standard errors of a and b and the number of samples used."""
    mean, value = np.asarray(mean, np.float64).ravel(), np.asarray(value, np.float64).ravel()
    signal = mean if signal is None else np.asarray(signal, np.float64).ravel()
    if not (mean.shape == value.shape == signal.shape) or mean.size == 0:
        raise ValueError(f"fit_affine_variance: need equal, non-empty mean, value and signal, got "
                         f"{mean.size}, {value.size}, {signal.size} samples")
    residual = value - mean
    edges = _edges(mean, bins, quantum)
    keep = np.ones(mean.shape, dtype=bool)
    for _ in range(passes):
        s, v, n, mu, index, inside = _bins(mean[keep], signal[keep], residual[keep], edges, min_count)
        if len(s) < 2 or np.ptp(s) <= 0:
            raise ValueError(
                f"fit_affine_variance: {int(keep.sum())} samples give {len(s)} bins of >= {min_count} samples; "
                "need more pixels (more tiles or scenes) or a wider range of means"
            )
        a, b, cov = _wls(s, v, n)
        index = _bins(mean, signal, residual, edges, 1)[4]
        std = np.sqrt(np.maximum(a * signal + b, v.min()))
        keep = np.abs(residual - mu[index]) <= OUTLIER_SIGMAS * std  # outliers (module docstring)
    return {"a": a, "b": b, "a_se": float(np.sqrt(cov[0, 0])), "b_se": float(np.sqrt(cov[1, 1])),
            "n": int(n.sum()), "bins": len(s)}


def fit_affine_variance(mean, value, *, signal=None, bins: int = BINS, min_count: int = MIN_COUNT,
                        quantum: float = 0.0) -> tuple[float, float]:
    """Fit Var(value - mean) = a signal + b over bins of `mean` (module docstring).

    Args:
        mean: (N,) expected values of the samples.
        value: (N,) the noisy samples.
        signal: (N,) the regressor; `mean` when None (the long-exposure correction passes m (1 + 1 / r)).
        bins: number of quantile bins; min_count: bins with fewer samples are dropped.
        quantum: the rounding step of `value` (1 / (white - black) for raw values), or 0: bins then span
            whole steps, so that rounding adds exactly quantum^2 / 12 to b.

    Returns:
        (a, b) as floats.
    """
    fit = _fit(mean, value, signal=signal, bins=bins, min_count=min_count, quantum=quantum)
    return fit["a"], fit["b"]


def iso_model(isos, a, b) -> dict:
    """Eq. (2) across scenes: a_c = k_c ISO (least squares through 0), log b_c = p_c log ISO + q_c.

    Args:
        isos: (S,) the scenes' ISO; a, b: (S, C) their fitted levels. Scenes with b <= 0 are left out
        of the log fit; with fewer than two distinct ISOs left, p_c = 0 and b_c = their geometric mean
        (None when no scene has b_c > 0).
    """
    isos, a, b = np.asarray(isos, np.float64), np.asarray(a, np.float64), np.asarray(b, np.float64)
    k = (isos[:, None] * a).sum(0) / (isos**2).sum()
    slope, intercept = [], []
    for c in range(a.shape[1]):
        ok = b[:, c] > 0
        if len(np.unique(isos[ok])) >= 2:
            p, q = np.polyfit(np.log(isos[ok]), np.log(b[ok, c]), 1)
        else:
            p, q = 0.0, float(np.log(b[ok, c]).mean()) if ok.any() else None
        slope.append(float(p))
        intercept.append(None if q is None else float(q))
    return {"a_per_iso": [float(v) for v in k], "log_b_slope": slope, "log_b_intercept": intercept}


def noise_levels(calibration: dict, iso: float) -> tuple[np.ndarray, np.ndarray]:
    """(a, b), each (3,), of eq. (1) at `iso` from the calibration's ISO model (eq. 2)."""
    model = calibration["model"]
    if None in model["log_b_intercept"]:
        raise ValueError("noise_levels: the calibration has no positive floor b for a channel (every scene's fit "
                         "gave b <= 0); calibrate on more or brighter train scenes")
    a = np.asarray(model["a_per_iso"], np.float64) * iso
    b = np.exp(np.asarray(model["log_b_slope"], np.float64) * np.log(iso) + np.asarray(model["log_b_intercept"]))
    return a, b


def _scene_pixels(metadata_path, split: str, scene: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """m = clean / r, y = noisy and r of a scene's pixels: (N, 3), (N, 3), (N,), linear [0, 1]; every pixel of its
    pairs, or every k-th where they hold more than MAX_PIXELS (a SID scene: ~12 pairs of 11.5 Mpx), read tile by
    tile, so a scene's memory is bounded whatever its size."""
    pairs = TileDataset(metadata_path, split=split, scene=scene, pairs=True)
    step = -(-len(pairs) * pairs.tile_size**2 // MAX_PIXELS)  # ceil: 1 for every scene below the bound
    means, values, ratios = [], [], []
    for i in range(len(pairs)):
        noisy, clean, ratio = pairs[i]
        r = float(ratio)
        means.append(linear_rgb(clean).reshape(-1, 3)[::step] / r)
        values.append(linear_rgb(noisy).reshape(-1, 3)[::step])
        ratios.append(np.full(len(means[-1]), r))
    return np.concatenate(means), np.concatenate(values), np.concatenate(ratios)


def _fit_unclipped(m: np.ndarray, y: np.ndarray, signal: np.ndarray, clip_sigmas: float) -> dict:
    """Eq. (1) for one channel on the samples whose mean is >= clip_sigmas std above 0, the std from the line.

    The line needs the selection and the selection the line: iterated from a fit on every sample."""
    fit, keep = _fit(m, y, signal=signal), np.ones(m.shape, dtype=bool)
    for _ in range(6):
        new = m >= clip_sigmas * np.sqrt(np.maximum(fit["a"] * m + fit["b"], 0.0))
        if np.array_equal(new, keep):
            break
        keep = new
        fit = _fit(m[keep], y[keep], signal=signal[keep])
    return fit | {"clip_sigmas": clip_sigmas}


def fit_tile_pixels(m: np.ndarray, y: np.ndarray, r: np.ndarray, *, clip_sigmas: float = CLIP_SIGMAS,
                    highlight: float = HIGHLIGHT) -> dict:
    """Eq. (1) per channel for one scene's pixels, away from the clip at 0 and from white (module docstring).

    Args:
        m: (N, 3) clean / r; y: (N, 3) the short exposure; r: (N,) the ratios; linear [0, 1].
        clip_sigmas: fit where m_c >= clip_sigmas std; a channel too dark for that (fewer than two bins
            left) is fitted at 1 std, and says so.

    Returns:
        {"a", "b", "a_se", "b_se", "n_pixels", "clip_sigmas"}: lists over the 3 channels.
    """
    signal = m * (1.0 + 1.0 / r)[:, None]  # the long exposure's own shot noise (module docstring)
    usable = ((m * r[:, None]).max(1) <= highlight) & (m.min(1) > 0)  # no clip at white, clean above 0
    fits = []
    for c in range(3):
        for k in dict.fromkeys((clip_sigmas, min(clip_sigmas, 1.0))):
            try:
                fits.append(_fit_unclipped(m[usable, c], y[usable, c], signal[usable, c], k))
                break
            except ValueError:
                if k == min(clip_sigmas, 1.0):
                    raise
    keys = {"a": "a", "b": "b", "a_se": "a_se", "b_se": "b_se", "n_pixels": "n", "clip_sigmas": "clip_sigmas"}
    return {key: [f[name] for f in fits] for key, name in keys.items()}


def calibrate_tiles(metadata_path: str | os.PathLike, split: str = "train") -> dict:
    """Eq. (1) per scene and channel from a raw set's noisy/clean tile pairs, then eq. (2) across scenes.

    Returns:
        A JSON-able dict: units, channels, split, metadata, scenes [{scene, iso, ratios, a, b, a_se,
        b_se, n_pixels}], model {a_per_iso, log_b_slope, log_b_intercept} and the fit settings.

    Raises:
        ValueError: the split has no noisy tiles (one line naming the metadata file).
    """
    records = select(load_metadata(metadata_path)["tiles"], split=split, data_type="noisy")
    if not records:
        raise ValueError(
            f"{metadata_path}: no noisy '{split}' tiles to calibrate the noise on; build the tiles of the raw set's "
            f"{split} short exposures (its {split} list) or calibrate on a split that has them"
        )
    scenes = []
    for scene in sorted({record["scene"] for record in records}):
        isos = {record["iso"] for record in records if record["scene"] == scene}
        if len(isos) != 1 or None in isos:
            raise ValueError(f"{metadata_path}: scene {scene} has ISO {sorted(isos, key=str)}; need one ISO per scene")
        m, y, r = _scene_pixels(metadata_path, split, scene)
        fit = fit_tile_pixels(m, y, r)
        scenes.append({"scene": scene, "iso": float(isos.pop()), "ratios": sorted({float(v) for v in r}), **fit})
    return {
        "units": "linear [0, 1] developed tiles ((t + 1) / 2), short exposure unamplified: "
        "Var(y - x / r) = a_c x / r + b_c",
        "channels": list(CHANNELS),
        "split": split,
        "metadata": str(metadata_path),
        "scenes": scenes,
        "model": iso_model([s["iso"] for s in scenes], [s["a"] for s in scenes], [s["b"] for s in scenes]),
        "fit": {"bins": BINS, "min_count": MIN_COUNT, "clip_sigmas": CLIP_SIGMAS, "highlight": HIGHLIGHT},
    }
