"""The Learning-to-See-in-the-Dark layout (Chen et al. 2018): captures, pairs and list files.

    {root}/Sony/short/00001_00_0.1s.ARW        short exposures (Fuji: Fuji/short/*.RAF, X-Trans)
    {root}/Sony/long/00001_00_10s.ARW          one long exposure per scene: the reference
    {root}/Sony_{train,val,test}_list.txt      one line per pair:
        ./Sony/short/00001_00_0.1s.ARW ./Sony/long/00001_00_10s.ARW ISO200 F8

A file name is `{scene}_{shot}_{exposure}s.{ext}`. The exposure ratio of a pair is
long / short, capped at 300 as in SID's own code (`min(gt_exposure / in_exposure, 300)`):
SID's ratios are x100, x250 and x300, and 10 s / 0.033 s = 303 is its x300. The builtin raw
set (`data.raw.synth`) writes this same layout, so everything after the lists is shared.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "val", "test")
CAMERAS = {"Sony": ".ARW", "Fuji": ".RAF"}
MAX_RATIO = 300.0
_NAME = re.compile(r"^(?P<scene>\d+)_(?P<shot>\d+)_(?P<exposure>\d+(?:\.\d+)?)s$")


@dataclass(frozen=True)
class Pair:
    short: str  # path relative to the root, e.g. "Sony/short/00001_00_0.1s.ARW"
    long: str  # its long-exposure reference
    iso: int | None = None
    fnumber: float | None = None


@dataclass(frozen=True)
class Capture:
    name: str  # file stem, unique within a camera: "00001_00_0.1s"
    path: str  # relative to the root
    split: str  # train | val | test
    scene: str  # "00001"
    data_type: str  # clean (long exposure) | noisy (short)
    exposure_s: float
    ratio: float  # long / short exposure (capped at 300); 1 for a long exposure
    iso: int | None
    fnumber: float | None
    partner: str | None  # a short capture's long reference (its name); None for a long one


def list_file(root: str | os.PathLike, camera: str, split: str) -> Path:
    return Path(root) / f"{camera}_{split}_list.txt"


def parse_name(path: str) -> tuple[str, float]:
    """(scene, exposure in seconds) from a SID file name like `.../10003_00_0.04s.ARW`."""
    match = _NAME.match(Path(path).stem)
    if match is None:
        raise ValueError(f"{path}: not a SID file name ({{scene}}_{{shot}}_{{exposure}}s.ext, e.g. 00001_00_0.1s.ARW)")
    return match["scene"], float(match["exposure"])


def exposure_ratio(long_s: float, short_s: float) -> float:
    """SID's exposure ratio: long / short, capped at 300 (module docstring)."""
    return min(long_s / short_s, MAX_RATIO)


def parse_line(line: str, where: str) -> Pair:
    """One list line -> Pair; `where` ("file:line") names it in errors."""
    fields = line.split()
    if len(fields) < 2:
        raise ValueError(f"{where}: expected 'short long [ISOn] [Fx]', got {line.strip()!r}")
    iso = fnumber = None
    for extra in fields[2:]:
        if re.fullmatch(r"ISO\d+", extra):
            iso = int(extra[3:])
        elif re.fullmatch(r"F\d+(\.\d+)?", extra):
            fnumber = float(extra[1:])
        else:
            raise ValueError(f"{where}: unknown field {extra!r} (expected ISOn or Fx)")
    short, long = (os.path.normpath(p) for p in fields[:2])  # drops the leading ./
    return Pair(short=short, long=long, iso=iso, fnumber=fnumber)


def read_lists(root: str | os.PathLike, camera: str) -> dict[str, list[Pair]]:
    """Pairs of every split from `{root}/{camera}_{split}_list.txt` (a missing val list is empty).

    Raises:
        FileNotFoundError: one line naming the missing root or list file.
    """
    if camera not in CAMERAS:
        raise ValueError(f"sid: camera must be one of {list(CAMERAS)}, got {camera!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"sid: raw set root {root} does not exist; put SID there ({camera}/short, {camera}/long, "
            f"{camera}_train_list.txt, ...) or set rawsets.<name>.root"
        )
    pairs = {}
    for split in SPLITS:
        path = list_file(root, camera, split)
        if not path.is_file():
            if split == "val":
                pairs[split] = []
                continue
            raise FileNotFoundError(f"sid: list file {path} not found; the {camera} part of SID has it")
        lines = path.read_text().splitlines()
        pairs[split] = [parse_line(line, f"{path}:{i + 1}") for i, line in enumerate(lines) if line.strip()]
    return pairs


def captures(pairs: dict[str, list[Pair]]) -> dict[str, Capture]:
    """Every capture the lists name (shorts and their long references), by name, sorted.

    Raises:
        ValueError: a capture named in two splits, or one name for two files.
    """
    found: dict[str, Capture] = {}

    def add(capture: Capture) -> None:
        seen = found.get(capture.name)
        if seen is not None and (seen.split, seen.path) != (capture.split, capture.path):
            raise ValueError(
                f"sid: {capture.path} is listed in split '{capture.split}' and as {seen.path} in '{seen.split}'"
            )
        found.setdefault(capture.name, capture)  # a long capture keeps the ISO of its first line

    for split, split_pairs in pairs.items():
        for pair in split_pairs:
            (scene, short_s), (long_scene, long_s) = parse_name(pair.short), parse_name(pair.long)
            if scene != long_scene:
                raise ValueError(f"sid: {pair.short} is paired with {pair.long} of another scene")
            long_name = Path(pair.long).stem
            common = dict(split=split, scene=scene, iso=pair.iso, fnumber=pair.fnumber)
            add(Capture(long_name, pair.long, data_type="clean", exposure_s=long_s, ratio=1.0, partner=None, **common))
            add(Capture(
                Path(pair.short).stem, pair.short, data_type="noisy", exposure_s=short_s,
                ratio=exposure_ratio(long_s, short_s), partner=long_name, **common,
            ))
    return dict(sorted(found.items()))
