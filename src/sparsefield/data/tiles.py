"""Tiles of a raw set through its `metadata.json`: filters, a torch Dataset, and validation.

The seed's EDMPTDataset idea (seed 003), done properly: prior training reads the clean
(long-exposure) tiles only, evaluation reads noisy/clean pairs (a short exposure's tile and
the long exposure's tile at the same position of the same scene), and `validate` checks every
tile a model will see before it sees one: wrong dtype or shape, non-finite values, values
outside [-1, 1]. Building the selection already fails on an empty split and on a noisy tile
without its clean partner. Every failure is one line naming the tile.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

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
    ]  # fmt: skip


class TileDataset(torch.utils.data.Dataset):
    """Tiles selected through a raw set's metadata.json.

    Args:
        metadata: path of `results/tiles/{rawset}/metadata.json` (the .pt files lie beside it).
        split, data_type, ratio, scene: filters (`select`); data_type 'clean' for prior training.
        pairs: items are (noisy (3, T, T), clean (3, T, T), ratio ()) for the selected noisy tiles.
        cache_size: capture files kept in memory (one file holds all tiles of a capture).

    Raises:
        ValueError: the selection is empty, or a noisy tile has no clean partner (one line).
    """

    def __init__(self, metadata, *, split=None, data_type=None, ratio=None, scene=None, pairs=False, cache_size=16):
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

    def __len__(self) -> int:
        return len(self.records)

    def _tiles_of(self, file: str) -> torch.Tensor:
        if file in self._cache:
            self._cache.move_to_end(file)
            return self._cache[file]
        path = self.path.parent / file
        try:
            tiles = torch.load(path, weights_only=True, map_location="cpu")["tiles"]
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
        return tiles[record["index"]]

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
    """The validated noisy/clean pairs of the raw set's test split (the order every stage shares)."""
    pairs = TileDataset(metadata, split="test", pairs=True)
    pairs.validate()
    return pairs


def read_split(inputs, split: str) -> TileDataset:
    """reads "tiles" (`stages.data`): the validated noisy/clean pairs for "test", the clean tiles otherwise."""
    if split == "test":
        return paired_test_tiles(inputs["metadata"])
    return TileDataset(inputs["metadata"], split=split, data_type="clean")


def linear_rgb(tile: torch.Tensor):
    """A stored tile (3, T, T) in [-1, 1] -> linear RGB (T, T, 3) in [0, 1], float64 numpy."""
    return (tile.double().permute(1, 2, 0).numpy() + 1.0) / 2.0


def stitched_captures(metadata, *, split: str, data_type: str = "clean") -> list[torch.Tensor]:
    """Every selected capture as one image (3, H, W) in [−1, 1], its tiles put back at their (y, x).

    The area the tiles cover (at stride = tile size: the whole developed image but for the right and
    bottom remainders). Tiles are validated first (`TileDataset.validate`: one line naming a bad tile).
    """
    tiles = TileDataset(metadata, split=split, data_type=data_type)
    tiles.validate()
    size, images = tiles.tile_size, []
    by_capture: dict[str, list[dict]] = {}
    for record in tiles.records:
        by_capture.setdefault(record["capture"], []).append(record)
    for capture in sorted(by_capture):
        records = by_capture[capture]
        height = max(r["y"] for r in records) + size
        width = max(r["x"] for r in records) + size
        image = torch.zeros(3, height, width)
        for r in records:
            image[:, r["y"] : r["y"] + size, r["x"] : r["x"] + size] = tiles.load(r)
        images.append(image)
    return images


class CropDataset(torch.utils.data.Dataset):
    """Every `crop` x `crop` window at `stride` of a list of images (C, H, W): item i is one fixed window.

    The training loop's seeded epoch permutation picks the windows, so crops are random and still a
    pure function of (seed, step); flips are drawn per example by the loss from its noise stream.
    """

    def __init__(self, images: list[torch.Tensor], crop: int, stride: int):
        if len(images) == 0:
            raise ValueError("CropDataset: no images")
        small = [tuple(image.shape[1:]) for image in images if min(image.shape[1:]) < crop]
        if small:
            raise ValueError(f"CropDataset: crop {crop} exceeds an image of size {small[0]}; lower the crop")
        self.images, self.crop = images, crop
        self.windows = [(i, y, x) for i, image in enumerate(images)
                        for y in range(0, image.shape[1] - crop + 1, stride)
                        for x in range(0, image.shape[2] - crop + 1, stride)]  # fmt: skip

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, k: int) -> torch.Tensor:
        i, y, x = self.windows[k]
        return self.images[i][:, y : y + self.crop, x : x + self.crop]
