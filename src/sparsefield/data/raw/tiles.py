"""Tiles of a raw set through its `metadata.json`: filters, a torch Dataset, and validation.

Tiles of demosaiced captures for EDM priors and posterior sampling: prior training reads the clean
(long-exposure) tiles only, evaluation reads noisy/clean pairs (a short exposure's tile and
the long exposure's tile at the same position of the same scene), and `validate` checks every
tile a model will see before it sees one: wrong dtype or shape, non-finite values, values
outside [-1, 1]. Building the selection already fails on an empty split and on a noisy tile
without its clean partner. Every failure is one line naming the tile.
"""

from __future__ import annotations

import copy
import json
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

REQUIRED = ("tile_id", "capture", "file", "index", "split", "data_type", "ratio", "clean_tile_id")


def tile_id(capture: str, y: int, x: int) -> str:
    """The id of the tile of `capture` whose top-left pixel is (y, x)."""
    return f"{capture}_y{int(y):04d}_x{int(x):04d}"


def check_tile(tile, tile_size: int, where: str) -> None:
    """Raise ValueError(`where`: what is wrong) unless `tile` is float32 (3, T, T), finite, in [-1, 1]."""
    if not isinstance(tile, torch.Tensor):
        raise ValueError(f"{where}: is a {type(tile).__name__}, not a tensor")
    if tile.dtype != torch.float32:
        raise ValueError(f"{where}: dtype {tile.dtype}, expected torch.float32")
    if tuple(tile.shape) != (3, tile_size, tile_size):
        raise ValueError(f"{where}: shape {tuple(tile.shape)}, expected {(3, tile_size, tile_size)}")
    finite = torch.isfinite(tile)
    if not finite.all():
        raise ValueError(f"{where}: {int((~finite).sum())} non-finite values (NaN or inf)")
    low, high = float(tile.min()), float(tile.max())
    if low < -1.0 or high > 1.0:
        raise ValueError(f"{where}: values in [{low:.4g}, {high:.4g}], outside [-1, 1]")


def check_metadata(metadata: dict, where: str) -> None:
    """Whole-set checks: fields present, unique ids, train and test not empty, every noisy tile paired."""
    tiles = metadata.get("tiles") or []
    by_id = {}
    for record in tiles:
        missing = [key for key in REQUIRED if key not in record]
        if missing:
            raise ValueError(f"{where}: tile {record.get('tile_id', '?')} lacks {missing}")
        if record["tile_id"] in by_id:
            raise ValueError(f"{where}: tile {record['tile_id']} appears twice")
        by_id[record["tile_id"]] = record
    for split in ("train", "test"):
        if not any(record["split"] == split for record in tiles):
            raise ValueError(f"{where}: split '{split}' has no tiles; the lists name no {split} captures")
    for record in tiles:
        if record["data_type"] == "noisy":
            partner = by_id.get(record["clean_tile_id"])
            if partner is None or partner["data_type"] != "clean":
                raise ValueError(
                    f"{where}: noisy tile {record['tile_id']} has no clean partner {record['clean_tile_id']}"
                )


def load_metadata(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: tile metadata not found; build it with snakemake {path}")
    return json.loads(path.read_text())


def select(tiles: list[dict], *, split=None, data_type=None, ratio=None, scene=None) -> list[dict]:
    """The tile records matching every filter given (None = any); ratio matches to 1e-6 relative."""
    return [
        t for t in tiles
        if (split is None or t["split"] == split) and (data_type is None or t["data_type"] == data_type)
        and (scene is None or t["scene"] == scene) and (ratio is None or abs(t["ratio"] - ratio) <= 1e-6 * ratio)
    ]


CHUNK = 64  # test pairs per chunk of a reconstruct or evaluate job


class TileDataset(torch.utils.data.Dataset):
    """Tiles selected through a raw set's metadata.json.

    A capture's file is memory-mapped (`torch.load(mmap=True)`), never read whole: a tile costs its own
    bytes (786 kB at 256 px), so random crops over a SID-size set read a few tiles each, and a job's
    memory holds at most `cache_size` captures' touched pages, whatever the number of captures.

    Args:
        metadata: path of `results/tiles/{rawset}/metadata.json` (the .pt files lie beside it).
        split, data_type, ratio, scene: filters (`select`); data_type 'clean' for prior training.
        pairs: items are (noisy (3, T, T), clean (3, T, T), ratio ()) for the selected noisy tiles.
        cache_size: capture files kept mapped (one file holds all tiles of a capture).
        check: check every tile as it is read (`check_tile`: one line naming a bad one); `validate` checks all.

    Raises:
        ValueError: the selection is empty, or a noisy tile has no clean partner (one line).
    """

    def __init__(self, metadata, *, split=None, data_type=None, ratio=None, scene=None, pairs=False, cache_size=4,
                 check=False):
        self.path = Path(metadata)
        meta = load_metadata(self.path)
        self.tile_size = meta["tile_size"]
        self.by_id = {t["tile_id"]: t for t in meta["tiles"]}
        if pairs and data_type not in (None, "noisy"):
            raise ValueError(f"TileDataset: pairs=True selects noisy tiles, got data_type={data_type!r}")
        filters = dict(split=split, data_type="noisy" if pairs else data_type, ratio=ratio, scene=scene)
        self.records = select(meta["tiles"], **filters)
        if not self.records:
            shown = ", ".join(f"{k}={v!r}" for k, v in filters.items() if v is not None)
            splits = sorted({t["split"] for t in meta["tiles"]})
            raise ValueError(f"{self.path}: no tiles with {shown or 'no filter'} (splits present: {splits})")
        self.pairs = pairs
        if pairs:
            for record in self.records:
                partner = self.by_id.get(record["clean_tile_id"])
                if partner is None or partner["data_type"] != "clean":
                    raise ValueError(f"{self.path}: noisy tile {record['tile_id']} has no clean partner")
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cache_size = cache_size
        self.check = check
        self.index = np.arange(len(self.records))  # positions in the selection (a `take` keeps them)
        self.calibration: dict | None = None  # the raw set's noise calibration, when a reader attaches it

    def __len__(self) -> int:
        return len(self.records)

    def take(self, positions) -> TileDataset:
        """The selected tiles at `positions` (a slice or positions), keeping their positions in the selection."""
        view = copy.copy(self)
        view._cache = OrderedDict()
        view.index = np.atleast_1d(self.index[positions])
        view.records = [self.records[i] for i in np.arange(len(self.records))[positions]]
        return view

    def spread(self, n: int | None) -> TileDataset:
        """n tiles spread evenly over the selection (every capture and ratio of a sorted selection), all when
        n is None or not smaller: positions floor(i·N/n), the same for every approach."""
        if n is None or n >= len(self):
            return self
        return self.take(np.arange(n) * len(self) // n)

    subset = spread  # the n test pairs an evaluation scores: spread over every capture and ratio

    def _tiles_of(self, file: str) -> torch.Tensor:
        if file in self._cache:
            self._cache.move_to_end(file)
            return self._cache[file]
        path = self.path.parent / file
        try:
            tiles = torch.load(path, weights_only=True, map_location="cpu", mmap=True)["tiles"]
        except Exception as err:  # missing, truncated or foreign files: torch raises many types
            raise ValueError(f"{path}: not a readable tile file ({err}); rebuild it".replace("\n", " ")) from None
        self._cache[file] = tiles
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return tiles

    def load(self, record: dict) -> torch.Tensor:
        """The tile of one metadata record, float32 (3, T, T) in [-1, 1] (unchecked)."""
        tiles = self._tiles_of(record["file"])
        if not 0 <= record["index"] < len(tiles):
            raise ValueError(
                f"{self.path.parent / record['file']}: has no tile {record['index']} ({record['tile_id']})"
            )
        tile = tiles[record["index"]].clone()  # a copy: the mapping may close while the tile lives on
        if self.check:
            check_tile(tile, self.tile_size, f"{self.path.parent / record['file']}: tile {record['tile_id']}")
        return tile

    def __getitem__(self, i: int):
        record = self.records[i]
        if not self.pairs:
            return self.load(record)
        clean = self.load(self.by_id[record["clean_tile_id"]])
        return self.load(record), clean, torch.tensor(record["ratio"], dtype=torch.float32)

    def validate(self) -> None:
        """Check every selected tile (and clean partner) with `check_tile`; raise on the first bad one."""
        for record in self.records:
            shown = [record, self.by_id[record["clean_tile_id"]]] if self.pairs else [record]
            for r in shown:
                check_tile(self.load(r), self.tile_size, f"{self.path.parent / r['file']}: tile {r['tile_id']}")


def paired_test_tiles(metadata: str | os.PathLike) -> TileDataset:
    """The noisy/clean pairs of the raw set's test split (the order every stage shares), each tile checked as it is
    read: a job reads only the pairs it uses (a SID-size test split is ~100 GB), and a bad one stops it, named."""
    return TileDataset(metadata, split="test", pairs=True, check=True, cache_size=2)  # a pair's two captures


def read_split(inputs, split: str) -> TileDataset:
    """reads "tiles" (`stages.data`): the validated noisy/clean pairs for "test", the clean tiles otherwise;
    with input `noise` (a kind that `needs` it) the raw set's noise calibration as `.calibration`."""
    tiles = paired_test_tiles(inputs["metadata"]) if split == "test" else TileDataset(
        inputs["metadata"], split=split, data_type="clean")
    if "noise" in inputs.keys():
        with open(inputs["noise"], encoding="utf-8") as f:
            tiles.calibration = json.load(f)
    return tiles


def linear_rgb(tile: torch.Tensor):
    """A stored tile (3, T, T) in [-1, 1] -> linear RGB (T, T, 3) in [0, 1], float64 numpy."""
    return (tile.double().permute(1, 2, 0).numpy() + 1.0) / 2.0






