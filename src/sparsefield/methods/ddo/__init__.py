"""Family `ddo` (kind ddo): conditional Denoising Diffusion Operators on the dense grid
(Lim et al. 2023, arXiv:2302.07400).

An FNO-UNet (`nn.fno_unet`) conditioned on the zero-filled context image (`nn.context`) generates
whole images by blurring diffusion in function space (`objectives.blurring`, sampler
`sampling.blurring`). The generated variable is, in [−1, 1] units,

    y = (x − prior) / sigma_data    residual: true (the approach's `estimate:`, a classical estimate
                                    computed once per dataset and scheme, also an input channel)
    y = x / sigma_data              residual: false (the plain form)

The DSM loss is per pixel and reduced over the supervised pixels (`objectives.masked`): loss "query"
supervises the query pixels only, "full" every pixel (its ablation); train_log.csv logs
loss_query and loss_full for both.

    Params          every key of an approach's `params:` (the config binds against it)
    training        the training loop's arguments
    build, load     the conditional FNO-UNet; a trained model.pt
    batches, loss   the training set (whole images, dense masks, prior) and its MaskedLoss
    reconstruct     K samples per test image on its grid (observed pixels kept), the posterior mean
                    (x̂₀ at the first, noisiest step, averaged over the K starts) and, with the same
                    weights, the mean of K samples on the 2× grid (context and mask nearest-upsampled,
                    prior bicubic-upsampled: the same functions on the finer grid)
    sweep           PSNR on missing pixels against NFE for both samplers

Noise comes from one generator per (seed, image, sample, task): a result never depends on the batch.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

import numpy as np

from sparsefield.methods import learned
from sparsefield.methods.learned import Curve, Train, objective
from sparsefield.params import bind, canonical, from_signature
from sparsefield.registry import KINDS, load
from sparsefield.samples import Reconstruction

GRID, HIRES = 0, 2  # sampling tasks: separate noise streams
LOSSES = ("query", "full")


# The FNO-UNet's sizes and their defaults, from its signature; channels follow the data, resolution the grid.
Backbone = from_signature("Backbone", "sparsefield.nn.fno_unet:FNOUNet", exclude=("in_ch", "out_ch", "resolution"),
                          module=__name__)


@dataclass(frozen=True)
class Model:
    backbone: Backbone
    conditioning: str = "encoder"  # "encoder" (a learned context encoder) or "concat" (plain concatenation)
    residual: bool = True  # generate the residual around the approach's estimate (false: the data itself)
    sigma_data: float = 0.5  # std of the generated variable before scaling, in [−1, 1] units
    features: int = 32  # context encoder channels
    name: str = "fno_unet"


@dataclass(frozen=True)
class Sample(learned.Sample):
    """The shared sampling settings, and the samples per image on the 2× grid (4× the pixels, ~5× the time)."""

    n_samples_2x: int = 1


@dataclass(frozen=True)
class Params:
    model: Model
    train: Train
    evaluation: Curve
    sample: Sample | None = None
    seed: int = 0
    loss: str = "query"  # supervised pixels: "query" (query-only) or "full" (every pixel)
    objective: dict = field(default_factory=dict)  # keyword arguments of objectives.blurring.BlurringDiffusion

    def reads_estimate(self) -> bool:
        """Whether the approach needs its `estimate:` file (config checks it before any job)."""
        return self.model.residual


def build(model: Model, resolution: int = 32, channels: int = 3):
    """The conditional FNO-UNet for images of side `resolution` (seed and global RNG: the caller's)."""
    from sparsefield.nn.context import ConditionalDDO

    backbone = dict(asdict(model.backbone), resolution=resolution)
    return ConditionalDDO(backbone, conditioning=model.conditioning, prior=model.residual, channels=channels,
                          features=model.features)


def rebuild(config: dict):
    """The untrained network a model.pt's config describes (the Model and resolution it was built for)."""

    return build(bind(Model, config["model"], "model"), config["resolution"], config["channels"])


def _check(params: Params, data, where: str = "this approach") -> None:
    if params.model.residual and data.estimate is None:
        raise ValueError(f"{where}: model.residual is true but the approach has no `estimate:`; add "
                         "`estimate: biharmonic` beside its kind, or set model.residual: false")
    if params.loss not in LOSSES:
        raise ValueError(f"{where}: params.loss must be one of {LOSSES}, got {params.loss!r}")


def batches(params: Params, data):
    """Training items of `data` (`data.images.sets.MaskedImages` with its estimate): whole images and dense masks."""
    from sparsefield.methods.ddo.items import GridDataset

    _check(params, data)
    return GridDataset(data)


def generated(batch, model: Model):
    """y, the generated variable of a GridBatch (module docstring)."""
    base = batch.images - batch.prior if model.residual else batch.images
    return base / model.sigma_data


def loss(kind: str, params: Params):
    """loss_fn(net, batch, noise) -> MaskedLoss over the query pixels ("query") or every pixel ("full")."""
    from sparsefield.objectives.masked import MaskedLoss

    process, model = objective(kind, params), params.model

    def loss_fn(net, batch, noise):
        value = process.loss(net, generated(batch, model), batch, noise)  # (B, C, H, W)
        weight = batch.query if params.loss == "query" else None
        return MaskedLoss(value, weight, logged={"loss_query": batch.query, "loss_full": None})

    return loss_fn


def training(kind: str, params: Params, train, test, device) -> dict:
    """The keyword arguments of `training.loop.training_loop` for the train and test splits."""

    resolution, channels = train.images.shape[1], train.images.shape[3]
    config = dict(model=canonical(params.model), resolution=resolution, channels=channels)
    return dict(model=build(params.model, resolution, channels), config=config, loss_fn=loss(kind, params),
                dataset=batches(params, train), eval_fn=learning_curve(kind, params, test, device),
                eval_every=params.evaluation.every, seed=params.seed, **asdict(params.train))


def _upsampled(batch, factor: int):
    """The batch's conditioning on the grid `factor`× finer: the same functions of (y, x)."""
    from torch.nn import functional as F

    from sparsefield.data.images.grids import GridBatch

    context = F.interpolate(batch.context, scale_factor=factor, mode="nearest")
    images = F.interpolate(batch.context_image, scale_factor=factor, mode="nearest")
    prior = None
    if batch.prior is not None:
        prior = F.interpolate(batch.prior, scale_factor=factor, mode="bicubic", align_corners=False).clamp(-1, 1)
    return GridBatch(images, context, context.new_zeros(context.shape), prior)


def _clip(model: Model, repeated):
    """x̂₀ into [−1, 1] in data units, for the batch `repeated` (its prior, when the model is residual)."""

    def clip(y):
        base = repeated.prior if model.residual else 0.0
        return ((base + model.sigma_data * y).clamp(-1, 1) - base) / model.sigma_data

    return clip


def _in_unit(value, batch, repeated, model: Model, k: int, *, observed: bool):
    """A sampler's output (B·K, C, H, W) in generated units -> (B, K, H, W, C) in [0, 1], the observed pixels as
    observed when `observed` (the image's own grid)."""
    channels, height, width = value.shape[1:]
    x = value * model.sigma_data + (repeated.prior if model.residual else 0.0)
    x = ((x.clamp(-1, 1) + 1) / 2).view(len(batch), k, channels, height, width)
    if observed:
        mask = batch.context[:, None]
        x = mask * (batch.images[:, None] + 1) / 2 + (1 - mask) * x
    return x.permute(0, 1, 3, 4, 2).float().cpu()


def sample_grid(kind, net, process, data, *, model: Model, task, sampler, steps, k, seed, batch_size, device,
                factor: int = 1):
    """K samples of every image of `data` on its grid (`factor` 2: on the 2× grid).

    Returns: samples (N, K, fH, fW, C) in [0, 1] (observed pixels kept when factor 1), the posterior
    mean (N, fH, fW, C), NFE per sample, seconds per image.
    """

    from sparsefield.data.images.grids import grid_batch
    from sparsefield.rng import SampleNoise, seed_of
    from sparsefield.sampling import blurring
    from sparsefield.sampling.common import batched, draw

    run_sampler = load(KINDS[kind].sampling).SAMPLERS[sampler]
    channels = data.images.shape[3]

    def prepare(rows):
        prior = None if data.estimate is None else data.estimate[rows]
        batch = grid_batch(data.images[rows], data.context[rows], data.query[rows], prior)
        batch.images = batch.context_image  # the sampler never sees an unobserved pixel
        if factor > 1:
            batch = _upsampled(batch, factor)
        batch = batch.to(device)
        repeated = type(batch)(*(None if v is None else v.repeat_interleave(k, 0) for v in
                                 (batch.images, batch.context, batch.query, batch.prior)))
        noise = SampleNoise([seed_of(seed, int(i), j, task) for i in data.index[rows] for j in range(k)],
                            device=device)
        return batch, repeated, functools.partial(noise.randn, channels, *batch.context.shape[-2:])

    def run(state):
        _, repeated, randn = state
        grid = blurring.grid(process, sampler, steps)
        start = blurring.start(grid, randn)
        drawn = draw(functools.partial(run_sampler, clip=_clip(model, repeated)), lambda z, t: net(z, t, repeated),
                     start, grid, randn)
        drawn.first = blurring.denoised(process, drawn.first, drawn.start, grid[0], _clip(model, repeated))  # x̂₀, t = 1
        return drawn

    def keep(state, drawn):
        batch, repeated, _ = state
        return tuple(_in_unit(value, batch, repeated, model, k, observed=factor == 1)
                     for value in (drawn.x, drawn.first))

    (samples, means), nfe, seconds = batched(len(data.images), batch_size, prepare, run, keep)
    return samples.numpy(), means.mean(1).numpy().astype(np.float32), nfe, seconds


def learning_curve(kind: str, params: Params, test, device):
    """eval_fn(ema, step) -> test PSNR on missing pixels (mean of K samples, posterior mean) and the prior's."""
    from sparsefield.baselines.normconv import reconstruct as normconv
    from sparsefield.metrics import mean_missing_psnr

    _check(params, test)
    process, curve = objective(kind, params), params.evaluation
    test = test.first(curve.images)
    start = test.estimate if test.estimate is not None else normconv(test.images / 255.0, test.context)
    classical = mean_missing_psnr(start, test.images, test.context)  # the classical estimate the model starts from
    kw = dict(model=params.model, task=GRID, sampler=curve.sampler, steps=curve.steps, k=curve.k, seed=params.seed,
              batch_size=len(test), device=device)

    def eval_fn(ema, step):
        samples, posterior_mean, _, _ = sample_grid(kind, ema, process, test, **kw)
        return {
            "test_psnr_missing": mean_missing_psnr(samples.mean(1), test.images, test.context),
            "test_psnr_posterior_mean": mean_missing_psnr(posterior_mean, test.images, test.context),
            "classical_psnr": classical,
        }

    return eval_fn


def reconstruct(kind: str, params: Params, data, *, model, device, **_):
    """K samples of every test image of `data` (MaskedImages) on its grid and on the 2× grid."""

    _check(params, data)
    s, process = params.sample, objective(kind, params)
    kw = dict(model=params.model, sampler=s.sampler, steps=s.steps, k=s.n_samples, seed=params.seed,
              batch_size=s.batch_size, device=device)
    samples, posterior_mean, nfe, seconds = sample_grid(kind, model, process, data, task=GRID, **kw)
    extras = {"posterior_mean": posterior_mean}
    if data.images_2x is not None:
        kw.update(k=s.n_samples_2x)
        extras["mean_2x"] = sample_grid(kind, model, process, data, task=HIRES, factor=2, **kw)[0].mean(1)
    attrs = dict(nfe=nfe, seconds_per_image=seconds, sampler=s.sampler, steps=s.steps,
                 params=sum(p.numel() for p in model.parameters()))
    return Reconstruction(samples, attrs, extras)


def sweep(kind: str, params: Params, data, *, model, device, **_) -> list[dict]:
    """Mean-of-K PSNR on missing pixels against NFE for every sampler of the kind (first `sweep_images` images)."""
    s, process = params.sample, objective(kind, params)

    def run(sampler, steps, data):
        samples, _, nfe, seconds = sample_grid(kind, model, process, data, model=params.model, task=GRID,
                                               sampler=sampler, steps=steps, k=s.n_samples, seed=params.seed,
                                               batch_size=s.batch_size, device=device)
        return samples, nfe, seconds

    return learned.nfe_sweep(kind, params, data, run)
