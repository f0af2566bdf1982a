"""What every learned family's Params share: the training loop's, the learning curve's and the sampling settings.

A family's `Params` holds `train: Train`, `evaluation: Curve`, `sample: Sample | None` (None in the
train stage, which never sees the sampling settings) and `objective` (keyword arguments of its
kind's objective class, built by `objective`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sparsefield.params import ParamsError
from sparsefield.registry import KINDS, load


@dataclass(frozen=True)
class Train:
    """The training loop's settings (`sparsefield.training.loop.training_loop`).

    The training length is one of `steps` (updates), `epochs` (passes over the training set) or
    `kimg` (thousands of training examples, NVlabs/edm's unit); `batch_gpu` splits each update's
    batch into passes of that many examples whose gradients add up (accumulation), so a batch
    larger than a GPU holds trains as the one batch it is.
    """

    batch_size: int
    lr: float
    steps: int | None = None
    epochs: float | None = None
    kimg: float | None = None
    batch_gpu: int | None = None  # examples per forward/backward pass; None: the whole batch
    weight_decay: float = 0.0
    warmup: int = 100
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    checkpoint_every: int = 500
    num_workers: int = 0

    def __post_init__(self):
        given = [key for key in ("steps", "epochs", "kimg") if getattr(self, key) is not None]
        if len(given) != 1:
            raise ParamsError(f"give the training length as exactly one of steps, epochs, kimg (got "
                              f"{', '.join(given) or 'none'}); set the others to null")

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
    images: int | None = None  # sample only the first `images` of the evaluated test items (None: all)


def objective(kind: str, params):
    """The kind's objective (its noise process), built from `params.objective`."""

    cls = load(KINDS[kind].objective)
    try:
        return cls(**params.objective)
    except TypeError as err:
        raise ValueError(f"params.objective: {err}; see {cls.__module__}.{cls.__name__}") from None


def nfe_sweep(kind: str, params, data, run) -> list[dict]:
    """Mean-of-K PSNR on missing pixels against NFE for every sampler of the kind (first `sweep_images` images).

    `run(sampler, steps, data)` -> (samples (N, K, H, W, C) in [0, 1], NFE per sample, seconds per image).
    """
    from sparsefield.metrics import mean_missing_psnr

    s, process, sampling = params.sample, objective(kind, params), load(KINDS[kind].sampling)
    data = data.first(s.sweep_images)
    rows = []
    for sampler in KINDS[kind].samplers:
        for budget in s.sweep_nfe:
            steps = sampling.steps_for_nfe(process, sampler, budget)
            samples, nfe, seconds = run(sampler, steps, data)
            psnr = mean_missing_psnr(samples.mean(1), data.images, data.context)
            rows.append(dict(sampler=sampler, steps=steps, nfe=nfe, seconds_per_image=seconds, psnr_missing=psnr))
    return rows
