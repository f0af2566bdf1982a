"""Backbones and their building blocks: each exposes a raw F(x, c_noise, cond); preconditioning wraps it."""
