"""Demosaic throughput (megapixels/s) of the raw stage, per LibRaw algorithm.

    python benchmarks/demosaic.py [--size 2048] [--repeats 5] [--tile 256]

Writes one capture the way the builtin raw set does (a smooth scene through the inverse camera
pipeline, Poisson-Gaussian noise, RGGB at 14 bits in a DNG) of size x size pixels, then times
(median of --repeats runs, all measured in this run):
  * develop   rawpy read + postprocess, the demosaic itself (`sparsefield.data.raw.demosaic.develop`)
  * capture   the whole demosaic job body: develop, scale to [-1, 1], cut tiles, check them,
              save the .pt and .json (`sparsefield.data.raw.demosaic.demosaic_capture`, AHD)
Megapixels are sensor pixels of the mosaic.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from sparsefield.data.raw.demosaic import ALGORITHMS, demosaic_capture, develop
from sparsefield.data.raw.dng import write_dng
from sparsefield.data.raw.synth import (
    expose,
    mosaic_rggb,
    random_gains,
    random_noise_levels,
    random_xyz2cam,
    rgb2cam_of,
    unprocess,
)


def write_capture(root: Path, size: int) -> Path:
    """A SID-style layout at `root` with one size x size long exposure; returns its path."""
    rng = np.random.default_rng(0)
    coarse = rng.uniform(0.1, 0.9, size=(size // 64 + 2, size // 64 + 2, 3))
    scene = np.kron(coarse, np.ones((64, 64, 1)))[:size, :size]  # blocky, then blurred by a box of 31
    scene = np.cumsum(np.cumsum(np.pad(scene, ((16, 15), (16, 15), (0, 0)), mode="edge"), 0), 1)
    scene = (scene[31:, 31:] - scene[:-31, 31:] - scene[31:, :-31] + scene[:-31, :-31])[:size, :size] / 31**2
    xyz2cam, gains = random_xyz2cam(rng), random_gains(rng)
    shot, read = random_noise_levels(rng)
    raw = expose(mosaic_rggb(unprocess(scene, rgb2cam_of(xyz2cam), gains)), ratio=1.0, shot=shot / 100,
                 read=read / 100**2, rng=rng)
    path = root / "Sony/long/00001_00_10s.dng"
    path.parent.mkdir(parents=True)
    write_dng(path, raw, xyz2cam=xyz2cam, as_shot_neutral=(1 / gains.red, 1.0, 1 / gains.blue), exposure_s=10.0)
    (root / "Sony_train_list.txt").write_text("")
    (root / "Sony_test_list.txt").write_text("./Sony/short/00001_00_0.1s.dng ./Sony/long/00001_00_10s.dng ISO100 F8\n")
    return path


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tile", type=int, default=256)
    args = parser.parse_args(argv)
    megapixels = args.size**2 / 1e6
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = write_capture(root, args.size)
        print(f"{args.size}x{args.size} RGGB mosaic ({megapixels:.2f} MP), median of {args.repeats} runs")
        develop_seconds = {}
        for algorithm in ALGORITHMS:
            seconds = median_seconds(lambda algorithm=algorithm: develop(path, algorithm), args.repeats)
            develop_seconds[algorithm] = seconds
            ratio = seconds / develop_seconds["LINEAR"]
            print(f"  develop {algorithm:7s} {megapixels / seconds:8.1f} MP/s   {ratio:5.2f}x LINEAR's time")

        def job():
            demosaic_capture(path, root / "out.pt", root / "out.json", root=root, camera="Sony",
                             tile_size=args.tile, stride=args.tile, algorithm="AHD")

        seconds = median_seconds(job, args.repeats)
        ratio = seconds / develop_seconds["AHD"]
        print(f"  capture AHD     {megapixels / seconds:8.1f} MP/s   {ratio:5.2f}x develop AHD (tiles {args.tile})")


if __name__ == "__main__":
    main()
