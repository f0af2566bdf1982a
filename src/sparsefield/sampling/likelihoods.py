"""Likelihoods p(y | x0) of an observation y, as small objects that posterior guidance calls.

Each likelihood answers three questions about a batch of clean estimates x0 (B, C, H, W):

- `log_likelihood(x0) -> (B,)`: log p(y | x0) per sample, up to a constant, differentiable in x0
  (DPS, Chung et al. 2023, eq. 16 takes its gradient through the denoiser);
- `prox(x0, rho) -> x`: argmin_x [−log p(y | x)] + (ρ/2) ‖x − x0‖², in closed form, per element
  (DiffPIR's data step, Zhu et al. 2023, eq. 13 / Alg. 1 line 5 with ρ = λ/σ_t²);
- `grad_scale(x0) -> (B,)`: ‖∇_{x0} log p(y | x0)‖ per sample, the normaliser of DPS's step
  (Alg. 1: ζ_i = ζ'/‖y − A(x̂0)‖ is this norm up to the constant σ_y² for a Gaussian likelihood).

Models:

- `Mask(y, mask, σ_y)`: y = x0 + n at the elements where mask = 1, n ~ N(0, σ_y²); nothing is
  observed where mask = 0. log p = −½ Σ mask (y − x0)²/σ_y². For σ_y = 0 (noise-free pixels)
  the density is degenerate: log p uses a unit weight, −½ Σ mask (y − x0)² (DPS normalises its
  step, so the weight does not matter there), and `prox` is the σ_y → 0 limit, the hard
  replacement mask y + (1 − mask) x0.
- `PoissonGaussian(y, gain, offset, a, b)`: a low-light measurement, y = the short exposure,
  unamplified, in linear units. With x_lin the clean linear value and r the exposure ratio, its
  mean is x_lin/r and its variance a·(x_lin/r) + b per channel: Poisson shot noise of gain a plus
  Gaussian read noise of variance b, in the heteroscedastic Gaussian approximation of Foi et al.
  2008 ("Practical Poissonian-Gaussian noise modeling and fitting for single-image raw-data").
  In the denoiser's variable the mean is the affine map m(x) = g x + h (for tiles in [−1, 1],
  x_lin = (x + 1)/2, so g = h = 1/(2r)); the variance v(x) = max(a·max(m(x), 0) + b, floor).
  log p = −½ Σ [(y − m)²/v + log v] is the true heteroscedastic density (v depends on x).

Noise-scale convention: every value a likelihood compares with x0 is in the units of the
variable the denoiser models (the "x units", `sparsefield.nn.precond`): `Mask`'s y and σ_y, and
the variances behind them. For images here that is [−1, 1], twice the range of [0, 1]: the DPS
paper states σ_y for images in [0, 1] while its code works on [−1, 1] data, so σ_y = 0.05 on
[0, 1] is σ_y = 0.1 here. `PoissonGaussian` is the one exception by design: y, a and b are in
the measurement's own (linear, unamplified) units and (g, h) carry x into them; its noise in x
units is √v/g.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def _per_sample(rho: float | Tensor, like: Tensor) -> float | Tensor:
    """ρ as a float, or a (B,) tensor reshaped to (B, 1, ...) to broadcast against `like`."""
    if isinstance(rho, Tensor) and rho.ndim == 1:
        return rho.to(like).reshape(-1, *([1] * (like.ndim - 1)))
    return rho


class Likelihood:
    """Base: `grad_scale` by autograd through `log_likelihood` (subclasses may give a closed form)."""

    def log_likelihood(self, x0: Tensor) -> Tensor:
        raise NotImplementedError

    def prox(self, x0: Tensor, rho: float | Tensor) -> Tensor:
        raise NotImplementedError

    def grad_scale(self, x0: Tensor) -> Tensor:
        """(B,) ‖∇_{x0} log p(y | x0)‖ per sample (Frobenius norm over all elements of a sample)."""
        with torch.enable_grad():
            x0 = x0.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.log_likelihood(x0).sum(), x0)
        return grad.flatten(1).norm(dim=1)


class Mask(Likelihood):
    """y = x0 + n, n ~ N(0, σ_y²), at the elements where mask = 1 (inpainting, sparse samples).

    Args:
        y: (B, C, H, W) observed values in x units; anything (even NaN) where mask = 0.
        mask: (B, 1 or C, H, W) in {0, 1}, 1 where observed.
        sigma_y: the observation noise std in x units (0: noise-free, see the module docstring).
    """

    def __init__(self, y: Tensor, mask: Tensor, sigma_y: float = 0.0):
        if sigma_y < 0:
            raise ValueError(f"Mask: sigma_y must be >= 0, got {sigma_y}")
        self.mask = mask.to(y.dtype).expand_as(y)  # (B, C, H, W)
        self.y = torch.where(self.mask > 0, y, torch.zeros_like(y))  # unobserved values never enter
        self.sigma_y = float(sigma_y)
        self.weight = 1.0 / self.sigma_y**2 if self.sigma_y > 0 else 1.0  # 1/σ_y², or a unit weight

    def log_likelihood(self, x0: Tensor) -> Tensor:
        return (-0.5 * self.weight * self.mask * (self.y - x0) ** 2).flatten(1).sum(1)

    def prox(self, x0: Tensor, rho: float | Tensor) -> Tensor:
        if self.sigma_y == 0:
            return self.mask * self.y + (1 - self.mask) * x0  # hard replacement, the σ_y → 0 limit
        rho, w = _per_sample(rho, x0), self.mask * self.weight
        return (w * self.y + rho * x0) / (w + rho)

    def grad_scale(self, x0: Tensor) -> Tensor:
        return (self.weight * self.mask * (self.y - x0)).flatten(1).norm(dim=1)  # ‖mask (y − x0)/σ_y²‖


class PoissonGaussian(Likelihood):
    """y ≈ g x + h + n, Var n = max(a·max(g x + h, 0) + b, floor): Poisson–Gaussian noise as a Gaussian.

    Args:
        y: (B, C, H, W) the measurement (the short exposure, unamplified, linear units).
        gain: g, float or tensor broadcastable to y: measurement units per x unit (1/(2r) for [−1, 1] tiles).
        offset: h, float or broadcastable tensor: the measurement of x = 0 (1/(2r) for [−1, 1] tiles).
        a: shot-noise gain per channel, float or (C, 1, 1) / (B, C, 1, 1), measurement units.
        b: read-noise variance per channel, same shapes, measurement units².
        floor: the smallest variance allowed (keeps log v and 1/v finite in the dark).
    """

    def __init__(self, y: Tensor, gain: float | Tensor, offset: float | Tensor, a: float | Tensor,
                 b: float | Tensor, floor: float = 1e-8):
        self.y, self.g, self.h, self.a, self.b, self.floor = y, gain, offset, a, b, float(floor)

    def mean(self, x0: Tensor) -> Tensor:
        """m(x) = g x + h, in measurement units."""
        return self.g * x0 + self.h

    def variance(self, x0: Tensor) -> Tensor:
        """v(x) = max(a·max(m(x), 0) + b, floor), in measurement units²."""
        return (self.a * self.mean(x0).clamp_min(0) + self.b).clamp_min(self.floor)

    def log_likelihood(self, x0: Tensor) -> Tensor:
        m, v = self.mean(x0), self.variance(x0)
        return (-0.5 * ((self.y - m) ** 2 / v + v.log())).flatten(1).sum(1)

    def prox(self, x0: Tensor, rho: float | Tensor) -> Tensor:
        """The closed form with v frozen at v(x0) (one linearisation of the heteroscedastic term):
        argmin_x (y − g x − h)²/(2 v(x0)) + (ρ/2)(x − x0)² = (g (y − h)/v + ρ x0)/(g²/v + ρ)."""
        v, rho = self.variance(x0), _per_sample(rho, x0)
        return (self.g * (self.y - self.h) / v + rho * x0) / (self.g**2 / v + rho)
