"""What the blur left at t = 0 costs: does σ_min cap the PSNR of blurring diffusion's output?

    python benchmarks/ddo_blur.py [--data results/data/builtin.h5] [--images 64] [--blur-min 0.05 0.025 0.01 0]

The ancestral sampler "ancestral" ends on z_0's mean, IDCT(a(0) d_k(0) DCT(x)) for a perfect model:
the data blurred by the schedule's smallest blur σ_min (d_k(0) = exp(−|k|² σ_min² / 2), k the integer
DCT mode). This prints the PSNR of that exact z_0 against the images themselves, per σ_min, on the
test images at H×W and on the 2× images (the same scenes, twice the modes): the ceiling a perfect
model reaches with "ancestral"; "ancestral_x0" divides the blur out and has none.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from sparsefield.data.images.sources import builtin_images, has_split, read_images
from sparsefield.metrics import psnr_per_image
from sparsefield.objectives.blurring import BlurringDiffusion, dct2, idct2


def ceiling(images: np.ndarray, blur_min: float) -> float:
    """Mean per-image PSNR (dB, [0, 1] scale) of z_0's exact mean against uint8 images (N, H, W, C)."""
    process = BlurringDiffusion(blur_min=blur_min)
    x = torch.as_tensor(images, dtype=torch.float64).permute(0, 3, 1, 2) / 127.5 - 1.0
    alpha = process.alpha(0.0, *x.shape[-2:])
    z0 = idct2(alpha * dct2(x)).clamp(-1, 1)
    out = ((z0 + 1) / 2).permute(0, 2, 3, 1).numpy()
    return float(psnr_per_image(out, images / 255.0).mean())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="a data HDF5 (default: builtin images built here)")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--blur-min", type=float, nargs="+", default=[0.05, 0.025, 0.01, 0.0])
    args = parser.parse_args(argv)
    if args.data is None:
        sets = {"test": builtin_images(n_train=1, n_test=args.images).test}
    else:
        sets = {"test": read_images(args.data, "test")[: args.images]}
        if has_split(args.data, "test_2x"):
            sets["test_2x"] = read_images(args.data, "test_2x")[: args.images]
    rows = {}
    print(f"PSNR of the exact z_0 mean against the images ({args.images} images), dB")
    for name, images in sets.items():
        for blur_min in args.blur_min:
            rows[(name, blur_min)] = ceiling(images, blur_min)
            print(
                f"  {name:<8} {images.shape[1]}x{images.shape[2]}  σ_min {blur_min:<6g} {rows[(name, blur_min)]:7.2f}"
            )
    return rows


if __name__ == "__main__":
    main()
