"""Training objectives: a loss and a noise process each, in the paper's symbols, one module each.

Every objective calls a denoiser D(x̃, σ̃, cond) in "x0 units" (x̃ = x_t/α_t, σ̃ = σ_t/α_t; see
`sparsefield.nn.precond`) and returns the per-element loss; its samplers live in
`sparsefield.sampling`, and the masked reduction of the loss in `masked.py`. Each module states
its own time convention:

    score     VPScore        VP SDE, t ∈ [t_min, 1], t = 0 data
    denoiser  X0Denoiser     cosine ᾱ_t, t = 0..T, t = 0 data
    flow      FlowMatching   straight path, t ∈ [0, 1], t = 1 data

This package imports none of them: the registry names each kind's objective, so a new objective
file changes no other kind's code fingerprint.
"""
