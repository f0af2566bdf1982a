"""The masked loss of a multispectral KL autoencoder, trained on leaf pixels only.

x: the image (B, C, H, W), reflectance in [0, 1] (the data's own scale; no [−1, 1] mapping);
x̂: its reconstruction; s_c: band c's std on the training images; m: the leaf mask.

    mask       m (B, 1, H, W) or (B, C, H, W), broadcast to (B, C, H, W), binarised m = [m > 0.5];
               any other shape is an error
    MSE_c      Σ_{h,w} m ((x̂ − x) / s_c)² / max(Σ_{h,w} m, 1)    per sample and band c, in units of
               the band's std (the reflectance of blue is ~0.05, of NIR ~0.45: every band counts alike)
    SAM_p      arccos clamp(⟨x̂_p, x_p⟩ / (max(‖x̂_p‖, ε) max(‖x_p‖, ε)), −1 + δ, 1 − δ)    per pixel p,
               the angle (radians) between the spectra over the band axis, on reflectance; averaged over
               the pixels in m with ‖x_p‖ > ε (a zero spectrum has no direction: left out, never NaN;
               δ keeps arccos' gradient finite where the spectra are parallel)
    KL         ½ (μ² + σ² − 1 − ln σ²) per latent element of the posterior N(μ, σ²), averaged
    total      mean_c MSE_c + λ_SAM SAM + β KL

Every average is the one reduction of `objectives.masked` (per sample over its mask, then over
the samples that have one): a sample with an empty mask adds nothing and the training log shows
its coverage. mask = None is the unmasked ablation: every pixel supervised. torchmetrics' SAM is
not used: it takes no mask and returns NaN for a batch with one zero-norm pixel.

Coverage = Σ m / (B H W) of a batch; below 0.1 or above 0.95 a warning is logged (little leaf to
learn from, or a mask that masks nothing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from sparsefield.objectives.masked import MaskedLoss, Term, masked_loss

LOGGER = logging.getLogger("sparsefield.vae")
LOW_COVERAGE, HIGH_COVERAGE = 0.1, 0.95


def validate_mask(mask: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
    """The mask of images `x` (B, C, H, W) as {0, 1} of x's dtype, (B, 1, H, W) or (B, C, H, W); None stays None.

    Raises:
        ValueError: a mask that is not (B, 1, H, W) or (B, C, H, W) for x (one line, both shapes).
    """
    if mask is None:
        return None
    batch, channels, height, width = x.shape
    if mask.ndim != 4 or mask.shape[0] != batch or mask.shape[1] not in (1, channels) or mask.shape[2:] != (
        height, width):
        raise ValueError(f"mask of shape {tuple(mask.shape)} cannot broadcast to images {tuple(x.shape)}; "
                         f"give (B, 1, H, W) or (B, C, H, W)")
    return (mask > 0.5).to(x.dtype)


def spectral_angle(x_hat: torch.Tensor, x: torch.Tensor, eps: float = 1e-6, delta: float = 1e-7) -> torch.Tensor:
    """(B, 1, H, W) angle in radians between the spectra (dim 1) of x̂ and x (formula: module docstring)."""
    dot = (x_hat * x).sum(1, keepdim=True)
    norms = x_hat.norm(dim=1, keepdim=True).clamp(min=eps) * x.norm(dim=1, keepdim=True).clamp(min=eps)
    return torch.arccos((dot / norms).clamp(-1.0 + delta, 1.0 - delta))


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) per element: ½ (μ² + σ² − 1 − ln σ²)."""
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar)


def coverage_stats(mask: torch.Tensor | None, x: torch.Tensor) -> dict[str, float]:
    """coverage (leaf share of the batch's pixels), valid_pixels (leaf pixels), total_pixels (B H W)."""
    batch, _, height, width = x.shape
    total = batch * height * width
    valid = total if mask is None else int(mask[:, :1].sum().item())
    return dict(coverage=valid / total, valid_pixels=valid, total_pixels=total)


def warn_coverage(stats: dict[str, float]) -> bool:
    """Log a warning when a batch's coverage is below 0.1 or above 0.95; whether it did."""
    if LOW_COVERAGE <= stats["coverage"] <= HIGH_COVERAGE:
        return False
    what = "low" if stats["coverage"] < LOW_COVERAGE else "high"
    LOGGER.warning(f"{what} mask coverage {stats['coverage']:.4f} ({stats['valid_pixels']}/{stats['total_pixels']} "
                   f"pixels are leaf); thresholds {LOW_COVERAGE} and {HIGH_COVERAGE}")
    return True


@dataclass(frozen=True)
class MaskedSpectralLoss:
    """The loss of the module docstring; `sam_weight` = λ_SAM, `kl_weight` = β."""

    sam_weight: float = 0.1
    kl_weight: float = 1e-4
    eps: float = 1e-6  # on the spectral norms (reflectance units)

    def __call__(self, x, x_hat, mean, logvar, mask=None, scale=None, bands=None) -> MaskedLoss:
        """The per-element terms (`objectives.masked.MaskedLoss`) of images x and reconstructions x̂ (B, C, H, W),
        the posterior's (μ, ln σ²), the leaf mask and the band stds s (C,) (None: 1).

        The training log gets loss_full (every pixel) and loss_leaf (the mask's pixels) of the MSE, and
        one column per band (`bands`, default band0..) of the per-band MSE over the supervised pixels.
        """
        m = validate_mask(mask, x)
        if m is not None:
            warn_coverage(coverage_stats(m, x))
        s = torch.ones(x.shape[1], device=x.device) if scale is None else scale
        mse = ((x_hat - x) / s.view(1, -1, 1, 1).to(x)).square()
        valid = (x.norm(dim=1, keepdim=True) > self.eps).to(x.dtype)
        onehot = torch.eye(x.shape[1], device=x.device, dtype=x.dtype).view(x.shape[1], 1, -1, 1, 1)
        names = bands if bands is not None else [f"band{c}" for c in range(x.shape[1])]
        supervised = torch.ones_like(x[:, :1]) if m is None else m
        logged = {"loss_full": None, "loss_leaf": m}
        logged |= {f"mse_{name}": supervised * onehot[c] for c, name in enumerate(names)}
        terms = {
            "loss_sam": Term(spectral_angle(x_hat, x, self.eps), valid if m is None else valid * m[:, :1],
                             self.sam_weight),
            "loss_kl": Term(kl_divergence(mean, logvar), None, self.kl_weight),
        }
        return MaskedLoss(mse, m, logged=logged, terms=terms)

    def summary(self, terms: MaskedLoss, x: torch.Tensor) -> dict:
        """The reduced losses of `terms` for images x: total, mse, mse_per_channel (C,), sam (radians), kl,
        and mask_stats (coverage, valid_pixels, total_pixels)."""
        parts = terms.parts()
        per_channel = [masked_loss(terms.value, weight) for name, weight in terms.logged.items()
                       if name.startswith("mse_")]
        return dict(total=terms.total(parts), mse=parts["main"], mse_per_channel=torch.stack(per_channel),
                    sam=parts["loss_sam"], kl=parts["loss_kl"], mask_stats=coverage_stats(terms.weight, x))
