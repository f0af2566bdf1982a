"""Sampling: schedules and time grids, generic solvers, each objective's samplers, and guidance.

Kept apart as in k-diffusion: `schedules` gives grids, `solvers` are pure functions of a model
closure, an initial state, a grid and a `randn` closure; `vp`, `ddpm` and `flow` turn an
objective's noise process and a batch-bound denoiser D(x̃, σ̃) into samples (their `SAMPLERS`);
`guidance` wraps D into a posterior denoiser that any of them takes unchanged. No sampler runs
under `torch.no_grad()` by itself: the stage decides (guidance needs gradients through D).
"""
