"""Fingerprints of package sources, for Snakemake `params:`.

Snakemake reruns a `script:` job when the script file changes, never when a
module it imports changes. Each rule that runs package code therefore carries
the hash of the modules it reaches (its entry module and, transitively, every
`sparsefield` module that one imports), so an edit reruns exactly the jobs
whose code changed.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = "sparsefield"


def _module_file(root: Path, module: str) -> Path | None:
    """Source file of `sparsefield.x.y` under `root` (the package folder), if any."""
    parts = module.split(".")[1:]
    for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """`sparsefield...` modules imported by the source file `path`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # submodule imports
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def module_closure(root: str | Path, module: str) -> list[Path]:
    """Files of `module`, its parent packages and every package module it imports, transitively."""
    root = Path(root)
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        path = _module_file(root, name)
        if name in seen or path is None or not name.startswith(PACKAGE):
            continue
        seen[name] = path
        todo.extend(_imports(path))
        todo.append(name.rpartition(".")[0])  # importing a.b.c runs a/__init__.py and a/b/__init__.py
    if module not in seen:
        raise ModuleNotFoundError(f"fingerprint: no source for {module} under {root}")
    return sorted(set(seen.values()))


def source_fingerprint(root: str | Path, *modules: str) -> str:
    """SHA-256 (first 16 hex digits) over the sources `modules` depend on."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in sorted({p for module in modules for p in module_closure(root, module)}):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
