"""Family `classical` (kinds nearest, linear, cubic, biharmonic, normconv): interpolation of the context pixels.

No parameters and no training; the math is `sparsefield.baselines.interpolation` (and `normconv`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sparsefield.samples import Reconstruction


@dataclass(frozen=True)
class Params:
    """Classical kinds take no parameters."""


def reconstruct(kind: str, params: Params, data, *, threads: int = 1, **_):
    """One prediction per test image of `data` (a `data.images.sets.MaskedImages`), from its context pixels only.

    `threads` worker processes share the images; seconds_per_image is their wall clock per image.
    """
    from sparsefield.baselines.interpolation import reconstruct as interpolate

    images = data.images.astype("float32") / 255.0
    start = time.perf_counter()
    prediction = interpolate(images, data.context, method=kind, workers=threads)
    seconds = time.perf_counter() - start
    return Reconstruction(prediction[:, None], dict(nfe=0, seconds_per_image=seconds / max(len(images), 1)))
