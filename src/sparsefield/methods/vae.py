"""Family `vae` (kind vae): a KL autoencoder (Kingma & Welling 2014) of multispectral leaf images,
trained on leaf pixels.

`nn.kl_autoencoder.KLAutoencoder` encodes a C-band image (reflectance in [0, 1]) to a latent of
z_channels at 1/f of the resolution and decodes it back; `objectives.spectral.MaskedSpectralLoss`
supervises per-band MSE and the spectral angle on the leaf pixels only (loss "masked") or on
every pixel (loss "unmasked", its ablation), plus the KL term. Both run the one training loop and its
masked reduction; the same network, steps and data, differing only in the mask the loss sees.

    Params          every key of an approach's `params:` (the config binds against it)
    training        the training loop's arguments (per-band shift and scale measured on the train images)
    build, load     the autoencoder; a trained model.pt
    reconstruct     every test image decoded from its posterior mean (deterministic, K = 1)

The training noise (the reparameterisation's eps) comes from the loop's per-example streams.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from sparsefield.methods.learned import Train, objective
from sparsefield.params import bind, canonical, from_signature
from sparsefield.samples import Reconstruction, Samples

LOSSES = ("masked", "unmasked")


# The KL autoencoder's sizes and their defaults, from its signature (f = 2^(len(ch_mult) − 1), latent numbers per
# pixel = z_channels / f²); channels, shift and scale follow the data.
Backbone = from_signature("Backbone", "sparsefield.nn.kl_autoencoder:KLAutoencoder",
                          exclude=("channels", "shift", "scale"), module=__name__)


@dataclass(frozen=True)
class Model:
    backbone: Backbone = field(default_factory=Backbone)
    pretrained: str | None = None  # a KLAutoencoder.save_pretrained folder to start from (local files only)


@dataclass(frozen=True)
class Curve:
    """The learning curve: every `every` steps, leaf and full-image PSNR and SAM of the first `images` test images."""

    every: int
    images: int = 32


@dataclass(frozen=True)
class Params:
    model: Model
    train: Train
    evaluation: Curve
    seed: int = 0
    loss: str = "masked"  # supervised pixels: "masked" (the leaf mask) or "unmasked" (every pixel)
    objective: dict = field(default_factory=dict)  # keyword arguments of objectives.spectral.MaskedSpectralLoss


def build(model: Model, channels: int, shift=None, scale=None):
    """The autoencoder (from `model.pretrained` when set; its sizes must then match `model.backbone`)."""
    from sparsefield.nn.kl_autoencoder import KLAutoencoder

    sizes = dict(asdict(model.backbone), ch_mult=list(model.backbone.ch_mult))
    net = KLAutoencoder(channels=channels, **sizes, shift=shift, scale=scale)
    if model.pretrained is not None:
        start = KLAutoencoder.from_pretrained(model.pretrained)
        if start.config != net.config:
            raise ValueError(f"model.pretrained {model.pretrained} is {start.config}, the approach asks for "
                             f"{net.config}; set model.backbone to the pretrained sizes")
        net.load_state_dict({k: v for k, v in start.state_dict().items() if k not in ("shift", "scale")},
                            strict=False)
    return net


def rebuild(config: dict):
    """The untrained network a model.pt's config describes (the sizes and band statistics it was built for)."""

    return build(bind(Model, config["model"], "model"), config["channels"], config["shift"], config["scale"])


def band_statistics(images):
    """Per-band mean and std (C,) of images (N, H, W, C) over every pixel, float64 sums."""

    flat = images.reshape(-1, images.shape[-1]).astype(np.float64)
    return flat.mean(0).tolist(), np.maximum(flat.std(0), 1e-6).tolist()


class _Leaves:
    """Training items: (image (C, H, W) float32, leaf mask (1, H, W) float32)."""

    def __init__(self, data):
        import torch

        self.images = torch.from_numpy(data.images).permute(0, 3, 1, 2).contiguous()
        self.masks = torch.from_numpy(data.masks[:, None].astype("float32"))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], self.masks[i]


def _check(params: Params, data, where: str = "this approach") -> None:
    if params.loss not in LOSSES:
        raise ValueError(f"{where}: params.loss must be one of {LOSSES}, got {params.loss!r}")
    factor = 2 ** (len(params.model.backbone.ch_mult) - 1)
    if data.images.shape[1] % factor or data.images.shape[2] % factor:
        raise ValueError(f"{where}: images of {data.images.shape[1]}x{data.images.shape[2]} are not divisible by "
                         f"{factor} (2^(len(ch_mult) - 1)); change the dataset's size or ch_mult")


def loss(kind: str, params: Params, bands):
    """loss_fn(net, batch, noise) -> MaskedLoss over the leaf pixels ("masked") or every pixel ("unmasked")."""
    criterion = objective(kind, params)

    def loss_fn(net, batch, noise):
        x, mask = batch
        posterior = net.encode(x)
        height, width = posterior.mean.shape[-2:]
        x_hat = net.decode(posterior.sample(noise.randn(net.config["z_channels"], height, width)))
        supervised = mask if params.loss == "masked" else None
        return criterion(x, x_hat, posterior.mean, posterior.logvar, supervised, net.scale, bands)

    return loss_fn


DECODE_PIXELS = 256 * 32 * 32  # pixels per forward pass: 256 tiles of 32, 16 of 128 (12 GB on a CPU at 256)


def decode_all(net, images, device, pixels: int = DECODE_PIXELS):
    """Reflectance reconstructions (N, H, W, C) float32 of images (N, H, W, C), decoded from the posterior means,
    `pixels` pixels a forward pass (its activations bound the memory, whatever the tile size)."""
    import torch

    batch_size = max(1, pixels // (images.shape[1] * images.shape[2]))
    out = []
    for start in range(0, len(images), batch_size):
        x = torch.from_numpy(images[start : start + batch_size]).permute(0, 3, 1, 2).to(device)
        x_hat = net.decode(net.encode(x).mean)
        out.append(x_hat.clamp(0.0, 1.0).permute(0, 2, 3, 1).float().cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def learning_curve(params: Params, test, device):
    """eval_fn(ema, step) -> leaf and full PSNR (mean over bands) and SAM (degrees) on the first test images."""
    from sparsefield.scoring.spectral import score

    test = test.first(params.evaluation.images)

    def eval_fn(ema, step):

        mean = decode_all(ema, test.images, device)
        samples = Samples(mean[:, None], mean, np.zeros_like(mean), np.arange(len(mean)), {})
        values = score([samples], test).set_index(["metric", "region"])["value"]
        return {f"test_{metric}_{region}": values[(metric, region)]
                for metric in ("psnr", "sam") for region in ("leaf", "full")}

    return eval_fn


def training(kind: str, params: Params, train, test, device) -> dict:
    """The keyword arguments of `training.loop.training_loop` for the train and test splits."""

    _check(params, train)
    shift, scale = band_statistics(train.images)
    channels = train.images.shape[-1]
    config = dict(model=canonical(params.model), channels=channels, shift=shift, scale=scale, bands=list(train.bands))
    return dict(model=build(params.model, channels, shift, scale), config=config,
                loss_fn=loss(kind, params, list(train.bands)), dataset=_Leaves(train),
                eval_fn=learning_curve(params, test, device), eval_every=params.evaluation.every, seed=params.seed,
                **asdict(params.train))


def reconstruct(kind: str, params: Params, data, *, model, device, **_):
    """Every test image of `data` (`data.spectral.sets.SpectralImages`) decoded from its posterior mean:
    (N, 1, H, W, C)."""

    _check(params, data)
    start = time.perf_counter()
    mean = decode_all(model, data.images, device)
    seconds = (time.perf_counter() - start) / max(len(mean), 1)
    attrs = dict(nfe=1, seconds_per_image=seconds, latent_per_pixel=model.latent_per_pixel,
                 params=sum(p.numel() for p in model.parameters()))
    return Reconstruction(mean[:, None], attrs)
