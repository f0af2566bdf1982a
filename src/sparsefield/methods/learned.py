"""What every learned family's Params share: the training loop's, the learning curve's and the sampling settings.

A family's `Params` holds `train: Train`, `evaluation: Curve`, `sample: Sample | None` (None in the
train stage, which never sees the sampling settings) and `objective` (keyword arguments of its
kind's objective class, built by `objective`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Train:
    """The training loop's settings (`sparsefield.train.train`)."""

    steps: int
    batch_size: int
    lr: float
    weight_decay: float = 0.0
    warmup: int = 100
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    checkpoint_every: int = 500
    num_workers: int = 0


@dataclass(frozen=True)
class Curve:
    """The learning curve: every `every` steps, K = `k` samples of the first `images` test images."""

    every: int
    images: int
    k: int
    steps: int
    sampler: str


@dataclass(frozen=True)
class Sample:
    """Sampling the test split (the reconstruct and sweep stages only: an edit here never retrains)."""

    sampler: str
    steps: int
    n_samples: int
    sweep_nfe: tuple[int, ...] = (5, 10, 20, 50)
    sweep_images: int = 32
    batch_size: int = 64


def objective(kind: str, params):
    """The kind's objective (its noise process), built from `params.objective`."""
    from sparsefield.registry import KINDS, load

    cls = load(KINDS[kind].objective)
    try:
        return cls(**params.objective)
    except TypeError as err:
        raise ValueError(f"params.objective: {err}; see {cls.__module__}.{cls.__name__}") from None
