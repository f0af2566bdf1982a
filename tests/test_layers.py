"""The package's layers: the stages read and write files; a family (`sparsefield.methods`) sees data and models.

Checked on the source (its syntax tree), so a new family is held to it the day it is added.
"""

import ast
import re
from pathlib import Path

import pytest

METHODS = sorted((Path(__file__).parents[1] / "src" / "sparsefield" / "methods").rglob("*.py"))
FILE_MODULES = {"h5py", "json", "pathlib", "os", "shutil", "pickle", "tifffile", "rawpy", "PIL", "io"}
FILE_METHODS = {"open", "load", "save", "read_csv", "to_csv", "savez", "read_text", "write_text"}  # torch.load, ...
PATH_ARGUMENTS = {"inputs", "path", "paths", "file", "folder", "out_path", "out_dir"}


def file_access(tree: ast.AST) -> list[str]:
    """Every import of a file module, call of a file function or `read_*`/`write_*` helper, and argument named
    like a path, with its line."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] in FILE_MODULES]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] in FILE_MODULES:
                found.append(f"{node.lineno}: from {module} import ...")
            found += [f"{node.lineno}: from {module} import {a.name}" for a in node.names
                      if a.name.startswith(("read_", "write_", "open_", "load_", "paired_"))]
        elif isinstance(node, ast.Call):
            attribute = isinstance(node.func, ast.Attribute)
            name = node.func.attr if attribute else getattr(node.func, "id", "")
            if (attribute and name in FILE_METHODS) or name == "open" or name.startswith(("read_", "write_")):
                found.append(f"{node.lineno}: {name}(...)")
        elif isinstance(node, ast.arg) and node.arg in PATH_ARGUMENTS:
            found.append(f"{node.lineno}: argument {node.arg!r}")
    return found


@pytest.mark.parametrize("module", METHODS, ids=[m.parent.name if m.stem == "__init__" else m.stem for m in METHODS])
def test_no_family_touches_a_file(module):
    found = file_access(ast.parse(module.read_text(encoding="utf-8")))
    assert not found, f"{module.name} reads or writes files (the stages do that): " + "; ".join(found)


def test_the_check_finds_file_access():
    """The check itself: each way a family could reach a file is found."""
    source = '''
import h5py
from sparsefield.data.images.sources import read_images
def reconstruct(kind, params, data, *, inputs):
    x = torch.load(inputs["model"])
    with open("a.json") as f:
        pass
    return pd.read_csv("x.csv")
'''
    found = " ".join(file_access(ast.parse(source)))
    for what in ("import h5py", "read_images", "argument 'inputs'", "load(...)", "open(...)", "read_csv(...)"):
        assert what in found
    harmless = "import torch\ndef f(kind, params, data, *, model): return load('sparsefield.x')(model(data))"
    assert file_access(ast.parse(harmless)) == []  # registry.load imports a module by name


ROOT = Path(__file__).parents[1]


def rule_scripts() -> dict[str, str]:
    """{rule: the script it runs} of every rule with a `script:` in workflow/rules/*.smk."""
    found = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for rule, body in re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", path.read_text(), flags=re.M):
            script = re.search(r"script:\s*\n\s*\"\.\./\.\./scripts/(\w+)\.py\"", body)
            if script:
                found[rule] = script.group(1)
    return found


def test_every_rule_runs_the_script_and_the_stage_of_its_name():
    """Rule X runs scripts/X.py, which calls the package only through sparsefield.stages.X: the pipeline shows in
    stages/ from the first data job to the comparison."""
    scripts = rule_scripts()
    assert len(scripts) >= 13 and set(scripts) == {p.stem for p in (ROOT / "scripts").glob("*.py")}
    for rule, script in scripts.items():
        assert script == rule, f"rule {rule} runs scripts/{script}.py"
        tree = ast.parse((ROOT / "scripts" / f"{script}.py").read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        package = {name for name in imported if name.startswith("sparsefield")}
        assert package == {f"sparsefield.stages.{rule}"}, f"scripts/{script}.py imports {sorted(package)}"
