"""The ancestral sampler of blurring diffusion (`sparsefield.objectives.blurring`), per DCT mode.

Hoogeboom & Salimans (2023), §3 and Alg. 2, with Gaussian-random-field noise: from t to s < t on a
uniform grid 1 = t_S > … > t_0 = 0, per mode k (DCT coefficients u of z; λ_k the GRF's variance),

    α_ts = α_t / α_s,   σ²_ts = σ_t² − α²_ts σ_s²
    μ_k  = α_ts σ_s²/σ_t² · u_t + α_s σ²_ts/σ_t² · x̂₀_k
    u_s  = μ_k + √(σ²_ts σ_s² / σ_t² · λ_k) ξ,   ξ ~ N(0, 1)

with x̂₀ the network's (x0-prediction) or (z_t − σ_t ε̂)/α_t (ε-prediction), optionally clipped in
pixel space to the data's range (`clip`, DDPM's clip_denoised): the equivalent ε-form
μ = (u_t − σ²_ts/σ_t ε̂)/α_ts divides the network's error by α_ts, which a coarse time grid makes
e^8 for the highest modes in one step (measured: NaN at 10 steps). z_1 = σ(1) ε (`start`).
The last step returns its mean: z_0's mean, which is still blurred by d_k(0) (σ_min) — sampler
"ancestral", the paper's output; "ancestral_x0" returns x̂₀ = IDCT(μ_k / α_k(0)) instead, the
same chain undone of the t = 0 blur (the two differ only in that last division). One network
evaluation per step. Samplers follow `sampling.common`'s contract, sampler(D, x, grid, randn), in
pixel space; `denoised` gives a step's x̂₀ in pixel space (the family's posterior mean at the first).
"""

from __future__ import annotations

import torch

from sparsefield.objectives.blurring import dct2, idct2
from sparsefield.sampling.common import Levels


def grid(process, sampler: str, steps: int) -> Levels:
    """`steps + 1` uniform times from t = 1 (noise) to t = 0."""
    return Levels(torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64).tolist(), process)


def start(grid: Levels, randn):
    """z_1 = σ(1) ε with ε the GRF noise (white noise coloured per mode), pixel space."""
    return float(grid.process.a_sigma(1.0)[1]) * grid.process.grf(randn())


def _x0_modes(process, output, z, t: float, clip=None):
    """x̂₀ in DCT modes of the network's `output` at z_t, clipped in pixel space by `clip` (or not)."""
    _, x0_k = process.eps_and_x0(output, z, t)
    return x0_k if clip is None else dct2(clip(idct2(x0_k)))


def denoised(process, output, z, t: float, clip=None):
    """x̂₀ in pixel space of the network's `output` at z_t (the family's posterior mean at the first step)."""
    return idct2(_x0_modes(process, output, z, t, clip))


def _chain(D, z, grid: Levels, randn, undo_blur: bool, clip=None):
    """D(z, t) -> the network output at z_t; randn() -> (B, C, H, W) white noise; clip(x̂₀) -> x̂₀ in the
    data's range, or None. Returns x, pixel space."""
    process = grid.process
    height, width = z.shape[-2:]
    device, dtype = z.device, z.dtype
    lam = process.grf_variance(height, width, device)
    steps = len(grid) - 1
    for i, (t, s) in enumerate(zip(grid[:-1], grid[1:], strict=True)):
        x0_k = _x0_modes(process, D(z, t), z, t, clip)
        alpha_t, alpha_s = (process.alpha(v, height, width, device) for v in (t, s))
        sigma_t, sigma_s = (float(process.a_sigma(v)[1]) for v in (t, s))
        alpha_ts = alpha_t / alpha_s
        var_ts = (sigma_t**2 - alpha_ts**2 * sigma_s**2).clamp(min=0.0)
        u = (alpha_ts * sigma_s**2 / sigma_t**2).to(dtype) * dct2(z) + (alpha_s * var_ts / sigma_t**2).to(dtype) * x0_k
        if i < steps - 1:
            std = (var_ts * sigma_s**2 / sigma_t**2 * lam).sqrt().to(dtype)
            u = u + std * randn()
            z = idct2(u)
    if undo_blur:
        u = u / process.alpha(0.0, height, width, device).to(dtype)
    return idct2(u)


def ancestral(D, x, grid: Levels, randn, *, clip=None):
    """Ancestral steps along the grid from t = 1 to 0; the last returns z_0's mean (blurred by d_k(0))."""
    return _chain(D, x, grid, randn, undo_blur=False, clip=clip)


def ancestral_x0(D, x, grid: Levels, randn, *, clip=None):
    """The same chain; the last step returns x̂₀ (z_0's mean divided by α_k(0) per mode)."""
    return _chain(D, x, grid, randn, undo_blur=True, clip=clip)


SAMPLERS = {"ancestral": ancestral, "ancestral_x0": ancestral_x0}


def steps_for_nfe(process, sampler: str, budget: int) -> int:
    """Steps whose NFE (one evaluation per step) is `budget`."""
    return max(1, budget)
