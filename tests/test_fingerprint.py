"""Code fingerprints follow package imports, so an edit reruns exactly the affected rules."""

import shutil

from sparsefield.fingerprint import module_closure, source_fingerprint


def test_closure_follows_imports(repo_root):
    root = repo_root / "src/sparsefield"
    names = {p.relative_to(root).as_posix() for p in module_closure(root, "sparsefield.evaluate")}
    assert {"evaluate.py", "metrics.py", "samples.py", "io.py", "data/masks.py", "data/images.py"} <= names
    assert "baselines.py" not in names and "report.py" not in names
    closure = {p.relative_to(root).as_posix() for p in module_closure(root, "sparsefield.data.masks")}
    assert closure == {"data/masks.py", "io.py", "__init__.py", "data/__init__.py"}


def test_fingerprint_changes_only_for_dependents(repo_root, tmp_path):
    root = tmp_path / "sparsefield"
    shutil.copytree(repo_root / "src/sparsefield", root)
    before = {m: source_fingerprint(root, m) for m in ("sparsefield.data.masks", "sparsefield.baselines")}
    with open(root / "baselines.py", "a") as f:
        f.write("\n# an edit\n")
    assert source_fingerprint(root, "sparsefield.data.masks") == before["sparsefield.data.masks"]
    assert source_fingerprint(root, "sparsefield.baselines") != before["sparsefield.baselines"]
    with open(root / "io.py", "a") as f:  # a shared module reruns everything that imports it
        f.write("\n# an edit\n")
    assert source_fingerprint(root, "sparsefield.data.masks") != before["sparsefield.data.masks"]
