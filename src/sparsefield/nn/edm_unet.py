"""EDMUNet: a small DDPM++-style UNet, the raw backbone F of an EDM denoiser on images.

Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models", eq. 7 and
Table 1: `sparsefield.nn.precond.ResidualDenoiser` wraps this network as

    D(x̃, σ) = c_skip(σ) x̃ + c_out(σ) F(c_in(σ) x̃, c_noise(σ)),   c_noise = ln(σ)/4,

and with F ≡ 0 (the output convolution starts at zero) D is exactly c_skip x̃ = σ_d²/(σ² + σ_d²) x̃,
the posterior mean E[x0 | x̃] for x0 ~ N(0, σ_d² I).

Layout (Ho et al. 2020; Song et al. 2021's DDPM++ with skip rescaling): a 3×3 input conv; per level
`num_blocks` residual blocks and a stride-2 3×3 conv down; a middle of block – self-attention – block
at the lowest resolution only; per level `num_blocks + 1` blocks on the concatenated skips and
nearest-neighbour ×2 + 3×3 conv up; GroupNorm – SiLU – zero-initialised 3×3 conv out. With the noise
embedding e = MLP(sinusoidal(c_noise)) (Vaswani et al. 2017 §3.5), a residual block is (FiLM: Perez et al. 2018)

    h = conv1(SiLU(GN(x))),   [a, b] = Linear(SiLU(e)),   h = GN(h) (1 + a) + b,
    y = (skip(x) + conv2(dropout(SiLU(h)))) / √2,                        conv2 zero-initialised,

and the attention block y = (x + proj(softmax(q kᵀ/√d) v)) / √2 over the H·W positions, proj zero-initialised.
Fully convolutional (no positional encoding): weights trained on 32-px crops run on 64-px tiles, for any
H, W divisible by 2^(len(ch_mult) − 1); the attention then spans the larger tile's positions.
The network is unconditional: `cond` and `prior` are accepted for the backbone interface and ignored.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sparsefield.nn.embeddings import SinusoidalEmbedding

SKIP_SCALE = 1 / math.sqrt(2)  # DDPM++ skip rescaling: keeps the variance of a residual sum


def _norm(ch: int) -> nn.GroupNorm:
    """GroupNorm with min(32, ch // 4) groups, lowered until it divides ch."""
    groups = max(1, min(32, ch // 4))
    while ch % groups:
        groups -= 1
    return nn.GroupNorm(groups, ch, eps=1e-6)


def _zero(layer: nn.Conv2d) -> nn.Conv2d:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class ResBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, dropout: float):
        super().__init__()
        self.norm1, self.conv1 = _norm(in_ch), nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * out_ch)  # scale a and shift b
        self.norm2, self.dropout = _norm(out_ch), nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, out, H, W)
        scale, shift = self.film(F.silu(emb))[:, :, None, None].chunk(2, dim=1)  # (B, out, 1, 1) each
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return (self.skip(x) + h) * SKIP_SCALE


class SelfAttention(nn.Module):
    def __init__(self, ch: int, heads: int):
        super().__init__()
        if ch % heads:
            raise ValueError(f"SelfAttention: {ch} channels do not split into {heads} heads")
        self.heads = heads
        self.norm, self.qkv, self.proj = _norm(ch), nn.Conv2d(ch, 3 * ch, 1), _zero(nn.Conv2d(ch, ch, 1))

    def forward(self, x: Tensor) -> Tensor:
        batch, ch, height, width = x.shape
        qkv = self.qkv(self.norm(x)).reshape(batch, 3, self.heads, ch // self.heads, height * width)
        q, k, v = qkv.transpose(-1, -2).unbind(1)  # (B, heads, HW, d) each
        h = F.scaled_dot_product_attention(q, k, v)  # (B, heads, HW, d)
        h = h.transpose(-1, -2).reshape(batch, ch, height, width)
        return (x + self.proj(h)) * SKIP_SCALE


class EDMUNet(nn.Module):
    """F(x (B, C, H, W), c_noise (B,)) -> (B, C, H, W); H, W divisible by 2^(len(ch_mult) − 1)."""

    def __init__(
        self,
        channels: int = 3,  # Image channels C, in and out.
        ch: int = 32,  # Channels at the first (full-resolution) level.
        ch_mult: tuple[int, ...] = (1, 2, 2),  # Channel multiplier per level; one ×2 down-sampling between levels.
        num_blocks: int = 1,  # Residual blocks per level on the way down (one more on the way up).
        attention: bool = True,  # One self-attention block in the middle, at the lowest resolution.
        heads: int = 1,  # Attention heads; must divide the lowest level's channels.
        dropout: float = 0.0,  # Dropout probability inside the residual blocks.
        emb_mult: int = 4,  # Width of the noise embedding, in units of `ch`.
    ):
        super().__init__()
        if not ch_mult:
            raise ValueError("EDMUNet: ch_mult must name at least one level")
        self.levels, emb_dim = len(ch_mult), emb_mult * ch
        self.sinusoidal = SinusoidalEmbedding(ch)
        self.mlp = nn.Sequential(nn.Linear(ch, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.conv_in = nn.Conv2d(channels, ch, 3, padding=1)
        self.down, widths, now = nn.ModuleList(), [ch], ch
        for level, mult in enumerate(ch_mult):
            for _ in range(num_blocks):
                self.down.append(ResBlock(now, ch * mult, emb_dim, dropout))
                now = ch * mult
                widths.append(now)
            if level < self.levels - 1:
                self.down.append(nn.Conv2d(now, now, 3, stride=2, padding=1))
                widths.append(now)  # the down-sampled features are a skip too
        self.mid1 = ResBlock(now, now, emb_dim, dropout)
        self.attn = SelfAttention(now, heads) if attention else nn.Identity()
        self.mid2 = ResBlock(now, now, emb_dim, dropout)
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(ch_mult))):
            for _ in range(num_blocks + 1):
                self.up.append(ResBlock(now + widths.pop(), ch * mult, emb_dim, dropout))
                now = ch * mult
            if level > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                             nn.Conv2d(now, now, 3, padding=1)))
        self.norm_out, self.conv_out = _norm(now), _zero(nn.Conv2d(now, channels, 3, padding=1))

    def forward(self, x: Tensor, c_noise: Tensor, cond=None, prior: Tensor | None = None) -> Tensor:
        """F(x, c_noise): (B, C, H, W) from x (B, C, H, W) and c_noise (B,); `cond`, `prior` are ignored."""
        height, width = x.shape[-2:]
        factor = 2 ** (self.levels - 1)
        if height % factor or width % factor:
            raise ValueError(f"EDMUNet: a {height}x{width} input is not divisible by {factor}")
        emb = self.mlp(self.sinusoidal(c_noise).to(x.dtype))  # (B, emb_dim)
        h = self.conv_in(x)  # (B, ch, H, W)
        skips = [h]
        for block in self.down:  # residual blocks and stride-2 convs; every output is a skip
            h = block(h, emb) if isinstance(block, ResBlock) else block(h)
            skips.append(h)
        h = self.mid2(self.attn(self.mid1(h, emb)), emb)  # (B, ch · ch_mult[-1], H / factor, W / factor)
        for block in self.up:
            h = block(torch.cat([h, skips.pop()], dim=1), emb) if isinstance(block, ResBlock) else block(h)
        return self.conv_out(F.silu(self.norm_out(h)))
