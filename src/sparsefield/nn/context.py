"""Conditioning an FNO-UNet on the context pixels: D(z_t, t, batch) -> the network's output
(conditional DDO, Lim et al. 2023).

    "encoder"  context encoder Conv(c→32)–GN–SiLU–Conv(32→32)–GN–SiLU–Conv(32→32) on the zero-filled
               context image, concatenated with z_t (32 + 3 = 35 channels), projected
               Conv(35→6)–GN–SiLU–Conv(6→3), then the backbone (a learned context encoder)
    "concat"   [z_t, context image, mask] straight into the backbone (plain concatenation)

With `prior` the mask and the classical estimate are input channels too (c = 3 + 1 + 3 for the
encoder): the network then models the residual around that estimate (`methods.ddo`). Convolutions
are 3×3, padding 1, as in the seed; the backbone carries the resolution-independent part.
"""

from __future__ import annotations

import torch
from torch import nn

from sparsefield.nn.fno_unet import FNOUNet


def _conv(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=1)


def _block(in_ch: int, out_ch: int) -> list[nn.Module]:
    return [_conv(in_ch, out_ch), nn.GroupNorm(min(8, out_ch), out_ch), nn.SiLU()]


class ConditionalDDO(nn.Module):
    def __init__(self, backbone: dict, *, conditioning: str = "encoder", prior: bool = True, channels: int = 3,
                 features: int = 32):
        super().__init__()
        if conditioning not in ("encoder", "concat"):
            raise ValueError(f"conditioning must be 'encoder' or 'concat', got {conditioning!r}")
        self.conditioning, self.prior = conditioning, prior
        side = channels + 1 + (channels if prior else 0)  # context image, mask, prior
        if conditioning == "encoder":
            self.encoder = nn.Sequential(
                *_block(side, features), *_block(features, features), _conv(features, features)
            )
            self.project = nn.Sequential(*_block(features + channels, 6), _conv(6, channels))
            in_ch = channels
        else:
            in_ch = channels + side
        self.backbone = FNOUNet(in_ch=in_ch, out_ch=channels, **backbone)

    def side_inputs(self, batch) -> torch.Tensor:
        parts = [batch.context_image, batch.context] + ([batch.prior] if self.prior else [])
        return torch.cat(parts, dim=1)

    def forward(self, z: torch.Tensor, t: torch.Tensor, batch) -> torch.Tensor:
        side = self.side_inputs(batch).to(z.dtype)
        if self.conditioning == "encoder":
            x = self.project(torch.cat([self.encoder(side), z], dim=1))
        else:
            x = torch.cat([z, side], dim=1)
        t = torch.as_tensor(t, dtype=z.dtype, device=z.device).expand(len(z))
        return self.backbone(x, t)
