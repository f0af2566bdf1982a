"""Code fingerprints follow package imports per kind, ignore docstrings and comments, and reject relative imports."""

import shutil

import pytest

from sparsefield.fingerprint import kind_fingerprint, module_closure, source_fingerprint
from sparsefield.registry import KINDS

STAGES = ("train", "reconstruct", "sweep")


@pytest.fixture
def package(repo_root, tmp_path):
    root = tmp_path / "sparsefield"
    shutil.copytree(repo_root / "src/sparsefield", root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def every_fingerprint(root) -> dict:
    """{(stage, kind): fingerprint} of every stage a kind's approaches run."""
    prints = {}
    for kind, row in KINDS.items():
        stages = STAGES if row.learned else ("reconstruct",)
        for stage in stages:
            prints[(stage, kind)] = kind_fingerprint(root, f"sparsefield.stages.{stage}", kind)
        prints[("evaluate", kind)] = kind_fingerprint(root, "sparsefield.stages.evaluate", kind, scorer=True)
    return prints


def changed(before: dict, after: dict) -> set:
    return {key for key in before if before[key] != after[key]}


def test_closure_follows_imports(repo_root):
    root = repo_root / "src/sparsefield"
    names = set(module_closure(root, "sparsefield.scoring.masks"))
    assert {"sparsefield.metrics", "sparsefield.data.images.masks", "sparsefield.scoring"} <= names
    assert "sparsefield.methods.field" not in names and "sparsefield.nn.perceiver_io" not in names
    assert set(module_closure(root, "sparsefield.data.images.masks")) == {
        "sparsefield", "sparsefield.data", "sparsefield.data.images", "sparsefield.data.images.masks", "sparsefield.io"}
    # a stage reaches its kind's modules through the registry, by name only
    assert "sparsefield.objectives.flow" not in module_closure(root, "sparsefield.stages.train")


def test_docstrings_comments_and_layout_change_nothing(package):
    before = source_fingerprint(package, "sparsefield.data.images.masks")
    path = package / "data/images/masks.py"
    text = path.read_text()
    edited = text.replace('"""Fixed sparse masks:', '"""Fixed SPARSE masks (a docstring edit):', 1)
    edited = edited.replace("def counts(", "# a comment\n\n\ndef counts(", 1)
    path.write_text(edited)
    assert edited != text and source_fingerprint(package, "sparsefield.data.images.masks") == before
    path.write_text(edited.replace("FORMAT_VERSION = 1", "FORMAT_VERSION = 2"))
    assert source_fingerprint(package, "sparsefield.data.images.masks") != before


def test_relative_imports_are_rejected(package):
    path = package / "data/images/masks.py"
    path.write_text("from .images import read_images\n" + path.read_text())
    with pytest.raises(ImportError, match=r"masks\.py:1: relative import"):
        source_fingerprint(package, "sparsefield.data.images.masks")


def test_an_objective_edit_reruns_only_its_kind(package):
    before = every_fingerprint(package)
    with open(package / "objectives/score.py", "a") as f:
        f.write("\nEPSILON = 1e-12\n")
    assert changed(before, every_fingerprint(package)) == {(stage, "score") for stage in STAGES}


def test_a_new_objective_file_or_kind_row_reruns_nothing(package):
    before = every_fingerprint(package)
    (package / "objectives/blur.py").write_text('"""A new family\'s objective."""\n\nclass B:\n    pass\n')
    registry = (package / "registry.py").read_text()
    row = '    "blur": Kind("images", _FIELD, "a new kind", objective="sparsefield.objectives.blur:B"),\n'
    (package / "registry.py").write_text(registry.replace('    "amplify": Kind(', row + '    "amplify": Kind(', 1))
    assert changed(before, every_fingerprint(package)) == set()


def test_a_family_edit_reruns_its_kinds_and_a_scorer_edit_only_its_evaluations(package):
    before = every_fingerprint(package)
    with open(package / "methods/field/__init__.py", "a") as f:
        f.write("\nJOINT_TASK = JOINT\n")
    field = {key for key in before if key[1] in ("score", "denoiser", "flow") and key[0] != "evaluate"}
    assert changed(before, every_fingerprint(package)) == field
    before = every_fingerprint(package)
    with open(package / "scoring/tiles.py", "a") as f:
        f.write("\nLOWLIGHT = True\n")
    tiles = {"amplify", "amplify_denoise", "edm_lowlight", "edm_denoise"}  # the kinds scored on a raw set's pairs
    assert changed(before, every_fingerprint(package)) == {("evaluate", kind) for kind in tiles}


def test_a_reader_edit_reruns_only_the_kinds_that_read_it(package):
    before = every_fingerprint(package)
    with open(package / "data/spectral/sets.py", "a") as f:  # the multispectral reader
        f.write("\nLEAF_EDIT = 1\n")
    spectral = {key for key in before if KINDS[key[1]].reads == "spectral"}
    assert spectral and changed(before, every_fingerprint(package)) == spectral
    before = every_fingerprint(package)
    with open(package / "data/raw/tiles.py", "a") as f:
        f.write("\nTILE_EDIT = 1\n")
    tiles = changed(before, every_fingerprint(package))
    assert {key for key in before if KINDS[key[1]].reads == "tiles"} <= tiles
    assert not {key for key in tiles if KINDS[key[1]].reads == "spectral"}
