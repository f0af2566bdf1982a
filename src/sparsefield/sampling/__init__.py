"""Sampling: noise schedules and time grids (`schedules`), generic solvers (`solvers`).

Schedules are kept apart from solvers (as in k-diffusion): a solver is a pure function of a model
closure, an initial state, a time grid and a `randn` closure; the objectives in
`sparsefield.objectives` build the closure from their denoiser and pick the grid. Guidance wraps
the closure, never the solver.
"""
