"""EDM preconditioning around a raw backbone, optionally on the residual from a classical prior.

Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models",
Table 1 and eq. 7. Every objective in `sparsefield.objectives` calls this one denoiser in
"x0 units": `x_tilde = x0 + sigma * n`, n ~ N(0, I), and D(x_tilde, sigma, cond) estimates
E[x0 | x_tilde, cond]. The condition `cond` is opaque here: it goes to the backbone and to
`prior_fn` as it came (a field batch of coordinates and values, a context image, ...).

With `residual=True` the network models r = x0 − prior, where `prior = prior_fn(cond)` is a dense
classical estimate (e.g. normalised convolution at the output coordinates):

    D(x̃, σ) = prior + c_skip(σ) (x̃ − prior) + c_out(σ) F(c_in(σ) (x̃ − prior), c_noise(σ), cond, prior)

with c_skip = σ_d²/(σ² + σ_d²), c_out = σ σ_d / sqrt(σ² + σ_d²), c_in = 1/sqrt(σ² + σ_d²),
c_noise = ln(σ)/4. With F ≡ 0 (the backbone's zero-initialised last layer) D is exactly the
posterior mean E[x0 | x̃] when x0 − prior ~ N(0, σ_d² I): an untrained model already returns the
prior's Gaussian answer, and training adds only the correction. With `residual=False` (the
plain formulation) prior = 0 and the backbone receives prior=None.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

# prior_fn(cond) -> (B, ...) shaped like x0
PriorFn = Callable[[object], torch.Tensor]
# D(x_tilde (B, ...), sigma (B,), cond) -> (B, ...): the signature every objective consumes
Denoiser = Callable[[torch.Tensor, torch.Tensor, object], torch.Tensor]


class ResidualDenoiser(nn.Module):
    """EDM-preconditioned denoiser D(x̃, σ | cond) in x0 units.

    Args:
        backbone: raw network `F(x (B, ...), c_noise (B,), cond, prior (B, ...) | None) -> (B, ...)`.
        sigma_data: std of the modelled target: of x0 − prior when `residual`, of x0 otherwise.
        residual: model the residual around `prior_fn`'s estimate (True) or x0 itself (False).
        prior_fn: the classical estimate; required when `residual`.
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        sigma_data: float = 0.5,  # Expected std of the target (x0 − prior, or x0 when not residual).
        residual: bool = True,  # Denoise around a classical prior instead of around 0.
        prior_fn: PriorFn | None = None,  # Dense classical estimate at the output coordinates.
    ):
        super().__init__()
        if residual and prior_fn is None:
            raise ValueError("ResidualDenoiser(residual=True) needs a prior_fn")
        if sigma_data < 0:
            raise ValueError(f"sigma_data must be >= 0, got {sigma_data}")
        self.backbone = backbone
        self.sigma_data = float(sigma_data)
        self.residual = residual
        self.prior_fn = prior_fn

    def prior(self, cond) -> torch.Tensor | None:
        """(B, ...) prior for the condition, or None for the plain formulation."""
        return self.prior_fn(cond) if self.residual else None

    def forward(self, x_tilde: torch.Tensor, sigma: torch.Tensor, cond, prior: torch.Tensor | None = None):
        """D(x̃, σ): (B, ...) estimate of x0 from x̃ = x0 + σ n, σ of shape (B,).

        `prior` may be passed in when already computed for this condition (samplers call D many times).
        """
        prior = self.prior(cond) if prior is None else prior
        mu = torch.zeros_like(x_tilde) if prior is None else prior.to(x_tilde.dtype)  # (B, ...)
        s = sigma.to(x_tilde.dtype).reshape(-1, *([1] * (x_tilde.ndim - 1)))  # (B, 1, ...)
        sd = self.sigma_data
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        c_in = 1 / (s**2 + sd**2).sqrt()
        c_noise = s.flatten().log() / 4  # (B,)
        F_x = self.backbone(c_in * (x_tilde - mu), c_noise, cond, prior)
        return mu + c_skip * (x_tilde - mu) + c_out * F_x.to(x_tilde.dtype)  # EDM eq. 7, around the prior


def on_batch(denoiser: Denoiser, cond) -> Callable[[torch.Tensor, float | torch.Tensor], torch.Tensor]:
    """The closure D(x̃, σ) for one condition (a batch); a scalar σ is broadcast to every sample (B,).

    A ResidualDenoiser's prior is computed once here, not at every call.
    """
    kwargs = {"prior": denoiser.prior(cond)} if isinstance(denoiser, ResidualDenoiser) else {}

    def D(x_tilde: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x_tilde.dtype, device=x_tilde.device)
        return denoiser(x_tilde, sigma.expand(x_tilde.shape[0]), cond, **kwargs)

    return D


class CentredDenoiser(nn.Module):
    """D(x̃, σ) = μ + D_c(x̃ − μ, σ): EDM preconditioning of data centred by a measured per-channel mean μ.

    EDM's c_skip → 0 at large σ makes D return the data's mean only if that mean is 0; linear raw
    tiles in [−1, 1] sit near −0.7. With μ the training data's mean per channel and `sigma_data` the
    std of x0 − μ (both measured and stored with the model), F ≡ 0 gives the Gaussian posterior
    mean μ + σ_d²/(σ² + σ_d²) (x̃ − μ) of data N(μ, σ_d² I).
    """

    def __init__(self, backbone: nn.Module, *, sigma_data: float, mean: list[float]):
        super().__init__()
        self.inner = ResidualDenoiser(backbone, sigma_data=sigma_data, residual=False)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1))

    @property
    def sigma_data(self) -> float:
        return self.inner.sigma_data

    def forward(self, x_tilde: torch.Tensor, sigma: torch.Tensor, cond=None) -> torch.Tensor:
        mu = self.mean.to(x_tilde.dtype)
        return mu + self.inner(x_tilde - mu, sigma, cond)
