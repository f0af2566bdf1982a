"""Sampling: schedules and time grids, generic solvers, each objective's samplers, and guidance.

Kept apart as in k-diffusion: `common` states the one sampler contract, sampler(D, x, grid, randn),
counts NFE (`draw`) and holds the one batching loop (`batched`); `schedules` gives grids; `solvers`
are pure functions of a model closure, an initial state, a grid and a `randn` closure; `vp`, `ddpm`,
`flow`, `blurring` and `karras` turn an objective's denoiser into samples on their own grids (their
`SAMPLERS`); `guidance` wraps D into a posterior denoiser that any of them takes unchanged, and
`posterior` pairs DPS and DiffPIR with their solvers. No sampler runs under `torch.no_grad()` by
itself: the stage decides (guidance needs gradients through D).
"""
