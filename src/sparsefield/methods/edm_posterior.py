"""Family `edm`: posterior sampling around an unconditional EDM prior (`methods.edm_prior`)
with DPS (Chung et al. 2023) or DiffPIR (Zhu et al. 2023).

An approach names its prior (`prior:`, a `priors:` entry trained once into results/priors/{prior}/) and
restores what it reads with that prior's denoiser D and a likelihood of the observation:

    edm_lowlight   a raw set's test pairs: y = the short exposure, unamplified, linear [0, 1];
                   y ≈ x/r + n, Var n = a_c x/r + b_c (`likelihoods.PoissonGaussian`; a, b from the raw
                   set's noise calibration at the capture's ISO); samplers dps, diffpir
    edm_sparse     a dataset's fixed masks: y = the context pixels (`likelihoods.Mask`, σ_y in [−1, 1]
                   units); K samples per image, observed pixels kept; samplers dps, diffpir
    edm_denoise    the 1-NFE baseline on a raw set: D once on the amplified short exposure (tile units,
                   2 r y − 1) at its calibrated noise std averaged over the tile

x units are the prior's: [−1, 1] (tiles: 2 × linear − 1). Noise comes from one generator per (seed,
tile or image, sample): a result never depends on the batch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from sparsefield.methods.edm_prior import rebuild  # noqa: F401  (the stages rebuild a prior through the family)
from sparsefield.samples import Reconstruction

SPARSE, LOWLIGHT, DENOISE = "edm_sparse", "edm_lowlight", "edm_denoise"


# --- posterior approaches --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """Posterior sampling (`sampling.posterior`) on the Karras grid; an edit here never retrains the prior."""

    sampler: str = "diffpir"  # "dps" or "diffpir"
    steps: int = 20  # N levels: NFE 2N − 1 (dps, Heun) or N (diffpir)
    n_samples: int = 1  # K per test image or tile
    sigma_max: float = 80.0  # σ of the first level, x units
    sigma_min: float = 0.002
    rho: float = 7.0
    step_size: float = 0.5  # DPS: ζ per unit σ of the normalised likelihood gradient
    S_churn: float = 0.0  # DPS: Heun's churn (Karras et al. Alg. 2); 0 = deterministic
    lam: float = 1.0  # DiffPIR: λ, the proximal weight ρ = λ/σ²
    zeta: float = 0.3  # DiffPIR: share of fresh noise when re-noising
    sweep_nfe: tuple[int, ...] = (10, 20, 50)
    sweep_images: int = 16
    batch_size: int = 32
    images: int | None = None  # sample only `images` of the evaluated test items (their `subset`; None: all)


@dataclass(frozen=True)
class Params:
    sample: Sample | None = None
    seed: int = 0
    sigma_y: float = 0.0  # edm_sparse: noise std of the observed pixels, [−1, 1] units (0: exact)
    floor: float = 1e-10  # edm_lowlight / edm_denoise: variance floor of the likelihood, linear units²


def _bound(model):
    """The batch-bound D(x̃, σ) of a prior, σ a float."""
    import torch

    def D(x, sigma):
        return model(x, torch.full((len(x),), float(sigma), device=x.device, dtype=x.dtype))

    return D


def _draw(model, likelihood, s: Sample, sampler: str, steps: int, noise, shape):
    """Posterior samples (B, C, H, W) in x units from x = μ + σ_max z, counted (`sampling.common.Draw`)."""
    from sparsefield.sampling import posterior
    from sparsefield.sampling.common import draw

    randn = functools.partial(noise.randn, *shape)
    sigmas = posterior.grid(s, sampler, steps)
    x = model.mean + sigmas[0] * randn()
    run = functools.partial(posterior.SAMPLERS[sampler], likelihood=likelihood, settings=s)
    drawn = draw(run, _bound(model), x, sigmas, randn)
    drawn.x = drawn.x.detach()
    return drawn


def _lowlight_batch(pairs, rows, calibration, floor, device, k: int = 1):
    """(y (B, 3, T, T) linear short exposures, their PoissonGaussian likelihood, ratios (B, 1, 1, 1), (a, b)) of
    pairs[rows], each repeated k times in a row (K samples per tile)."""
    import torch

    from sparsefield.data.raw.calibration import noise_levels
    from sparsefield.sampling.likelihoods import PoissonGaussian

    items = [pairs[i] for i in rows]
    y = (torch.stack([item[0] for item in items]).to(device) + 1) / 2
    ratio = torch.tensor([float(item[2]) for item in items], device=device).reshape(-1, 1, 1, 1)
    levels = [noise_levels(calibration, pairs.records[i]["iso"]) for i in rows]
    a, b = (torch.as_tensor(np.stack([lv[j] for lv in levels]), dtype=torch.float32, device=device).reshape(-1, 3, 1, 1)
            for j in (0, 1))
    y, ratio, a, b = (v.repeat_interleave(k, 0) for v in (y, ratio, a, b))
    return y, PoissonGaussian(y, 1 / (2 * ratio), 1 / (2 * ratio), a, b, floor=floor), ratio, (a, b)


def restore_tiles(kind, params: Params, pairs, model, calibration, device, *, sampler=None, steps=None, n=None):
    """Restored linear RGB (N, K, T, T, 3) in [0, 1] of the first `n` pairs, NFE per sample, seconds per tile."""
    from sparsefield.rng import SampleNoise, seed_of
    from sparsefield.sampling.common import Draw, batched

    s = params.sample
    sampler, steps = sampler or s.sampler, steps or s.steps
    n = len(pairs) if n is None else min(n, len(pairs))
    k = 1 if kind == DENOISE else s.n_samples

    def prepare(rows):
        rows = list(range(rows.start, rows.stop))
        return rows, _lowlight_batch(pairs, rows, calibration, params.floor, device, k)

    def run(state):
        rows, (y, likelihood, ratio, (a, b)) = state
        if kind == DENOISE:  # D once at the amplified tile's calibrated noise std, in tile units
            amplified = 2 * ratio * y - 1
            variance = 4 * ratio**2 * (a * (ratio * y).clamp(min=0) / ratio + b)  # Var of 2 r y
            sigma = variance.clamp(min=params.floor).mean(dim=(1, 2, 3)).sqrt()  # (B,)
            return Draw(model(amplified, sigma).detach(), None, 1)
        noise = SampleNoise([seed_of(params.seed, int(pairs.index[i]), j) for i in rows for j in range(k)],
                            device=device)
        return _draw(model, likelihood, s, sampler, steps, noise, y.shape[1:])

    def keep(state, drawn):
        x = drawn.x.view(len(state[0]), k, *drawn.x.shape[1:])
        return (((x.float() + 1) / 2).clamp(0, 1).permute(0, 1, 3, 4, 2).cpu(),)

    (restored,), nfe, seconds = batched(n, s.batch_size, prepare, run, keep)
    return restored.numpy(), nfe, seconds


def fill_images(kind, params: Params, data, model, device, *, sampler=None, steps=None):
    """K posterior samples (N, K, H, W, C) in [0, 1] of `data` (MaskedImages), observed pixels kept; NFE, s/image."""
    from sparsefield.data.images.grids import grid_batch
    from sparsefield.rng import SampleNoise, seed_of
    from sparsefield.sampling.common import batched
    from sparsefield.sampling.likelihoods import Mask

    s = params.sample
    sampler, steps, k = sampler or s.sampler, steps or s.steps, s.n_samples

    def prepare(rows):
        batch = grid_batch(data.images[rows], data.context[rows], data.query[rows]).to(device)
        observed = batch.context.repeat_interleave(k, 0)
        y = batch.context_image.repeat_interleave(k, 0)
        noise = SampleNoise([seed_of(params.seed, int(i), j) for i in data.index[rows] for j in range(k)],
                            device=device)
        return len(batch), observed, y, noise

    def run(state):
        _, observed, y, noise = state
        return _draw(model, Mask(y, observed, params.sigma_y), s, sampler, steps, noise, y.shape[1:])

    def keep(state, drawn):
        n, observed, y, _ = state
        x = observed * y + (1 - observed) * drawn.x.clamp(-1, 1)  # the observed pixels as observed
        return (((x.float() + 1) / 2).view(n, k, *x.shape[1:]).permute(0, 1, 3, 4, 2).cpu(),)

    (samples,), nfe, seconds = batched(len(data.images), s.batch_size, prepare, run, keep)
    return samples.numpy(), nfe, seconds


def reconstruct(kind: str, params: Params, data, *, model, device, **_):
    """The test split of what the approach reads, restored around its prior (module docstring)."""

    if kind == SPARSE:
        samples, nfe, seconds = fill_images(kind, params, data, model, device)
    else:
        samples, nfe, seconds = restore_tiles(kind, params, data, model, data.calibration, device)
    attrs = dict(nfe=nfe, seconds_per_image=seconds, params=sum(p.numel() for p in model.parameters()))
    if kind != DENOISE:
        attrs.update(sampler=params.sample.sampler, steps=params.sample.steps)
    return Reconstruction(samples, attrs)


def sweep(kind: str, params: Params, data, *, model, device, **_) -> list[dict]:
    """PSNR against NFE of the approach's own sampler (its settings: DPS's ζ, DiffPIR's λ and ζ are the sampler's,
    not another's): on missing pixels (edm_sparse, mean of K) or sRGB tiles (edm_lowlight, the first `sweep_images`
    test pairs)."""

    from sparsefield.metrics import mean_missing_psnr
    from sparsefield.sampling.posterior import steps_for_nfe

    s, rows = params.sample, []
    if kind == SPARSE:
        data = data.first(s.sweep_images)
    else:
        from sparsefield.baselines.lowlight import to_srgb
        from sparsefield.data.raw.tiles import linear_rgb
        from sparsefield.metrics import psnr_per_image

        calibration = data.calibration
        truth = np.stack([linear_rgb(data[i][1]) for i in range(min(len(data), s.sweep_images))])
    sampler = s.sampler
    for budget in s.sweep_nfe:
        steps = steps_for_nfe(s, sampler, budget)
        if kind == SPARSE:
            samples, nfe, seconds = fill_images(kind, params, data, model, device, sampler=sampler, steps=steps)
            psnr = dict(psnr_missing=mean_missing_psnr(samples.mean(1), data.images, data.context))
        else:
            samples, nfe, seconds = restore_tiles(kind, params, data, model, calibration, device,
                                                  sampler=sampler, steps=steps, n=s.sweep_images)
            psnr = dict(psnr_srgb=float(psnr_per_image(to_srgb(samples.mean(1)), to_srgb(truth)).mean()))
        rows.append(dict(sampler=sampler, steps=steps, nfe=nfe, seconds_per_image=seconds, **psnr))
    return rows
