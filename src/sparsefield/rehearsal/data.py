"""Stand-ins for the paper's datasets, in their real formats at their real sizes, from scikit-image's photographs.

The paper configs (`config/paper/*.yaml`) read CIFAR-10 (python version), SID's Sony part and a folder of
multi-band leaf TIFF stacks. The writers below make files that the same readers take unchanged, so the
paper pipeline can be run (and priced: time, memory, disk) on a machine without the real datasets. The
content is the builtin data (`data.images.sources`, `data.raw.synth`, `data.spectral.leaves`); it measures cost,
not quality.
Every writer is deterministic from `seed`: the same arguments give the same bytes.
"""

from __future__ import annotations

import inspect
import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from sparsefield.data.images.patches import band_mask
from sparsefield.data.images.sources import builtin_images, builtin_photos
from sparsefield.data.raw.sid import SPLITS
from sparsefield.data.raw.synth import builtin_pairs, write_rawset
from sparsefield.data.spectral.leaves import _split, leaves_images, soil_bands
from sparsefield.io import atomic_path

CIFAR_LABELS = (b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck")
CIFAR_BATCHES = 5  # data_batch_1..5, 10000 images each in the real set
SONY_EXTENSION = ".ARW"
LEAF_MAX_VALUE = 32767  # uint16 value of reflectance 1 in MicaSense's stacks: the config's `max_value`
LEAF_DEFAULTS = {name: p.default for name, p in inspect.signature(leaves_images).parameters.items()}


class _Python2Pickler(pickle._Pickler):  # the pure-Python pickler: its `dispatch` table can be extended
    """Pickles bytes as Python 2's str (SHORT_BINSTRING / BINSTRING), one byte a byte, as CIFAR-10's batches were
    written; Python 3 spells bytes at protocol 2 as _codecs.encode of a latin-1 str, a third larger on images."""

    def _save_str(self, obj: bytes) -> None:
        n = len(obj)
        self.write((pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)) + obj)
        self.memoize(obj)

    dispatch = {**pickle._Pickler.dispatch, bytes: _save_str}


def _pickle2(obj) -> bytes:
    """`obj` pickled at protocol 2 as Python 2 pickled CIFAR-10 (`_Python2Pickler`)."""
    out = io.BytesIO()
    _Python2Pickler(out, protocol=2).dump(obj)
    return out.getvalue()


def write_cifar10(folder: str | os.PathLike, *, n_train: int = 50000, n_test: int = 10000, seed: int = 0) -> Path:
    """Write `{folder}/cifar-10-batches-py/` as CIFAR-10's python version (https://www.cs.toronto.edu/~kriz/cifar.html).

    The real folder: `data_batch_1`..`data_batch_5` (10000 images each) and `test_batch` (10000), each a
    Python 2 pickle (protocol 2, strings as str: bytes in Python 3) of {b'batch_label', b'labels': list of ints
    0-9, b'data': uint8 (n, 3072), each row 1024 red, 1024 green then 1024 blue values, row-major,
    b'filenames': list of bytes}, 31 MB a batch (`_Python2Pickler` writes the same opcodes, so the same size);
    and `batches.meta` {b'label_names', b'num_cases_per_batch', b'num_vis'}. Here the images are the builtin
    32 x 32 patches (`builtin_images`: train and test from disjoint regions of the photographs), the labels
    uniform draws (the pipeline reads none), and fewer train images are spread over the 5 batches as evenly
    as possible. The folder is written atomically (replaced as a whole).

    Returns:
        The `cifar-10-batches-py` folder, which `data.images.cifar10.load_cifar10(folder)` reads.
    """
    images = builtin_images(n_train=n_train, n_test=n_test, size=32, seed=seed)
    labels = np.random.default_rng([seed, 1]).integers(0, len(CIFAR_LABELS), n_train + n_test).tolist()
    sizes = [n_train // CIFAR_BATCHES + (b < n_train % CIFAR_BATCHES) for b in range(CIFAR_BATCHES)]
    starts = np.cumsum([0, *sizes])
    batches = [(f"data_batch_{b + 1}", f"training batch {b + 1} of {CIFAR_BATCHES}", images.train[start:end], start)
               for b, (start, end) in enumerate(zip(starts[:-1], starts[1:], strict=True))]
    batches.append(("test_batch", "testing batch 1 of 1", images.test, n_train))
    out = Path(folder) / "cifar-10-batches-py"
    with atomic_path(out, directory=True) as tmp:
        for name, label, rows, first in batches:  # rows: uint8 (n, 32, 32, 3); first: its index in `labels`
            batch = {
                b"batch_label": label.encode(),
                b"labels": labels[first : first + len(rows)],
                b"data": np.ascontiguousarray(rows.transpose(0, 3, 1, 2).reshape(len(rows), 3072)),  # R, G, B planes
                b"filenames": [f"builtin_s_{first + i:06d}.png".encode() for i in range(len(rows))],
            }
            (tmp / name).write_bytes(_pickle2(batch))
        meta = {b"num_cases_per_batch": max(sizes), b"label_names": list(CIFAR_LABELS), b"num_vis": 3072}
        (tmp / "batches.meta").write_bytes(_pickle2(meta))
    return out


def _boxes(photo: np.ndarray, test_fraction: float) -> dict[bool, tuple[int, int, int, int]]:
    """{True: the photograph's test band, False: the larger part beside it}, as (top, bottom, left, right)."""
    mask = band_mask(photo, test_fraction)
    height, width = mask.shape
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if width >= height:  # a band of columns (`band_mask`)
        beside = [(0, height, 0, int(cols[0])), (0, height, int(cols[-1]) + 1, width)]
    else:
        beside = [(0, int(rows[0]), 0, width), (int(rows[-1]) + 1, height, 0, width)]
    train = max(beside, key=lambda box: (box[1] - box[0]) * (box[3] - box[2]))
    return {True: (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1), False: train}


def _scene(photo: np.ndarray, box: tuple[int, int, int, int], height: int, width: int,
           rng: np.random.Generator) -> np.ndarray:
    """uint8 (height, width, 3): a random crop of `photo` inside `box`, of the scene's aspect and 60-100% of the
    largest such crop, resized (Lanczos)."""

    top, bottom, left, right = box
    h = max(2, int(min(bottom - top, (right - left) * height / width) * rng.uniform(0.6, 1.0)))
    w = max(2, min(right - left, round(h * width / height)))
    y, x = int(rng.integers(top, bottom - h + 1)), int(rng.integers(left, right - w + 1))
    crop = Image.fromarray(np.ascontiguousarray(photo[y : y + h, x : x + w]))
    return np.asarray(crop.resize((width, height), Image.Resampling.LANCZOS))


def write_sid_sony(root: str | os.PathLike, *, n_train: int, n_val: int, n_test: int,
                   ratios: tuple[float, ...] = (100, 250, 300), height: int = 2848, width: int = 4256,
                   seed: int = 0) -> Path:
    """Write SID's Sony layout (Chen et al. 2018; `data.raw.sid`) under `root`, captures of Sony's sensor size.

    The real part: `Sony/long/{scene}_00_10s.ARW` (one 10 s reference per scene), `Sony/short/{scene}_{i:02d}_
    {exposure}s.ARW` (shots i of 0.1 s, 0.04 s or 0.033 s: ratios x100, x250, x300) and `Sony_{train,val,test}
    _list.txt` ("./Sony/short/00001_00_0.1s.ARW ./Sony/long/00001_00_10s.ARW ISO200 F8"); scenes 00001...
    train, 10001... test, 20001... val; Sony α7S II raw frames of 4256 x 2848, 14-bit RGGB Bayer. Here: one
    short per ratio (shot i = the i-th ratio), written by the builtin raw set's camera (`data.raw.synth.write_rawset`:
    Brooks et al.'s unprocessing, Poisson-Gaussian noise, black 512, white 16383) as uncompressed 16-bit DNG
    files, 24 MB at full size, stored under the .ARW name: LibRaw (rawpy) identifies a file by its content,
    not its extension, so `data.raw.demosaic.develop` and `demosaic_capture` read them (tests/test_rehearsal_data.py).

    A scene is a random crop of one builtin photograph (round-robin from a seeded order) of the scene's
    aspect, resized to height x width: test scenes inside the photograph's test band (`patches.band_mask`, as
    `data.raw.synth.place_scenes`), train and val scenes inside the larger part beside it; crops of one split may
    overlap (a few hundred large scenes do not fit disjointly in seven photographs). One scene is in memory
    at a time: its uint8 image, its float64 (H, W) signal and one capture's noise draws.

    Returns:
        `root`, whose lists `sid.read_lists(root, "Sony")` reads.
    """
    if height % 2 or width % 2:
        raise ValueError(f"write_sid_sony: height and width must be even (a Bayer mosaic), got {height} x {width}")
    pairs = builtin_pairs(n_train=n_train, n_val=n_val, n_test=n_test, ratios=list(ratios), extension=SONY_EXTENSION)
    photos = builtin_photos()
    boxes = [_boxes(photo, 0.3) for photo in photos]  # build_builtin's test_fraction
    order = np.random.default_rng([seed, 0]).permutation(len(photos))

    def scene(split: str, k: int) -> np.ndarray:
        s = SPLITS.index(split)
        p = int(order[(k + s) % len(photos)])
        return _scene(photos[p], boxes[p][split == "test"], height, width, np.random.default_rng([seed, 4, s, k]))

    write_rawset(root, pairs, scene, reference_ratio=100.0, seed=seed)  # build_builtin's reference ratio
    return Path(root)


def write_leaf_stacks(folder: str | os.PathLike, *, n_files: int, height: int, width: int, seed: int = 0) -> list[Path]:
    """Write `n_files` 5-band leaf stacks `IMG_{i:04d}.tif` with `IMG_{i:04d}_mask.tif` beside each into `folder`.

    The layout `multispectral_folder` reads (`data.spectral.sources.folder_images`), as MicaSense's
    `save_capture_as_stack` writes a RedEdge-MX capture (the bands of `data.spectral.leaves`: blue, green, red,
    red_edge, nir; 1280 x 960 pixels, width x height): band-interleaved uint16 (5, H, W), deflate-compressed,
    reflectance x 32767, so the config sets `max_value: 32767` (`LEAF_MAX_VALUE`; without it reflectance reads back
    halved, and silently: the values stay in [0, 1]). The mask is uint8 (H, W), 255 on leaf pixels. Content: one
    builtin leaf image (`data.spectral.leaves`, PROSPECT-D leaves on soil, its default leaf count and noise)
    generated at max(height, width) square and cropped centrally to height x width (leaf centres lie in its middle
    60%: up to an aspect of 5:3 every leaf stays in view). Stack i draws from [seed, i]; one stack is in memory at a
    time. The folder is written atomically (replaced as a whole).

    Returns:
        The stacks' paths, in order.
    """

    soil = soil_bands()
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    names = [f"IMG_{i:04d}" for i in range(n_files)]
    with atomic_path(folder, directory=True) as tmp:
        for i, name in enumerate(names):
            leaf = _split(np.random.default_rng([seed, i]), 1, side, tuple(LEAF_DEFAULTS["leaves"]),
                          LEAF_DEFAULTS["noise"], soil)
            image = leaf.images[0, top : top + height, left : left + width]  # float32 (H, W, 5) in [0, 1]
            stack = np.rint(np.moveaxis(image, -1, 0) * np.float32(LEAF_MAX_VALUE)).astype(np.uint16)  # (5, H, W)
            mask = leaf.masks[0, top : top + height, left : left + width] * np.uint8(255)
            tifffile.imwrite(tmp / f"{name}.tif", stack, photometric="minisblack", planarconfig="separate",
                             compression="zlib")
            tifffile.imwrite(tmp / f"{name}_mask.tif", mask, photometric="minisblack", compression="zlib")
    return [Path(folder) / f"{name}.tif" for name in names]
