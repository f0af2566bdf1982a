"""Learned field models: a backbone wrapped in the residual denoiser, saved as state_dict + JSON.

    D(x̃, σ) = prior + c_skip (x̃ − prior) + c_out F(c_in (x̃ − prior), c_noise, batch, prior)

with `prior` the multi-scale normalised convolution of the observed pixels
(`sparsefield.normconv`), evaluated at the output coordinates (residual=True),
or 0 (residual=False: the seeds' plain formulation, pure noise → data).
"""

from __future__ import annotations

import os

import torch

from sparsefield.nn.perceiver_io import PerceiverIO
from sparsefield.normconv import normalized_convolution
from sparsefield.precond import ResidualDenoiser

BACKBONES = {"perceiver_io": PerceiverIO}


class FieldModel(ResidualDenoiser):
    """A backbone (by name) inside the residual denoiser; `config()` rebuilds it."""

    def __init__(self, *, backbone: dict, sigma_data: float, residual: bool = True, name: str = "perceiver_io"):
        net = BACKBONES[name](**backbone, use_prior=residual)
        super().__init__(net, sigma_data=sigma_data, residual=residual, prior_fn=normalized_convolution)
        self._config = dict(backbone=dict(backbone), sigma_data=sigma_data, residual=residual, name=name)

    def config(self) -> dict:
        return dict(self._config)


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu") -> FieldModel:
    """Rebuild a trained model from `model.pt` (state_dict + constructor kwargs; no pickled classes)."""
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    model = FieldModel(**checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(device).eval()
