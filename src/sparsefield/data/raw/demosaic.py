"""Raw captures -> demosaiced tiles: `results/tiles/{rawset}/{capture}.pt` + `{capture}.json`.

rawpy (LibRaw) reads the file and develops it: the per-channel black level is subtracted
and the result divided by white - black, a fixed white balance applied (`white_balance`),
the mosaic demosaiced (`algorithm`) and the camera colours mapped to linear sRGB
primaries, at 16 bits, with linear gamma and no auto-brightness. `adjust_maximum_thr=0`:
LibRaw's default 0.75 silently rescales images whose maximum is near white (measured
x1.11, 24.8 dB off). Values below black clip to 0, as in SID's own code. The image,
/65535 in [0, 1], is scaled to v = 2x - 1 in [-1, 1] and cut into tiles of `tile_size`
at `stride`. Short exposures stay unamplified (their ratio travels in the metadata), so
their values sit within ~1e-3 of -1: tiles are float32 (float16's spacing there is
2.4e-4 of the range, 0.07 once amplified x300).

White balance: the camera's as-shot multipliers (DNG AsShotNeutral, the maker notes) when
LibRaw has them; else the camera's daylight multipliers; else 1 on every channel. Never
LibRaw's per-image automatic balance (what `use_camera_wb` falls back to when the as-shot
one is missing), which would give the short and the long exposure of a pair different
colours. The multipliers applied (green = 1) and their source travel in the metadata.
Only colour-filter mosaics are accepted (Bayer, X-Trans): a linear DNG, sRAW or Foveon
file has no CFA pattern and is refused.

    {capture}.pt    {"tiles": float32 (n, 3, T, T) in [-1, 1], "positions": int64 (n, 2) (y, x)}
    {capture}.json  the capture (sid.Capture fields), its levels, CFA pattern and white balance, its tiles

Both are written atomically; the .pt through a file object, so that torch.save records no
file name and a rebuild gives the same bytes. `write_metadata` merges the captures' JSON into
`metadata.json`, one record per tile, after `tiles.check_metadata`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import rawpy
import torch

from sparsefield.data.raw.sid import captures, read_lists
from sparsefield.data.raw.tiles import check_metadata, check_tile, tile_id
from sparsefield.io import atomic_path

ALGORITHMS = ("LINEAR", "VNG", "PPG", "AHD", "DCB", "DHT", "AAHD")
CAPTURE_FIELDS = ("scene", "split", "data_type", "exposure_s", "ratio", "iso", "fnumber")
LEVEL_FIELDS = ("black_level", "white_level", "cfa_pattern", "white_balance", "white_balance_source")


def _json(document: dict) -> str:
    """`document` as JSON with sorted keys, its "tiles" list last and one tile per line."""
    head = json.dumps({key: value for key, value in document.items() if key != "tiles"}, sort_keys=True)
    tiles = ",\n  ".join(json.dumps(tile, sort_keys=True) for tile in document["tiles"])
    return f'{head[:-1]}, "tiles": [\n  {tiles}\n]}}\n'


def _libraw_message(err: Exception) -> str:
    message = err.args[0] if err.args else err
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)


def _multipliers(values) -> list[float] | None:
    """LibRaw's 4 channel multipliers normalised to green = 1, or None where it has none.

    LibRaw marks a missing white balance with -1 (Canon D30), zeros or other values <= 0; a
    3-colour camera's fourth entry (its second green) may be 0, which means "as green".
    """
    wb = [float(v) for v in values]
    if len(wb) == 4 and wb[3] <= 0:
        wb[3] = wb[1]
    if len(wb) != 4 or not all(np.isfinite(v) and v > 0 for v in wb):
        return None
    return [v / wb[1] for v in wb]


def white_balance(raw) -> tuple[list[float], str]:
    """The fixed multipliers `develop` applies to an open rawpy file, and their source (module docstring).

    Returns:
        ([R, G, B, G2] with G = 1, "as_shot" | "daylight" | "unit").
    """
    for source, values in (("as_shot", raw.camera_whitebalance), ("daylight", raw.daylight_whitebalance)):
        wb = _multipliers(values)
        if wb is not None:
            return wb, source
    return [1.0, 1.0, 1.0, 1.0], "unit"


def _levels(raw, path) -> dict:
    """Black and white level, CFA pattern and white balance of an open rawpy file (`develop`)."""
    pattern = raw.raw_pattern
    if pattern is None:
        raise ValueError(
            f"{path}: not a colour-filter mosaic (LibRaw reports no CFA pattern: a linear DNG, sRAW or Foveon file); "
            "sparsefield needs the camera's mosaic raw files"
        )
    colours = raw.color_desc.decode()
    wb, source = white_balance(raw)
    return {
        "black_level": [int(b) for b in raw.black_level_per_channel],
        "white_level": int(raw.white_level),
        "cfa_pattern": "".join(colours[i] for i in np.asarray(pattern).ravel()),
        "white_balance": wb,
        "white_balance_source": source,
    }


def develop(path: str | os.PathLike, algorithm: str = "AHD") -> tuple[np.ndarray, dict]:
    """Read and demosaic one raw file (module docstring).

    Returns:
        float32 (H, W, 3) linear RGB in [0, 1], and {black_level: [4 ints], white_level: int,
        cfa_pattern: "RGGB" (36 letters for X-Trans), white_balance: [4 floats], green = 1,
        white_balance_source: "as_shot" | "daylight" | "unit"}.

    Raises:
        ValueError: one line naming the file when LibRaw cannot read it (corrupt, truncated, not
            raw) or it is no colour-filter mosaic (a linear DNG, sRAW, Foveon).
    """

    if algorithm not in ALGORITHMS:
        raise ValueError(f"demosaic: algorithm must be one of {list(ALGORITHMS)}, got {algorithm!r}")
    try:
        with rawpy.imread(os.fspath(path)) as raw:
            levels = _levels(raw, path)
            rgb = raw.postprocess(
                demosaic_algorithm=getattr(rawpy.DemosaicAlgorithm, algorithm),
                gamma=(1, 1),
                no_auto_bright=True,
                output_bps=16,
                use_camera_wb=False,
                use_auto_wb=False,
                user_wb=levels["white_balance"],
                adjust_maximum_thr=0.0,
                user_flip=0,
                output_color=rawpy.ColorSpace.sRGB,
            )
    except (rawpy.LibRawError, OSError) as err:
        raise ValueError(f"{path}: not a readable raw file ({_libraw_message(err)}); replace or delete it") from None
    return rgb.astype(np.float32) / 65535.0, levels


def cut_tiles(image: np.ndarray, tile_size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, C) -> tiles (n, C, T, T) and their top-left corners (n, 2) (y, x), row by row."""
    height, width = image.shape[:2]
    corners = [
        (y, x) for y in range(0, height - tile_size + 1, stride) for x in range(0, width - tile_size + 1, stride)
    ]
    tiles = np.stack([image[y : y + tile_size, x : x + tile_size] for y, x in corners]) if corners else None
    if tiles is None:
        raise ValueError(f"a {height}x{width} image holds no {tile_size}x{tile_size} tile; lower the tile size")
    return np.ascontiguousarray(tiles.transpose(0, 3, 1, 2)), np.array(corners, dtype=np.int64)


def demosaic_capture(
    raw_path: str | os.PathLike,
    out_tiles: str | os.PathLike,
    out_meta: str | os.PathLike,
    *,
    root: str | os.PathLike,
    camera: str,
    tile_size: int,
    stride: int,
    algorithm: str = "AHD",
) -> None:
    """The stage entry point: one capture of the raw set at `root` -> its tiles and their metadata.

    The capture's scene, split, exposure, ratio, ISO and long-exposure partner come from the
    raw set's list files (`sid.read_lists`), for SID and the builtin set alike.
    """
    raw_path = Path(raw_path)
    known = captures(read_lists(root, camera))
    capture = known.get(raw_path.stem)
    if capture is None or Path(root, capture.path).resolve() != raw_path.resolve():
        raise ValueError(f"{raw_path}: not named in the {camera} lists under {root}")
    rgb, levels = develop(raw_path, algorithm)
    tiles, positions = cut_tiles(2.0 * rgb - 1.0, tile_size, stride)
    ids = [tile_id(capture.name, y, x) for y, x in positions]
    for i, tile in enumerate(tiles):
        check_tile(torch.from_numpy(tile), tile_size, f"{out_tiles}: tile {ids[i]}")
    meta = {
        "capture": capture.name,
        "file": capture.path,
        **{key: getattr(capture, key) for key in (*CAPTURE_FIELDS, "partner")},
        **levels,
        "height": int(rgb.shape[0]),
        "width": int(rgb.shape[1]),
        "tile_size": tile_size,
        "stride": stride,
        "algorithm": algorithm,
        "tiles": [
            {"tile_id": name, "index": i, "y": int(y), "x": int(x)}
            for i, (name, (y, x)) in enumerate(zip(ids, positions, strict=True))
        ],
    }
    with atomic_path(out_tiles) as tmp, open(tmp, "wb") as f:
        torch.save({"tiles": torch.from_numpy(tiles), "positions": torch.from_numpy(positions)}, f)
    with atomic_path(out_meta) as tmp:
        tmp.write_text(_json(meta))


def write_metadata(capture_meta: list[str | os.PathLike], out_path: str | os.PathLike, *, rawset: str) -> None:
    """Merge the captures' JSON files into `metadata.json` (one record per tile), after checking it.

    A tile record: tile_id, capture, file (the .pt beside metadata.json), index, y, x, scene,
    split, data_type, is_clean, exposure_s, ratio, iso, fnumber, black_level, white_level,
    cfa_pattern, white_balance, white_balance_source, clean_tile_id (a noisy tile's partner at
    the same position; None when clean).
    """
    records = []
    sizes = set()
    for path in capture_meta:
        meta = json.loads(Path(path).read_text())
        missing = [key for key in (*CAPTURE_FIELDS, *LEVEL_FIELDS, "partner", "tile_size") if key not in meta]
        if missing:
            raise ValueError(f"{path}: capture metadata lacks {missing} (an older sparsefield); delete it and rerun")
        sizes.add(meta["tile_size"])
        for tile in meta["tiles"]:
            records.append({
                **tile,
                "capture": meta["capture"],
                "file": f"{meta['capture']}.pt",
                **{key: meta[key] for key in (*CAPTURE_FIELDS, *LEVEL_FIELDS)},
                "is_clean": meta["data_type"] == "clean",
                "clean_tile_id": None if meta["partner"] is None else tile_id(meta["partner"], tile["y"], tile["x"]),
            })
    if len(sizes) > 1:
        raise ValueError(f"{out_path}: captures cut at different tile sizes {sorted(sizes)}; rebuild the tiles")
    metadata = {"rawset": rawset, "tile_size": sizes.pop() if sizes else None,
                "tiles": sorted(records, key=lambda r: r["tile_id"])}
    check_metadata(metadata, where=str(out_path))
    with atomic_path(out_path) as tmp:
        tmp.write_text(_json(metadata))
