"""The prior of family `edm`: an unconditional EDM model of P(x_clean), trained once per `priors:` entry
(Karras et al. 2022).

EDM (Karras et al. 2022; `objectives.edm`, `nn.edm_unet`) on what the prior's source holds:

    rawset: NAME    random crops (`crop` at `stride`, flips) of the clean long exposures of the raw set's
                    train captures, put together from the tiles a crop overlaps as it is drawn (a
                    capture is never read whole), in the tiles' units: linear RGB v = 2x − 1, x in
                    [0, 1]; every tile validated first (one line naming a bad one)
    dataset: NAME   the dataset's train images in [−1, 1] (flips)

The data's per-channel mean μ and the std σ_d of x − μ are measured on the training data and stored
with the model (`nn.precond.CentredDenoiser`); P_mean is shifted by ln(σ_d/0.5) (EDM's −1.2 is for
σ_d = 0.5: the same noise levels relative to the data). train_log.csv records denoising PSNR/SSIM
(torchmetrics, data range 1 on the [0, 1] values) at fixed σ (x units) on validation tiles: the raw
set's val split, or the dataset's first test images. The posterior approaches that use a prior live
in `methods.edm_posterior` and never reach this module's training: a sampler edit never retrains the prior.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from sparsefield.methods.learned import Train
from sparsefield.params import bind, canonical, from_signature

# The EDM UNet's sizes and their defaults, from its signature; channels follow the data (heads, emb_mult fixed).
Backbone = from_signature("Backbone", "sparsefield.nn.edm_unet:EDMUNet", exclude=("channels", "heads", "emb_mult"),
                          module=__name__)


@dataclass(frozen=True)
class Validation:
    """Denoising PSNR/SSIM of the EMA model at fixed σ (x units) on `images` validation tiles, every `every` steps."""

    every: int = 200
    sigmas: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2)
    images: int = 32
    draws: int = 16  # unconditional samples of the trained prior for the figure (at most `images`)
    draw_steps: int = 18  # their Heun steps (NFE 2·steps − 1)


@dataclass(frozen=True)
class PriorParams:
    backbone: Backbone
    train: Train
    validation: Validation = Validation()
    crop: int = 32  # side of the random training crops (raw captures; images are used whole when smaller)
    stride: int = 4  # crops start every `stride` pixels (the epoch permutation picks among them)
    flips: bool = True  # random horizontal and vertical flips
    P_mean: float = -1.2  # ln σ ~ N(P_mean + ln(σ_d/0.5), P_std²): EDM's values at σ_d = 0.5
    P_std: float = 1.2
    seed: int = 0


def build(backbone: Backbone, *, sigma_data: float, mean: list[float], channels: int = 3):
    """The preconditioned prior denoiser D(x̃, σ) (seed and global RNG: the caller's)."""

    from sparsefield.nn.edm_unet import EDMUNet
    from sparsefield.nn.precond import CentredDenoiser

    return CentredDenoiser(EDMUNet(channels=channels, **asdict(backbone)), sigma_data=sigma_data, mean=mean)


def rebuild(config: dict):
    """The untrained CentredDenoiser a prior's model.pt config describes."""

    return build(bind(Backbone, config["backbone"], "backbone"), sigma_data=config["sigma_data"],
                 mean=config["mean"], channels=config["channels"])


def measure(windows, n: int = 4096, values: float = 2e7) -> tuple[list[float], float]:
    """(μ per channel, σ_d = std of x − μ) over up to `n` evenly spaced training windows (at most ~`values` values)."""
    import torch

    n = max(1, min(n, int(values // windows[0].numel())))
    step = max(1, len(windows) // n)
    x = torch.stack([windows[i] for i in range(0, len(windows), step)]).double()
    mean = x.mean(dim=(0, 2, 3))
    return mean.tolist(), float((x - mean.reshape(1, -1, 1, 1)).std())


def _flip(x, noise):
    """Flip each example horizontally and vertically with probability ½ each, from its own stream."""
    import torch

    u = noise.rand(2).to(x.device)  # (B, 2)
    x = torch.where(u[:, 0].reshape(-1, 1, 1, 1) < 0.5, x.flip(-1), x)
    return torch.where(u[:, 1].reshape(-1, 1, 1, 1) < 0.5, x.flip(-2), x)


def validation_curve(params: PriorParams, val, device):
    """eval_fn(ema, step) -> val_psnr_{σ}, val_ssim_{σ}: denoising at fixed σ (data range 1 on [0, 1] values)."""
    import torch
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    from sparsefield.rng import seed_of

    noise = torch.randn(val.shape, generator=torch.Generator().manual_seed(seed_of(params.seed, 71)))
    truth = ((val + 1) / 2).clamp(0, 1)

    def eval_fn(ema, step):
        row = {}
        for sigma in params.validation.sigmas:
            x = (val + sigma * noise).to(device)
            d = torch.cat([ema(chunk, torch.full((len(chunk),), sigma, device=device)) for chunk in x.split(32)])
            pred = ((d.float().cpu() + 1) / 2).clamp(0, 1)
            psnr = peak_signal_noise_ratio(pred, truth, data_range=1.0, dim=(1, 2, 3), reduction="elementwise_mean")
            row[f"val_psnr_{sigma:g}"] = float(psnr)
            row[f"val_ssim_{sigma:g}"] = float(structural_similarity_index_measure(pred, truth, data_range=1.0))
        return row

    return eval_fn


def prior_training(params: PriorParams, source: dict, windows, val, device) -> dict:
    """The keyword arguments of `training.loop.training_loop` for a prior on the prior stage's
    training windows and validation images."""

    from sparsefield.objectives.edm import EDM

    mean, sigma_data = measure(windows)
    channels = windows[0].shape[0]
    process = EDM(P_mean=params.P_mean + math.log(sigma_data / 0.5), P_std=params.P_std, sigma_data=sigma_data)

    def loss_fn(net, batch, noise):
        x0 = _flip(batch, noise) if params.flips else batch
        return process.loss(net, x0, None, noise)

    config = dict(backbone=canonical(params.backbone), sigma_data=sigma_data, mean=mean, channels=channels,
                  P_mean=process.P_mean, source=canonical(source))
    return dict(model=build(params.backbone, sigma_data=sigma_data, mean=mean, channels=channels), config=config,
                loss_fn=loss_fn, dataset=windows, eval_fn=validation_curve(params, val, device),
                eval_every=params.validation.every, seed=params.seed, **asdict(params.train))


def unconditional(model, real, *, linear: bool, n: int = 16, steps: int = 18, seed: int = 0, device="cpu") -> dict:
    """{"samples", "real", "linear"}: n draws of the prior (Heun, Karras grid, NFE 2·steps − 1) shaped like
    `real`'s images (N, C, H, W) in x units, beside the first n of them; both (n, H, W, C) in [0, 1];
    `linear`: the values are linear RGB (a raw prior: shown after the sRGB curve)."""
    import torch

    from sparsefield.rng import SampleNoise, seed_of
    from sparsefield.sampling.karras import heun, karras_sigmas

    real = real[:n]
    noise = SampleNoise([seed_of(seed, 72, i) for i in range(len(real))], device=device)
    sigmas = karras_sigmas(steps, 0.002, 80.0, 7.0)
    x = model.mean + sigmas[0] * noise.randn(*real.shape[1:])

    def D(x_, sigma):
        return model(x_, torch.full((len(x_),), float(sigma), device=device))

    with torch.no_grad():
        x = heun(D, x, sigmas)

    def image(v):
        return ((v.float().cpu() + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1).numpy().astype(np.float32)

    return {"samples": image(x), "real": image(real), "linear": np.array(linear)}
