"""The one reduction of a per-element loss over the supervised elements of each sample.

    L_b = Σ_j m_bj ℓ_bj / max(Σ_j m_bj, 1)        per sample b, then the mean over the batch

with m the supervision weights (1 where supervised), broadcast to ℓ's shape first, so a per-pixel
mask (B, 1, H, W) counts every channel of a supervised pixel. The query-only loss of conditional
DDO, its full-image ablation and the multispectral VAE's leaf-pixel loss are three masks m over one formula. A sample
with no supervised element has L_b = 0 (not NaN: the max(·, 1) is explicit, not an epsilon) and is
left out of the batch mean, so an empty mask neither pulls the loss to zero nor rescales the
others' gradients (dividing by Σ m + 1e-8 instead makes an empty mask there is a silent zero that still
counts); m = None supervises every element (the plain mean per sample).

A family's loss may add further terms (the VAE: the spectral angle and the KL divergence), each
the same reduction of its own per-element value over its own mask, times a coefficient:

    L = masked_loss(ℓ, m) + Σ_k c_k masked_loss(ℓ_k, m_k)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


def masked_mean(loss: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """(B,) per-sample Σ m ℓ / max(Σ m, 1) of a loss (B, ...) and weights broadcastable to it."""
    if weight is None:
        return loss.flatten(1).mean(1)
    weight = weight.to(loss.dtype).expand_as(loss)
    return (weight * loss).flatten(1).sum(1) / weight.flatten(1).sum(1).clamp(min=1.0)


def masked_loss(loss: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """The training loss: the mean of `masked_mean` over the samples that have a supervised element (with no
    mask: the plain mean of every element, which is the same number for samples of equal size, in one pass)."""
    if weight is None:
        return loss.mean()
    present = (weight.to(loss.dtype).expand_as(loss).flatten(1).sum(1) > 0).to(loss.dtype)
    return (masked_mean(loss, weight) * present).sum() / present.sum().clamp(min=1.0)


@dataclass
class Term:
    """A further term of a family's loss: `coefficient` × masked_loss(value, weight)."""

    value: torch.Tensor  # (B, ...) per-element loss
    weight: torch.Tensor | None = None  # its supervised elements (None: all)
    coefficient: float = 1.0


@dataclass
class MaskedLoss:
    """A per-element loss and its supervision masks, as a family's loss returns it to the training loop.

    The loop minimises `total()` and logs the same reduction of `value` over each of `logged`
    (train_log.csv columns, e.g. loss_query and loss_full; a mask of None there means every
    element) and each term's own reduction, before its coefficient, under the term's name.
    """

    value: torch.Tensor  # (B, ...) per-element loss ℓ
    weight: torch.Tensor | None = None  # supervised elements m (None: all)
    logged: dict[str, torch.Tensor | None] = field(default_factory=dict)  # column -> mask
    terms: dict[str, Term] = field(default_factory=dict)  # column -> a further term of the loss

    def parts(self) -> dict[str, torch.Tensor]:
        """The main reduction ("main") and every term's, each before its coefficient (float32 or wider)."""
        parts = {"main": masked_loss(self.value.float(), self.weight)}
        return parts | {name: masked_loss(term.value.float(), term.weight) for name, term in self.terms.items()}

    def total(self, parts: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """L = masked_loss(ℓ, m) + Σ_k c_k masked_loss(ℓ_k, m_k) (of `parts` when given)."""
        parts = self.parts() if parts is None else parts
        return parts["main"] + sum(term.coefficient * parts[name] for name, term in self.terms.items())
