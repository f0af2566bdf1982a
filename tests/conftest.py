from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def schema(repo_root):
    """The config schema, workflow/schemas/config.schema.yaml."""
    return repo_root / "workflow/schemas/config.schema.yaml"


@pytest.fixture
def config(repo_root):
    """The default config, config/config.yaml, as loaded (a fresh copy per test)."""
    return yaml.safe_load((repo_root / "config/config.yaml").read_text())


def build_tiles(tmp_path_factory, *, tile_size: int, rawset: str, **builtin):
    """A builtin raw set (`data.raw.synth.build_builtin(**builtin)`) demosaiced into tiles: (metadata.json, root)."""
    from sparsefield.data.raw.demosaic import demosaic_capture, write_metadata
    from sparsefield.data.raw.sid import captures, read_lists
    from sparsefield.data.raw.synth import build_builtin

    root, tiles = tmp_path_factory.mktemp("rawset"), tmp_path_factory.mktemp("tiles")
    build_builtin(root, **builtin)
    metas = []
    for name, capture in captures(read_lists(root, "Sony")).items():
        demosaic_capture(root / capture.path, tiles / f"{name}.pt", tiles / f"{name}.json", root=root,
                         camera="Sony", tile_size=tile_size, stride=tile_size)
        metas.append(tiles / f"{name}.json")
    write_metadata(metas, tiles / "metadata.json", rawset=rawset)
    return tiles / "metadata.json", root


@pytest.fixture(scope="session")
def tiny_tiles(tmp_path_factory):
    """A tiny builtin raw set (2 train, 1 val, 2 test scenes of 64 px; ratios 100, 300), demosaiced
    into 32 px tiles: (metadata.json path, raw set root)."""
    return build_tiles(tmp_path_factory, tile_size=32, rawset="tiny", n_train=2, n_val=1, n_test=2, size=64,
                       ratios=[100, 300], seed=3)
