"""Fingerprints of package code, for Snakemake `params:`: an edit reruns exactly the jobs whose code changed.

Snakemake reruns a `script:` job when the script file changes, never when a module it imports
changes. Each rule that runs package code therefore carries a hash of the code it reaches:

- the closure of a module: its file, its parent packages' `__init__.py` and, transitively,
  every `sparsefield` module it imports (absolute imports only; a relative import is an
  error here and in ruff, TID252, since the walker would not follow it);
- each file as its abstract syntax tree with docstrings removed, so a comment, a docstring or
  a formatting edit reruns nothing;
- per approach kind (`kind_fingerprint`): the stage's module and that kind's own modules
  (`registry.modules`: its reader of `reads`, family, objective, sampling), which the stage loads
  by name, so an edit in one family, one reader, or a new objective file, reruns no other kind's
  jobs. The registry's tables of kinds and modalities are left out of the hash and a kind's own two rows
  (its kind's and its modality's) put in, so a new row reruns nothing either.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

from sparsefield.registry import KINDS, MODALITIES, modules

PACKAGE = "sparsefield"
TABLE = ("sparsefield.registry", ("KINDS", "MODALITIES"))  # hashed per row: each kind's jobs see only their own


def _module_file(root: Path, module: str) -> Path | None:
    """Source file of `sparsefield.x.y` under `root` (the package folder), if any."""
    parts = module.split(".")[1:]
    for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


class _Strip(ast.NodeTransformer):
    """Removes docstrings (and, in the registry, the tables of kinds and modalities) from a module's tree."""

    def __init__(self, tables: tuple[str, ...]):
        self.tables = tables

    def _body(self, node):
        self.generic_visit(node)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            if isinstance(body[0].value.value, str):
                body = body[1:] or [ast.Pass()]
        if self.tables:
            body = [stmt for stmt in body if not any(_assigns(stmt, table) for table in self.tables)] or [ast.Pass()]
        node.body = body
        return node

    visit_Module = visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _body


def _assigns(stmt: ast.stmt, name: str) -> bool:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
    return any(isinstance(target, ast.Name) and target.id == name for target in targets)


@functools.lru_cache(maxsize=512)
def _parsed(path: Path, mtime_ns: int, size: int, module: str) -> tuple[str, frozenset[str]]:
    """(AST dump without docstrings, imported sparsefield modules) of one source file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            raise ImportError(f"{path}:{node.lineno}: relative import; write `from {PACKAGE}.... import ...` "
                              "(the fingerprint follows absolute imports only)")
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # submodule imports
    imports = frozenset(name for name in found if name == PACKAGE or name.startswith(PACKAGE + "."))
    tables = TABLE[1] if module == TABLE[0] else ()
    return ast.dump(_Strip(tables).visit(tree)), imports


def _read(path: Path, module: str) -> tuple[str, frozenset[str]]:
    stat = path.stat()
    return _parsed(path, stat.st_mtime_ns, stat.st_size, module)


def module_closure(root: str | Path, module: str) -> dict[str, Path]:
    """{module name: file} of `module`, its parent packages and every package module it imports, transitively."""
    root = Path(root)
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        path = _module_file(root, name)
        if name in seen or path is None or not name.startswith(PACKAGE):
            continue
        seen[name] = path
        todo.extend(_read(path, name)[1])
        todo.append(name.rpartition(".")[0])  # importing a.b.c runs a/__init__.py and a/b/__init__.py
    if module not in seen:
        raise ModuleNotFoundError(f"fingerprint: no source for {module} under {root}")
    return seen


def source_fingerprint(root: str | Path, *modules: str, rows: tuple[str, ...] = ()) -> str:
    """SHA-256 (16 hex digits) over the docstring-free code `modules` reach, and the extra strings `rows`."""
    root = Path(root)
    files = {name: path for module in modules for name, path in module_closure(root, module).items()}
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + _read(files[name], name)[0].encode() + b"\0")
    for row in rows:
        digest.update(row.encode() + b"\0")
    return digest.hexdigest()[:16]


def kind_fingerprint(root: str | Path, stage: str, kind: str, *, scorer: bool = False) -> str:
    """Fingerprint of what the `stage` module runs for approaches of `kind`: the stage, the kind's own
    modules (its scorer instead when `scorer`) and its registry row."""

    modality = MODALITIES[KINDS[kind].reads]
    own = (modality.reader, modality.scorer) if scorer else modules(kind)
    return source_fingerprint(root, stage, *own, rows=(repr(KINDS[kind]), repr(modality)))
