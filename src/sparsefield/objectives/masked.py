"""The one reduction of a per-element loss over the supervised elements of each sample.

    L_b = Σ_j m_bj ℓ_bj / max(Σ_j m_bj, 1)        per sample b, then the mean over the batch

with m the supervision weights (1 where supervised), broadcast to ℓ's shape first, so a per-pixel
mask (B, 1, H, W) counts every channel of a supervised pixel. Seed 000's query-only loss, its
full-image ablation and seed 004's leaf-pixel loss are three masks m over one formula. A sample
with no supervised element contributes 0 (not NaN: the max(·, 1) is explicit, not an epsilon);
m = None supervises every element (the plain mean per sample).
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
    """The training loss: the batch mean of `masked_mean` (with no mask: the plain mean of every element,
    which is the same number for samples of equal size, summed in one pass)."""
    return loss.mean() if weight is None else masked_mean(loss, weight).mean()


@dataclass
class MaskedLoss:
    """A per-element loss and its supervision masks, as a family's loss returns it to the training loop.

    The loop minimises masked_loss(value, weight) and logs the same reduction over each of
    `logged` (train_log.csv columns, e.g. loss_query and loss_full); a mask of None there means
    every element.
    """

    value: torch.Tensor  # (B, ...) per-element loss ℓ
    weight: torch.Tensor | None = None  # supervised elements m (None: all)
    logged: dict[str, torch.Tensor | None] = field(default_factory=dict)  # column -> mask
