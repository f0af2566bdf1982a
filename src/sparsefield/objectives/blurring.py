"""Blurring diffusion in function space (DDO: Lim et al. 2023, arXiv:2302.07400; Hoogeboom & Salimans 2023).

Everything acts per mode of the orthonormal 2-D DCT-II, `dct2` (the basis of the heat equation with
Neumann boundaries on the unit square; pixel n of N sits at x = (n + ½)/N, mode k is cos(π k x)).

Schedule (time t ∈ [0, 1], t = 0 data, t = 1 noise):

    λ(t)      = −2 log tan(t_0 + t (t_1 − t_0))        the cosine logSNR, with t_0, t_1 putting λ(0) = 10, λ(1) = −10
    a(t)      = √sigmoid(λ),  σ(t) = √sigmoid(−λ)      (a² + σ² = 1)
    σ_b(t)    = σ_min + (σ_max − σ_min) sin²(π t / 2)  the blur's length (σ_min 0.05, σ_max 0.25 of the unit square)
    d_k(t)    = (1 − d_min) exp(−(k₁² + k₂²) τ(t)) + d_min,  τ = σ_b² / 2
                                                       per mode, integer mode indices k (the same factor for the
                                                       same mode at every resolution); d_min = 0.001 bounds
                                                       the division by α (Hoogeboom & Salimans' min_scale)
    α_k(t)    = a(t) d_k(t)

Marginal: z_t = IDCT(α_k(t) · DCT(x₀)) + σ(t) ε, with ε a Gaussian random field (`grf`): the squared-
exponential kernel exp(−r² / 2ℓ²), ℓ = 0.05 of the unit square, unit variance per pixel, generated
spectrally — DCT coefficient k of ε has variance λ_k ∝ exp(−π² ℓ² |k|² / 2), the kernel's spectral
density at angular frequency π k. All noise scales are in the units of the generated variable
x₀ (the data in [−1, 1], or the residual around a classical estimate divided by `sigma_data`).

Loss (DSM, ε-prediction): ℓ = ½ (ε̂ − ε)² per pixel and channel, ε̂ = D(z_t, t, cond). With
prediction "x0" the network returns x̂₀ instead and ℓ = ½ (x̂₀ − x₀)²: at t = 1, α ≈ 0.0067 d_k, so
an ε-model's x̂₀ = (z − σ ε̂)/α multiplies the error of ε̂ by over 150 (and by 1/d_k more per mode);
only an x₀-model has a usable estimate of E[x₀ | context] at the first step.

t is drawn low-discrepancy (Kingma et al. 2021, VDM §I.1): one u₀ per batch, t_i = (u₀ + i / B) mod 1.
The ancestral sampler: `sparsefield.sampling.blurring`.
"""

from __future__ import annotations

import functools
import math

import torch

from sparsefield.rng import SampleNoise


@functools.lru_cache(maxsize=16)
def _dct_matrix(n: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    """(n, n) orthonormal DCT-II: C[k, j] = √(2/n) c_k cos(π k (2j + 1) / 2n), c_0 = 1/√2."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    j = torch.arange(n, dtype=torch.float64)[None, :]
    matrix = math.sqrt(2.0 / n) * torch.cos(math.pi * k * (2 * j + 1) / (2 * n))
    matrix[0] /= math.sqrt(2.0)
    return matrix.to(device=device, dtype=dtype)


def dct2(x: torch.Tensor) -> torch.Tensor:
    """Orthonormal 2-D DCT-II over the last two axes (H, W)."""
    ch, cw = (_dct_matrix(n, str(x.device), x.dtype) for n in x.shape[-2:])
    return ch @ x @ cw.T


def idct2(u: torch.Tensor) -> torch.Tensor:
    """Inverse of `dct2` (its transpose)."""
    ch, cw = (_dct_matrix(n, str(u.device), u.dtype) for n in u.shape[-2:])
    return ch.T @ u @ cw


def mode_norm2(height: int, width: int, device=None) -> torch.Tensor:
    """(H, W) float64 k₁² + k₂² of the integer DCT mode indices."""
    k1 = torch.arange(height, dtype=torch.float64, device=device)[:, None]
    k2 = torch.arange(width, dtype=torch.float64, device=device)[None, :]
    return k1**2 + k2**2


def low_discrepancy_times(noise: SampleNoise) -> torch.Tensor:
    """(B,) t_i = (u₀ + i/B) mod 1, u₀ drawn from the batch's first stream (VDM's low-discrepancy sampler)."""
    batch = len(noise)
    u0 = torch.rand((), generator=noise.generators[0]).item()
    return torch.remainder(u0 + torch.arange(batch, dtype=torch.float64) / batch, 1.0).to(noise.device)


class BlurringDiffusion:
    """The forward process, its GRF noise and the DSM loss (module docstring); `t` is (B,) or a float."""

    def __init__(
        self,
        logsnr_min: float = -10.0,  # λ(1)
        logsnr_max: float = 10.0,  # λ(0)
        blur_min: float = 0.05,  # σ_min of the blur, fraction of the unit square
        blur_max: float = 0.25,  # σ_max
        length_scale: float = 0.05,  # ℓ of the noise's squared-exponential kernel, fraction of the unit square
        blur_floor: float = 0.001,  # d_min: no mode is damped below this
        prediction: str = "eps",  # what the network returns: "eps" (DDO, the paper) or "x0"
    ):
        if prediction not in ("eps", "x0"):
            raise ValueError(f"prediction must be 'eps' or 'x0', got {prediction!r}")
        if not logsnr_min < logsnr_max:
            raise ValueError(f"need logsnr_min < logsnr_max, got {logsnr_min}, {logsnr_max}")
        self.logsnr_min, self.logsnr_max = logsnr_min, logsnr_max
        self.blur_min, self.blur_max, self.length_scale = blur_min, blur_max, length_scale
        self.blur_floor = blur_floor
        self.prediction = prediction
        self._t0 = math.atan(math.exp(-0.5 * logsnr_max))
        self._t1 = math.atan(math.exp(-0.5 * logsnr_min))

    # --- schedule ------------------------------------------------------------------------------
    def logsnr(self, t) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.float64)
        return -2.0 * torch.log(torch.tan(self._t0 + t * (self._t1 - self._t0)))

    def a_sigma(self, t) -> tuple[torch.Tensor, torch.Tensor]:
        """a(t), σ(t) as float64 tensors of t's shape."""
        lam = self.logsnr(t)
        return torch.sigmoid(lam).sqrt(), torch.sigmoid(-lam).sqrt()

    def tau(self, t) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.float64)
        blur = self.blur_min + (self.blur_max - self.blur_min) * torch.sin(0.5 * math.pi * t) ** 2
        return 0.5 * blur**2

    def blur(self, t, height: int, width: int, device=None) -> torch.Tensor:
        """d_k(t): (*t.shape, H, W) float64 per-mode damping of the heat blur."""
        tau = self.tau(t).to(device)
        heat = torch.exp(-mode_norm2(height, width, device) * tau[..., None, None])
        return (1.0 - self.blur_floor) * heat + self.blur_floor

    def alpha(self, t, height: int, width: int, device=None) -> torch.Tensor:
        """α_k(t) = a(t) d_k(t): (*t.shape, H, W) float64."""
        a, _ = self.a_sigma(t)
        return a.to(device)[..., None, None] * self.blur(t, height, width, device)

    # --- noise ---------------------------------------------------------------------------------
    def grf_variance(self, height: int, width: int, device=None) -> torch.Tensor:
        """λ_k: (H, W) float64 variance of DCT coefficient k of ε; Σ λ_k = H W (unit variance per pixel)."""
        density = torch.exp(-0.5 * (math.pi * self.length_scale) ** 2 * mode_norm2(height, width, device))
        return density * (height * width / density.sum())

    def grf(self, white: torch.Tensor) -> torch.Tensor:
        """The GRF ε (..., H, W) from white noise of the same shape (its DCT coefficients, before scaling)."""
        height, width = white.shape[-2:]
        scale = self.grf_variance(height, width, white.device).sqrt().to(white.dtype)
        return idct2(scale * white)

    # --- forward process and loss --------------------------------------------------------------
    def diffuse(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """z_t = IDCT(α_k(t) DCT(x₀)) + σ(t) ε for x0, eps (B, C, H, W), t (B,)."""
        height, width = x0.shape[-2:]
        alpha = self.alpha(t, height, width, x0.device)[:, None].to(x0.dtype)  # (B, 1, H, W)
        sigma = self.a_sigma(t)[1].to(device=x0.device, dtype=x0.dtype).view(-1, 1, 1, 1)
        return idct2(alpha * dct2(x0)) + sigma * eps

    def loss(self, D, x0: torch.Tensor, cond, noise: SampleNoise) -> torch.Tensor:
        """(B, C, H, W) per-element ½ (ε̂ − ε)² (or ½ (x̂₀ − x₀)²), low-discrepancy t, GRF ε per sample."""
        t = low_discrepancy_times(noise)
        eps = self.grf(noise.randn(*x0.shape[1:]).to(x0.dtype))
        z = self.diffuse(x0, t, eps)
        out = D(z, t.to(x0.dtype), cond)
        target = eps if self.prediction == "eps" else x0
        return 0.5 * (out - target) ** 2

    # --- conversions the sampler uses -----------------------------------------------------------
    def eps_and_x0(self, out: torch.Tensor, z: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """DCT coefficients (ε̂_k, x̂₀_k) from the network's output at z_t (pixel space, (B, C, H, W))."""
        height, width = z.shape[-2:]
        alpha = self.alpha(t, height, width, z.device).to(z.dtype)
        sigma = float(self.a_sigma(t)[1])
        u_z, u_out = dct2(z), dct2(out)
        if self.prediction == "eps":
            return u_out, (u_z - sigma * u_out) / alpha
        return (u_z - alpha * u_out) / sigma, u_out
