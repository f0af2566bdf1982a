"""KLAutoencoder: a small KL-regularised convolutional autoencoder for C-band images
(Kingma & Welling 2014; the KL-regularised autoencoder of Rombach et al. 2022).

The layout of Stable Diffusion's AutoencoderKL (Rombach et al. 2022, §3 and App. G; Kingma & Welling
2014's reparameterisation) at a size a CPU trains in a minute: a 3×3 input conv; per level
`num_res_blocks` residual blocks (GroupNorm – SiLU – 3×3 conv, twice, plus the skip) and, but for the
last level, a stride-2 3×3 conv down; a middle block; GroupNorm – SiLU – 3×3 conv to 2·z_channels
(the posterior's mean μ and log-variance ln σ², clamped to [−30, 20] as in SD). The decoder mirrors it
with nearest ×2 + 3×3 conv up. A latent of z_channels at 1/f of the resolution, f = 2^(len(ch_mult) − 1),
holds z_channels / f² numbers per pixel (`latent_per_pixel`).

The network sees each band standardised, (x − shift_c) / scale_c with the training images' per-band
mean and std (buffers, saved with the weights), and returns reflectance: x̂ = shift + scale · decoder(z).

    forward(sample, mask=None, eps=None)  -> (reconstruction, losses)   z = μ + σ eps (the reparameterisation)
                                             (eps None: standard normal in training, 0 in eval), losses of
                                             `objectives.spectral.MaskedSpectralLoss` (mask None: unmasked)
    save_pretrained(folder), from_pretrained(folder)   local weights: config.json + weights.pt, offline;
                                             a folder written by another library is an error naming it
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from sparsefield.nn.edm_unet import _norm  # GroupNorm with min(32, ch // 4) groups
from sparsefield.objectives.spectral import MaskedSpectralLoss

CONFIG, WEIGHTS = "config.json", "weights.pt"


class ResBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.body = nn.Sequential(_norm(in_ch), nn.SiLU(), nn.Conv2d(in_ch, out_ch, 3, padding=1),
                                  _norm(out_ch), nn.SiLU(), nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.body(x)


class DiagonalGaussian:
    """The posterior N(μ, diag σ²) of the latent, from the encoder's 2·z_channels output."""

    def __init__(self, moments: Tensor):
        self.mean, logvar = moments.chunk(2, dim=1)
        self.logvar = logvar.clamp(-30.0, 20.0)
        self.std = (0.5 * self.logvar).exp()

    def sample(self, eps: Tensor | None = None) -> Tensor:
        """z = μ + σ eps (eps None: a standard normal draw of the global generator)."""
        return self.mean + self.std * (torch.randn_like(self.mean) if eps is None else eps)


class KLAutoencoder(nn.Module):
    def __init__(self, channels: int = 5, ch: int = 32, ch_mult: tuple[int, ...] = (1, 2), num_res_blocks: int = 1,
                 z_channels: int = 8, shift: list[float] | None = None, scale: list[float] | None = None):
        super().__init__()
        self.config = dict(channels=channels, ch=ch, ch_mult=list(ch_mult), num_res_blocks=num_res_blocks,
                           z_channels=z_channels)
        self.register_buffer("shift", torch.tensor(shift if shift is not None else [0.0] * channels))
        self.register_buffer("scale", torch.tensor(scale if scale is not None else [1.0] * channels))
        widths = [ch * m for m in ch_mult]
        down, width = [nn.Conv2d(channels, widths[0], 3, padding=1)], widths[0]
        for level, out in enumerate(widths):
            for _ in range(num_res_blocks):
                down.append(ResBlock(width, out))
                width = out
            if level < len(widths) - 1:
                down.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
        down += [ResBlock(width, width), _norm(width), nn.SiLU(), nn.Conv2d(width, 2 * z_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*down)
        up = [nn.Conv2d(z_channels, width, 3, padding=1), ResBlock(width, width)]
        for level, out in reversed(list(enumerate(widths))):
            for _ in range(num_res_blocks):
                up.append(ResBlock(width, out))
                width = out
            if level > 0:
                up += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, width, 3, padding=1)]
        up += [_norm(width), nn.SiLU(), nn.Conv2d(width, channels, 3, padding=1)]
        self.decoder = nn.Sequential(*up)
        self.factor = 2 ** (len(ch_mult) - 1)

    @property
    def latent_per_pixel(self) -> float:
        """Latent numbers per image pixel: z_channels / f²."""
        return self.config["z_channels"] / self.factor**2

    def encode(self, x: Tensor) -> DiagonalGaussian:
        """The posterior of images x (B, C, H, W) in reflectance; H and W divisible by f."""
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"images {tuple(x.shape)}: H and W must be divisible by {self.factor} (len(ch_mult))")
        return DiagonalGaussian(self.encoder((x - self.shift.view(1, -1, 1, 1)) / self.scale.view(1, -1, 1, 1)))

    def decode(self, z: Tensor) -> Tensor:
        """Reflectance (B, C, H, W) of latents z."""
        return self.shift.view(1, -1, 1, 1) + self.scale.view(1, -1, 1, 1) * self.decoder(z)

    def reconstruct(self, x: Tensor, eps: Tensor | None = None) -> tuple[Tensor, DiagonalGaussian]:
        """(x̂, posterior): x decoded from z = μ + σ eps; eps None draws it in training and is 0 in eval."""
        posterior = self.encode(x)
        if eps is None and not self.training:
            return self.decode(posterior.mean), posterior
        return self.decode(posterior.sample(eps)), posterior

    def forward(self, sample: Tensor, mask: Tensor | None = None, eps: Tensor | None = None,
                loss: MaskedSpectralLoss | None = None) -> tuple[Tensor, dict]:
        """(reconstruction, losses): the interface in the module docstring; `loss` default MaskedSpectralLoss()."""
        loss = loss if loss is not None else MaskedSpectralLoss()
        x_hat, posterior = self.reconstruct(sample, eps)
        terms = loss(sample, x_hat, posterior.mean, posterior.logvar, mask, self.scale)
        return x_hat, loss.summary(terms, sample)

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        """config.json (sizes, shift, scale) and weights.pt (the state dict) in `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = dict(self.config, shift=self.shift.tolist(), scale=self.scale.tolist())
        (folder / CONFIG).write_text(json.dumps(config, indent=1) + "\n")
        torch.save({k: v.detach().cpu() for k, v in self.state_dict().items()}, folder / WEIGHTS)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, map_location="cpu") -> KLAutoencoder:
        """The autoencoder saved in `folder` by `save_pretrained` (local files only, never a download).

        Raises:
            FileNotFoundError / ValueError: one line naming the folder and the fix.
        """
        folder = Path(folder)
        if not (folder / CONFIG).is_file() or not (folder / WEIGHTS).is_file():
            raise FileNotFoundError(f"{folder}: no {CONFIG} + {WEIGHTS}; give a folder written by "
                                    "KLAutoencoder.save_pretrained")
        try:
            model = cls(**json.loads((folder / CONFIG).read_text()))
            model.load_state_dict(torch.load(folder / WEIGHTS, map_location=map_location, weights_only=True))
        except Exception as err:  # a foreign config or state dict: many exception types
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ValueError(f"{folder}: not a KLAutoencoder of this package ({message}); give a folder "
                             "written by KLAutoencoder.save_pretrained") from None
        return model
