"""The one sampler contract, the one place NFE is counted, and the one batching loop.

A sampler, in k-diffusion's manner, is a function of a denoiser, a start, a grid and a noise source:

    sampler(D, x, grid, randn) -> x

- D(x̃, level) -> the model's output at that level (`nn.precond.on_batch`: x̂0 of x̃ = x0 + σ̃ n; blurring
  diffusion: the network's output at z_t), differentiable when guidance needs it;
- x: the state at grid[0] (the module's `start(grid, randn)`, or the caller's, e.g. an EDM prior's mean
  plus σ_max noise);
- grid: the levels walked, a list of floats; a `Levels` also carries the noise process the levels
  belong to, for samplers whose update needs more than the level (α_t, β(t), per-mode blur);
- randn() -> a fresh standard normal shaped like x, from per-sample generators (`rng.SampleNoise`).

Options (Heun's churn, DiffPIR's ζ, a clip of x̂0) are keyword arguments bound with functools.partial.
Each objective's sampling module (`vp`, `ddpm`, `flow`, `blurring`; `karras` for an EDM prior, with
`posterior`'s guidance) gives `grid(process, sampler, steps)`, `start(grid, randn)`, `SAMPLERS` and
`steps_for_nfe(process, sampler, budget)`. `draw` counts the network evaluations (`CountCalls`), and
`batched` is the loop every family samples its data through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

Tensor = torch.Tensor


class Levels(list):
    """A sampler's grid: the levels (floats) it walks, and the noise process they belong to."""

    def __init__(self, levels, process=None):
        super().__init__(float(v) for v in levels)
        self.process = process


class CountCalls:
    """Wraps a callable and counts its calls: the number of function evaluations (NFE).

    `first` keeps the output of the first call: for a denoiser, x̂0 at the sampler's largest noise
    level, the model's own estimate of the posterior mean E[x0 | condition] at no extra NFE.
    """

    def __init__(self, fn: Callable[..., Tensor]):
        self.fn = fn
        self.calls = 0
        self.first: Tensor | None = None

    def __call__(self, *args, **kwargs) -> Tensor:
        self.calls += 1
        out = self.fn(*args, **kwargs)
        if self.first is None:
            self.first = out.detach()
        return out


@dataclass
class Draw:
    """A sampler's result: the final x, D's first output (x̂0 at the first level), NFE per sample, the start."""

    x: Tensor
    first: Tensor | None
    nfe: int
    start: Tensor | None = None


def draw(sampler, D, x: Tensor, grid, randn, *, guide: Callable | None = None) -> Draw:
    """Run `sampler(D, x, grid, randn)` with D's calls counted; `guide(D) -> D_y` wraps the counted D
    (posterior guidance: NFE counts the prior's evaluations, each guided step's included)."""
    counted = CountCalls(D)
    out = sampler(guide(counted) if guide is not None else counted, x, grid, randn)
    return Draw(out, counted.first, counted.calls, x)


def sample(module, name: str, D, process, randn, *, steps: int, **options) -> Draw:
    """Sampler `name` of an objective's sampling `module` from its own start, on its own grid of `steps`."""
    grid = module.grid(process, name, steps)
    x = module.start(grid, randn)
    run = module.SAMPLERS[name]
    return draw(lambda D_, x_, g_, r_: run(D_, x_, g_, r_, **options), D, x, grid, randn)


def batched(n: int, batch_size: int, prepare: Callable[[slice], Any], run: Callable[[Any], Draw],
            keep: Callable[[Any, Draw], tuple]) -> tuple[list, int, float]:
    """The batching loop of every family: per batch of `rows`, `state = prepare(rows)`, then the timed
    `run(state) -> Draw`, then `keep(state, drawn) -> tensors`, each concatenated over the batches.

    Returns: (the kept tensors concatenated, in `keep`'s order; NFE per sample; sampling seconds per item).
    """
    kept, nfe, seconds = [], 0, 0.0
    for start in range(0, n, batch_size):
        state = prepare(slice(start, min(n, start + batch_size)))
        tic = time.perf_counter()
        drawn = run(state)
        seconds += time.perf_counter() - tic
        nfe = drawn.nfe
        kept.append(keep(state, drawn))
    return [torch.cat(parts) for parts in zip(*kept, strict=True)], nfe, seconds / max(n, 1)
