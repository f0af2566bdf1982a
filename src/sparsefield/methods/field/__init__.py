"""Family `field` (kinds score, denoiser, flow): a Perceiver IO neural field over pixel coordinates
(Jaegle et al. 2022).

An image is observed at its fixed context pixels; the network denoises the values at any set of
output coordinates jointly. Training uses the query-only loss: the output tokens are
the image's fixed query pixels. The kind picks the objective and its samplers (the registry);
one EDM-preconditioned denoiser generates the residual around the normconv estimate
(`residual: false`: the plain noise → data form).

    Params          every key of an approach's `params:` (the config binds against it)
    training        the training loop's arguments, from the parts below
    build, load     the denoiser D(x̃, σ, batch); a trained model.pt
    batches, loss   the training set (context in, query supervised) and its MaskedLoss
    learning_curve  test PSNR on missing pixels during training, beside normconv on the same images
    reconstruct     K samples per test image on the joint grid, at the query pixels alone and on the
                    2× grid, and the posterior mean
    sweep           PSNR on missing pixels against NFE for every sampler of the kind

The posterior mean is the model's own estimate of E[x | context]: x̂0 = D(x_start, σ_max), the
denoiser's output at the sampler's first, noisiest step, averaged over the K samples' starting
noises; it costs no extra NFE. Noise comes from one generator per (seed, image, sample, task), so
a result never depends on the batch it was drawn in.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

from sparsefield.methods.learned import Curve, Sample, Train, nfe_sweep, objective
from sparsefield.params import bind, canonical, from_signature
from sparsefield.registry import KINDS, load
from sparsefield.samples import Reconstruction

JOINT, QUERY, HIRES = 0, 1, 2  # sampling tasks: separate noise streams


# Perceiver IO's sizes and their defaults, from its signature; channels and use_prior follow the data and model.
Backbone = from_signature("Backbone", "sparsefield.nn.perceiver_io:PerceiverIO", exclude=("channels", "use_prior"),
                          module=__name__)


@dataclass(frozen=True)
class Model:
    backbone: Backbone
    sigma_data: float  # std of the generated variable: the residual around normconv, or the data
    residual: bool = True  # generate the residual around normconv (false: the plain form)
    name: str = "perceiver_io"


@dataclass(frozen=True)
class Params:
    model: Model
    train: Train
    evaluation: Curve
    sample: Sample | None = None  # None in the train stage, which never sees the sampling settings
    seed: int = 0
    objective: dict = field(default_factory=dict)  # keyword arguments of the kind's objective class


def normconv_prior(batch):
    """The classical estimate the residual is generated around: normconv at the output coordinates."""
    from sparsefield.baselines.normconv import normalized_convolution

    return normalized_convolution(batch.input_coords, batch.input_values, batch.output_coords)


def build(model: Model):
    """The EDM-preconditioned denoiser D(x̃, σ, batch) around a Perceiver IO (seed and global RNG: the caller's)."""
    from sparsefield.nn.perceiver_io import PerceiverIO
    from sparsefield.nn.precond import ResidualDenoiser

    net = PerceiverIO(**asdict(model.backbone), use_prior=model.residual)
    prior = normconv_prior if model.residual else None
    return ResidualDenoiser(net, sigma_data=model.sigma_data, residual=model.residual, prior_fn=prior)


def rebuild(config: dict):
    """The untrained network a model.pt's config describes (the Model it was built from)."""

    return build(bind(Model, config, "model"))


def batches(params: Params, data):
    """Training items of `data` (`data.images.sets.MaskedImages`): context pixels in, query pixels out."""
    from sparsefield.methods.field.items import FieldDataset

    return FieldDataset(data.images, data.context, data.query)


def loss(kind: str, params: Params):
    """loss_fn(model, batch, noise) -> MaskedLoss: every output is a query pixel (the query-only loss)."""
    from sparsefield.objectives.masked import MaskedLoss

    process = objective(kind, params)

    def loss_fn(model, batch, noise):
        value = process.loss(model, batch.output_values, batch, noise)  # (B, No, C) at the query pixels
        return MaskedLoss(value, logged={"loss_query": None})  # the full image is never predicted here

    return loss_fn


def training(kind: str, params: Params, train, test, device) -> dict:
    """The keyword arguments of `training.loop.training_loop` for the train and test splits."""

    return dict(model=build(params.model), config=canonical(params.model), loss_fn=loss(kind, params),
                dataset=batches(params, train), eval_fn=learning_curve(kind, params, test, device),
                eval_every=params.evaluation.every, seed=params.seed, **asdict(params.train))


def _sample(kind, model, process, data, outputs, *, task, sampler, steps, k, seed, batch_size, device):
    """K samples at the output coordinates `outputs(rows)` (B, No, 2) of every image of `data`.

    Returns: values (N, K, No, C) in [0, 1], the first step's x̂0 (same shape), NFE per sample, s/image.
    """
    import torch

    from sparsefield.data.images.fields import FieldBatch, from_unit, gather_pixels, pixel_coords, to_unit
    from sparsefield.nn.precond import on_batch
    from sparsefield.rng import SampleNoise, seed_of
    from sparsefield.sampling.common import batched, sample

    module = load(KINDS[kind].sampling)
    n, height, width, channels = data.images.shape

    def prepare(rows):
        image, ctx = torch.as_tensor(data.images[rows]), torch.as_tensor(data.context[rows]).long()
        coords = outputs(rows)  # (B, No, 2)
        batch = FieldBatch(pixel_coords(ctx, height, width).repeat_interleave(k, 0),
                           gather_pixels(to_unit(image), ctx).repeat_interleave(k, 0), coords.repeat_interleave(k, 0),
                           torch.zeros(len(image) * k, coords.shape[1], channels)).to(device)
        noise = SampleNoise([seed_of(seed, int(i), j, task) for i in data.index[rows] for j in range(k)],
                            device=device)  # seeds follow the split's positions
        return len(image), batch, functools.partial(noise.randn, *batch.output_values.shape[1:])

    def run(state):
        _, batch, randn = state  # binding computes the prior: inside the timed part
        return sample(module, sampler, on_batch(model, batch), process, randn, steps=steps)

    def keep(state, drawn):
        return tuple(from_unit(out.float().cpu()).view(state[0], k, *out.shape[1:]) for out in (drawn.x, drawn.first))

    (values, firsts), nfe, seconds = batched(n, batch_size, prepare, run, keep)
    return values.numpy(), firsts.numpy(), nfe, seconds


def joint_grid(kind, model, process, data, **kw):
    """K samples of every unobserved pixel, jointly (N, K, H, W, C), the posterior mean (N, H, W, C), NFE, s/image."""
    import torch

    from sparsefield.data.images.fields import fill_unobserved, pixel_coords
    from sparsefield.data.images.masks import unobserved

    n, height, width, _ = data.images.shape
    missing = unobserved(torch.as_tensor(data.context), height * width)
    values, firsts, nfe, seconds = _sample(kind, model, process, data, lambda rows: pixel_coords(missing[rows], height,
                                           width), task=JOINT, **kw)
    posterior_mean = fill_unobserved(data.images, missing, firsts.mean(1, keepdims=True))[:, 0]
    return fill_unobserved(data.images, missing, values), posterior_mean, nfe, seconds


def learning_curve(kind: str, params: Params, test, device):
    """eval_fn(ema, step) -> {test_psnr_missing, classical_psnr} on the first `evaluation.images` of `test`."""
    from sparsefield.baselines.normconv import reconstruct as normconv
    from sparsefield.metrics import mean_missing_psnr

    process, curve = objective(kind, params), params.evaluation
    test = test.first(curve.images)
    classical = mean_missing_psnr(normconv(test.images / 255.0, test.context), test.images, test.context)
    kw = dict(sampler=curve.sampler, steps=curve.steps, k=curve.k, seed=params.seed, batch_size=len(test))

    def eval_fn(ema, step):
        samples = joint_grid(kind, ema, process, test, device=device, **kw)[0]
        return {"test_psnr_missing": mean_missing_psnr(samples.mean(1), test.images, test.context),
                "classical_psnr": classical}

    return eval_fn


def reconstruct(kind: str, params: Params, data, *, model, device, **_):
    """K samples of every test image of `data` (MaskedImages): joint grid, query pixels alone, 2× grid."""
    import torch

    from sparsefield.data.images.fields import grid_coords, pixel_coords

    s, process = params.sample, objective(kind, params)
    kw = dict(sampler=s.sampler, steps=s.steps, k=s.n_samples, seed=params.seed, batch_size=s.batch_size, device=device)
    samples, posterior_mean, nfe, seconds = joint_grid(kind, model, process, data, **kw)
    n, height, width, _ = data.images.shape

    def at_query(rows):
        return pixel_coords(torch.as_tensor(data.query[rows]).long(), height, width)

    extras = {"posterior_mean": posterior_mean,
              "query_samples": _sample(kind, model, process, data, at_query, task=QUERY, **kw)[0]}
    if data.images_2x is not None:
        hires = grid_coords(2 * height, 2 * width)
        twice = _sample(kind, model, process, data, lambda rows: hires.expand(len(data.images[rows]), -1, -1),
                        task=HIRES, **kw)[0]
        extras["mean_2x"] = twice.mean(1).reshape(n, 2 * height, 2 * width, -1)
    attrs = dict(nfe=nfe, seconds_per_image=seconds, sampler=s.sampler, steps=s.steps,
                 params=sum(p.numel() for p in model.parameters()))
    return Reconstruction(samples, attrs, extras)


def sweep(kind: str, params: Params, data, *, model, device, **_) -> list[dict]:
    """Mean-of-K PSNR on missing pixels against NFE for every sampler of the kind (first `sweep_images` images)."""
    s, process = params.sample, objective(kind, params)

    def run(sampler, steps, data):
        samples, _, nfe, seconds = joint_grid(kind, model, process, data, sampler=sampler, steps=steps,
                                              k=s.n_samples, seed=params.seed, batch_size=s.batch_size,
                                              device=device)
        return samples, nfe, seconds

    return nfe_sweep(kind, params, data, run)
