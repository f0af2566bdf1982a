"""The ancestral sampler of blurring diffusion (`sparsefield.objectives.blurring`), per DCT mode.

Hoogeboom & Salimans (2023), §3 and Alg. 2, with Gaussian-random-field noise: from t to s < t on a
uniform grid 1 = t_S > … > t_0 = 0, per mode k (DCT coefficients u of z; λ_k the GRF's variance),

    α_ts = α_t / α_s,   σ²_ts = σ_t² − α²_ts σ_s²
    μ_k  = α_ts σ_s²/σ_t² · u_t + α_s σ²_ts/σ_t² · x̂₀_k
    u_s  = μ_k + √(σ²_ts σ_s² / σ_t² · λ_k) ξ,   ξ ~ N(0, 1)

with x̂₀ the network's (x0-prediction) or (z_t − σ_t ε̂)/α_t (ε-prediction), optionally clipped in
pixel space to the data's range (`clip`, DDPM's clip_denoised): the equivalent ε-form
μ = (u_t − σ²_ts/σ_t ε̂)/α_ts divides the network's error by α_ts, which a coarse time grid makes
e^8 for the highest modes in one step (measured: NaN at 10 steps). z_1 = σ(1) ε.
The last step returns its mean: z_0's mean, which is still blurred by d_k(0) (σ_min) — sampler
"ancestral", the paper's output; "ancestral_x0" returns x̂₀ = IDCT(μ_k / α_k(0)) instead, the
same chain undone of the t = 0 blur (the two differ only in that last division). One network
evaluation per step. Both return (sample, x̂₀ at the first step), in pixel space.
"""

from __future__ import annotations

import torch

from sparsefield.objectives.blurring import dct2, idct2


def _chain(D, process, randn, steps: int, undo_blur: bool, clip=None):
    """D(z, t) -> the network output at z_t; randn() -> (B, C, H, W) white noise; clip(x̂₀) -> x̂₀ in the
    data's range, or None. Returns (x, x̂₀ at the first step), pixel space."""
    eps = randn()
    height, width = eps.shape[-2:]
    device, dtype = eps.device, eps.dtype
    lam = process.grf_variance(height, width, device)
    z = float(process.a_sigma(1.0)[1]) * process.grf(eps)
    grid = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64).tolist()
    first = None
    for i, (t, s) in enumerate(zip(grid[:-1], grid[1:], strict=True)):
        _, x0_k = process.eps_and_x0(D(z, t), z, t)
        if clip is not None:
            x0_k = dct2(clip(idct2(x0_k)))
        if first is None:
            first = idct2(x0_k)
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
    return idct2(u), first


def ancestral(D, process, randn, *, steps: int, clip=None):
    """`steps` ancestral steps from t = 1 to 0; the last returns z_0's mean (blurred by d_k(0))."""
    return _chain(D, process, randn, steps, undo_blur=False, clip=clip)


def ancestral_x0(D, process, randn, *, steps: int, clip=None):
    """The same chain; the last step returns x̂₀ (z_0's mean divided by α_k(0) per mode)."""
    return _chain(D, process, randn, steps, undo_blur=True, clip=clip)


SAMPLERS = {"ancestral": ancestral, "ancestral_x0": ancestral_x0}


def nfe(process, sampler: str, steps: int) -> int:
    """One evaluation per step."""
    return steps


def steps_for_nfe(process, sampler: str, budget: int) -> int:
    return max(1, budget)
