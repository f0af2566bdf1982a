"""FNO-UNet (DDO's backbone; Lim et al. 2023, Li et al. 2021): a DDPM UNet whose 3×3 convolutions are spectral.

SpectralConv2d (Li et al. 2021, "Fourier neural operator", eq. 4-5):

    y = irfft2( W · rfft2(x)|modes ) + b + P x

rfft2 with norm "forward" (coefficients of the function, not of the grid, so the same weights act
on the same function at every resolution), `modes` frequencies kept per axis counted over both
signs (modes 16: rows 0…7 and −8…−1, rfft columns 0…8), complex weights W (out, in, m, m//2+1)
applied in one einsum, irfft2 back to the input's size; a per-channel bias b and a 1×1 pointwise
skip P. Modes per level = min(level resolution at `resolution`, modes); a coarser input uses the
weights' lowest frequencies.

UNet (Ho et al. 2020, without attention): the coordinate grid v (values i/H, i/W) concatenated to
the input once, a 1×1 lifting layer, residual blocks GN–SiLU–conv–FiLM(t)–GN–SiLU–conv with the
time embedding sinusoidal(1000 t) → MLP, 2× average-pool down, 2× bilinear up with skips; the
output layer starts at zero.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sparsefield.nn.embeddings import SinusoidalEmbedding


class SpectralConv2d(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, modes: int):
        super().__init__()
        if modes < 2 or modes % 2:
            raise ValueError(f"SpectralConv2d: modes must be even and >= 2, got {modes}")
        self.modes = modes
        scale = 1.0 / (in_ch * out_ch) ** 0.5
        # the complex weights (out, in, m, m//2+1) as (..., 2) real and imaginary parts: a complex matmul
        # on the CPU runs batch by batch, one real block matmul per mode is 10x faster
        self.weight = nn.Parameter(scale * torch.randn(out_ch, in_ch, modes, modes // 2 + 1, 2) / 2**0.5)
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1, bias=False)

    def _mix(self, kept: Tensor, rows: int, cols: int) -> Tensor:
        """W · kept for kept (B, I, rows, cols) complex: one real (2I × 2O) matmul per mode."""
        half = rows // 2
        w = torch.cat([self.weight[:, :, :half, :cols], self.weight[:, :, self.modes - half :, :cols]], dim=2)
        wr, wi = w[..., 0].permute(2, 3, 1, 0), w[..., 1].permute(2, 3, 1, 0)  # (rows, cols, I, O)
        block = torch.cat([torch.cat([wr, wi], -1), torch.cat([-wi, wr], -1)], -2).flatten(0, 1)  # (M, 2I, 2O)
        batch, channels = kept.shape[:2]
        a = torch.view_as_real(kept).permute(2, 3, 0, 4, 1).reshape(rows * cols, batch, 2 * channels)
        y = torch.bmm(a, block).view(rows, cols, batch, 2, -1).permute(2, 4, 0, 1, 3)  # (B, O, rows, cols, 2)
        return torch.view_as_complex(y.contiguous())

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        rows = min(self.modes, height - height % 2)  # frequencies kept over both signs, at most the grid's
        half, cols = rows // 2, min(self.modes // 2 + 1, width // 2 + 1)
        with torch.autocast(x.device.type, enabled=False):  # FFTs in float32
            spectrum = torch.fft.rfft2(x.float(), norm="forward")
            kept = torch.cat([spectrum[..., :half, :cols], spectrum[..., height - half :, :cols]], dim=-2)
            mixed = self._mix(kept, rows, cols)  # (B, O, rows, cols)
            gap = mixed.new_zeros(*mixed.shape[:2], height - rows, cols)
            full = torch.cat([mixed[..., :half, :], gap, mixed[..., half:, :]], dim=-2)
            full = torch.cat([full, full.new_zeros(*full.shape[:3], width // 2 + 1 - cols)], dim=-1)
            y = torch.fft.irfft2(full, s=(height, width), norm="forward")
        return y.to(x.dtype) + self.bias.view(1, -1, 1, 1) + self.pointwise(x)


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, ch), ch)


class ResBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, temb_dim: int, modes: int, dropout: float):
        super().__init__()
        self.norm1, self.conv1 = _norm(in_ch), SpectralConv2d(in_ch, out_ch, modes)
        self.film = nn.Linear(temb_dim, 2 * out_ch)  # scale and shift
        self.norm2, self.conv2 = _norm(out_ch), SpectralConv2d(out_ch, out_ch, modes)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(F.silu(temb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


def coordinate_grid(batch: int, height: int, width: int, device=None, dtype=None) -> Tensor:
    """(B, 2, H, W) grid v: row values i/H, column values j/W."""
    rows = torch.arange(height, device=device, dtype=dtype) / height
    cols = torch.arange(width, device=device, dtype=dtype) / width
    grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij"))
    return grid.expand(batch, -1, -1, -1)


class FNOUNet(nn.Module):
    """forward(x (B, in_ch, H, W), t (B,) in [0, 1]) -> (B, out_ch, H, W); H, W divisible by 2^(levels−1)."""

    def __init__(
        self,
        in_ch: int = 3,
        out_ch: int = 3,
        ch: int = 64,  # channels at the first level
        ch_mult: tuple[int, ...] = (1, 2, 2),  # channel multiplier per level
        num_res_blocks: int = 2,
        modes: int = 16,  # Fourier modes per axis (over both signs) at most
        resolution: int = 32,  # the training grid's side: fixes the modes of each level
        dropout: float = 0.0,
    ):
        super().__init__()
        temb_dim = 4 * ch
        self.levels = len(ch_mult)
        self.time = nn.Sequential(SinusoidalEmbedding(ch), nn.Linear(ch, temb_dim), nn.SiLU(),
                                  nn.Linear(temb_dim, temb_dim))
        self.lift = nn.Conv2d(in_ch + 2, ch, 1)
        level_modes = [max(2, min(modes, resolution >> i)) for i in range(len(ch_mult))]
        self.down, widths, now = nn.ModuleList(), [ch], ch
        for level, mult in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                self.down.append(ResBlock(now, ch * mult, temb_dim, level_modes[level], dropout))
                now = ch * mult
                widths.append(now)
            if level < len(ch_mult) - 1:
                widths.append(now)  # the downsampled features are a skip too
        self.mid = nn.ModuleList([ResBlock(now, now, temb_dim, level_modes[-1], dropout) for _ in range(2)])
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(ch_mult))):
            for _ in range(num_res_blocks + 1):
                self.up.append(ResBlock(now + widths.pop(), ch * mult, temb_dim, level_modes[level], dropout))
                now = ch * mult
        self.num_res_blocks = num_res_blocks
        self.out_norm, self.out = _norm(now), nn.Conv2d(now, out_ch, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        batch, _, height, width = x.shape
        if height % (1 << (self.levels - 1)) or width % (1 << (self.levels - 1)):
            raise ValueError(f"FNOUNet: {height}x{width} is not divisible by {1 << (self.levels - 1)}")
        temb = self.time(1000.0 * t.float())
        h = self.lift(torch.cat([x, coordinate_grid(batch, height, width, x.device, x.dtype)], dim=1))
        skips, blocks = [h], iter(self.down)
        for level in range(self.levels):
            for _ in range(self.num_res_blocks):
                h = next(blocks)(h, temb)
                skips.append(h)
            if level < self.levels - 1:
                h = F.avg_pool2d(h, 2)
                skips.append(h)
        for block in self.mid:
            h = block(h, temb)
        blocks = iter(self.up)
        for level in reversed(range(self.levels)):
            for _ in range(self.num_res_blocks + 1):
                h = next(blocks)(torch.cat([h, skips.pop()], dim=1), temb)
            if level > 0:
                h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
        return self.out(F.silu(self.out_norm(h)))
