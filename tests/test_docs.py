"""The docs stay true: what README.md, config/README.md and docs/*.md name exists.

- every relative link and image target exists (and its #anchor is a heading of the page it points to);
- every repository path in backticks or in a code block exists (`src/...`, `workflow/...`, `config/...`,
  `scripts/...`, `benchmarks/...`, `profiles/...`, `docs/...`, `tests/...`, `envs/...`, `.ci/...`; package files
  written relative to `src/sparsefield/`, like `methods/pca.py`); a `results/...` path matches an output, log
  or benchmark pattern of a rule in workflow/rules/*.smk (results are outputs: they need not exist);
- every dotted name `sparsefield.x.y` is a module of this checkout (importlib's path finder, which runs no
  package's __init__.py), or a name defined at the top level of one;
- every config key path in backticks that starts with a config key (`train.batch_gpu`, `evaluation.n_images`,
  `datasets.<name>.max_value`) is a path through workflow/schemas/config.schema.yaml, and config/README.md
  describes exactly the schema's top-level sections;
- every YAML example of config sections validates against the schema and uses only keys it declares;
- every `snakemake` command names only profiles, config files and rules that exist, and no target follows an
  option that takes several values (`--resources gpu=1 results/x` hands the target to --resources);
- docs/architecture.md's package map names every module of src/sparsefield/ (and no other), and the page names
  every rule file;
- the README holds the test command `.ci/run` runs.

`test_no_internal_references` keeps internal note names and paths outside the repository out of all project
text; it is parametrised by folder (WORD_ROOTS) so that one folder can be loosened on its own.

Every failure names the file, the line and the broken reference.
"""

from __future__ import annotations

import ast
import importlib.machinery
import re
import shlex
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "sparsefield"
DOCS = [ROOT / "README.md", ROOT / "config" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
RULE_FILES = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]

REPO_DIRS = ("src", "workflow", "config", "scripts", "benchmarks", "profiles", "docs", "tests", "envs", ".ci")
REPO_FILES = ("Snakefile", "pyproject.toml", "README.md")
PACKAGE_DIRS = tuple(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())
SHELL_FENCES = {"bash", "sh", "shell", "console"}
FILE_SUFFIXES = {"py", "yaml", "yml", "md", "csv", "h5", "json", "png", "pt", "npz", "tsv", "txt", "smk", "toml",
                 "sh", "log", "html", "tif", "tiff", "ARW", "RAF", "dng", "gz", "rst", "pkl"}
# Paths under results/ that no rule declares: written by Snakemake itself, or inside a job while it runs.
NOT_RULE_OUTPUTS = (
    r"results/?",
    r"results/report\.html",  # snakemake --report results/report.html
    r"results/[^/]+/run-[^/]+/?(/.*)?",  # a training's checkpoint folder (results/{approach}/run-<hash>/)
    r"results/priors/[^/]+/run-[^/]+/?(/.*)?",
)
# Snakemake options that take several values: a positional target after one of them is read as its value.
NARGS_OPTIONS = {"--resources", "--res", "--set-threads", "--set-resources", "--configfile", "--configfiles",
                 "--config", "-C", "--forcerun", "-R", "--until", "-U", "--omit-from", "-O", "--allowed-rules",
                 "--batch"}
RULE_OPTIONS = {"--forcerun", "-R", "--until", "-U", "--omit-from", "-O", "--allowed-rules"}


# --- reading the markdown ---------------------------------------------------------------------------------------


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@cache
def parsed(path: Path) -> tuple[list[tuple[int, str]], list[tuple[int, str, str]]]:
    """(prose lines, code lines) of a markdown file: (line number, text) and (line number, fence info, text)."""
    prose, code, fence, info = [], [], None, ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        marker = re.match(r"\s*(`{3,}|~{3,})\s*([\w+-]*)", line)
        if marker and (fence is None or marker.group(1).startswith(fence)):
            fence, info = (marker.group(1), marker.group(2).lower()) if fence is None else (None, "")
            continue
        if fence is None:
            prose.append((number, line))
        else:
            code.append((number, info, line))
    return prose, code


def spans(line: str) -> list[str]:
    """The inline code spans of a line of prose."""
    return re.findall(r"(?<!`)`([^`]+)`(?!`)", line)


def words(text: str) -> list[str]:
    """Whitespace-separated words without the punctuation prose and shells put around a path."""
    out = []
    for word in text.split():
        word = word.strip("\"'(),;").rstrip(".:")
        word = re.sub(r"^[A-Za-z_][\w.]*=", "", word)  # key=value
        if word:
            out.append(word)
    return out


def documents() -> list[Path]:
    return [path for path in DOCS if path.exists()]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"`|\*\*", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, line in parsed(path)[0]:
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            base = slug(heading.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            out.add(base if count == 0 else f"{base}-{count}")
    return out


# --- what exists --------------------------------------------------------------------------------------------------


def repo_path_exists(token: str) -> bool:
    """A repository path, with `{x}`, `<x>` and `*` as placeholders: something matches it."""
    pattern = re.sub(r"\{[^}]*\}|<[^>]*>", "*", token.rstrip("/"))
    if any(ch in pattern for ch in "*?["):
        return any(ROOT.glob(pattern))
    return (ROOT / pattern).exists()


@cache
def rule_patterns() -> tuple[tuple[str, ...], ...]:
    """Every results/ path a rule file writes (outputs, logs, benchmarks), split into segments; `{x}` wildcards."""
    patterns = set()
    for path in RULE_FILES:
        for literal in re.findall(r"[\"'](results/[^\"']*)[\"']", path.read_text()):
            literal = literal.replace("{{", "{").replace("}}", "}").rstrip("/")
            patterns.add(tuple(re.sub(r"\{[^}]*\}", "{}", segment) for segment in literal.split("/")))
    return tuple(sorted(patterns))


def segments_agree(a: str, b: str) -> bool:
    """Two path segments with `{}` placeholders can name the same file (each matches the other's example)."""

    def regex(segment):
        return ".*".join(map(re.escape, segment.split("{}")))

    return bool(re.fullmatch(regex(a), b.replace("{}", "x")) or re.fullmatch(regex(b), a.replace("{}", "x")))


def expand_braces(token: str) -> list[str]:
    """`results/comparison.{csv,md}` -> both paths; other braces stay placeholders."""
    match = re.search(r"\{([^{}]*,[^{}]*)\}", token)
    if not match:
        return [token]
    return [out for alt in match.group(1).split(",")
            for out in expand_braces(token[: match.start()] + alt + token[match.end():])]


def results_path_ok(token: str) -> bool:
    """A results/ path (placeholders `{x}`, `<x>`, `*` allowed) is a rule's output or lies under one; ending in
    `/`, it is a folder some rule writes into."""
    for path in expand_braces(token):
        if any(re.fullmatch(p, re.sub(r"\{[^}]*\}|<[^>]*>|\*", "x", path)) for p in NOT_RULE_OUTPUTS):
            continue
        folder = path.endswith("/")
        segments = re.sub(r"\{[^}]*\}|<[^>]*>|\*", "{}", path).rstrip("/").split("/")
        if not any(fits(pattern, segments, folder) for pattern in rule_patterns()):
            return False
    return True


def fits(pattern: tuple[str, ...], segments: list[str], folder: bool) -> bool:
    """A path's segments agree with a rule's pattern: a folder with its first segments; a file with all of them,
    or it lies under the pattern (a directory output)."""
    n = len(segments) if folder else len(pattern)
    if len(segments) < n or (folder and len(segments) > len(pattern)):
        return False
    return all(segments_agree(p, s) for p, s in zip(pattern[:n], segments[:n], strict=True))


@cache
def top_level_names(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            for target in node.targets:
                if isinstance(target, ast.Tuple):
                    names.update(e.id for e in target.elts if isinstance(e, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


def find_module_spec(name: str):
    """importlib's spec of module `name` in this checkout's src/, found package by package with the path finder
    (importlib.machinery.PathFinder.find_spec), so no package's __init__.py runs; None if there is none."""
    spec, path, parts = None, [str(SRC)], name.split(".")
    for k in range(len(parts)):
        if path is None:
            return None  # a module, not a package: it has no submodules
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: k + 1]), path)
        if spec is None:
            return None
        path = spec.submodule_search_locations
    return spec


def dotted_name_error(name: str) -> str | None:
    """Why `sparsefield.a.b[.attr]` names nothing in this checkout, or None."""
    parts = name.split(".")
    specs = [find_module_spec(".".join(parts[:k])) for k in range(1, len(parts) + 1)]
    known = max((k for k, spec in enumerate(specs, 1) if spec is not None), default=0)
    if known == 0:
        return "no package sparsefield in src/"
    module, spec = ".".join(parts[:known]), specs[known - 1]
    rest = parts[known:]
    if rest and rest[0] not in top_level_names(Path(spec.origin)):
        return f"{module} has no submodule or top-level name {rest[0]!r}"
    return None


@cache
def schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())


def resolve(node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = schema()
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def branches(node: dict) -> list[dict]:
    """A schema node and every subschema that may add properties to it (allOf, oneOf, if/then/else, $ref)."""
    node = resolve(node)
    out = [node]
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key, []):
            out += branches(sub)
    for key in ("then", "else"):
        if isinstance(node.get(key), dict):
            out += branches(node[key])
    return out


def children(node: dict, key: str) -> list[dict]:
    """The subschemas a key selects under `node` (a named entry goes through additionalProperties)."""
    out = []
    for branch in branches(node):
        if key in branch.get("properties", {}):
            out.append(branch["properties"][key])
        elif isinstance(branch.get("additionalProperties"), dict):  # a named entry (`datasets.<name>`)
            out.append(branch["additionalProperties"])
    return out


def walks(node: dict, keys: list[str]) -> bool:
    if not keys:
        return True
    return any(walks(child, keys[1:]) for child in children(node, keys[0]))


@cache
def nodes_with_property() -> dict[str, list[dict]]:
    """Every object schema by the property names it declares (where a key path may start)."""
    out: dict[str, list[dict]] = {}

    def visit(node):
        if isinstance(node, dict):
            for key in node.get("properties", {}):
                out.setdefault(key, []).append(node)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema())
    return out


def config_key_error(token: str) -> str | None:
    """Why a key path like `train.batch_gpu` is not in the schema, or None (also None: not a key path)."""
    keys = token.split(".")
    if keys[-1] in FILE_SUFFIXES or keys[0] not in nodes_with_property():
        return None
    if any(walks(resolve(start)["properties"][keys[0]], keys[1:]) for start in nodes_with_property()[keys[0]]):
        return None
    return f"config key path {token!r} is not in {rel(SCHEMA)}"


@cache
def rules() -> frozenset[str]:
    return frozenset(m for path in RULE_FILES for m in re.findall(r"^rule (\w+):", path.read_text(), re.M))


def shell_commands(path: Path) -> list[tuple[int, str]]:
    """The commands of shell code blocks (continuation lines joined, split at && ; |) and of inline spans that
    start with `snakemake`."""
    out, pending, start = [], "", 0
    for number, info, line in parsed(path)[1]:
        if info not in SHELL_FENCES:
            continue
        if not pending:
            start = number
        pending += line.rstrip("\\") + " "
        if not line.rstrip().endswith("\\"):
            out += [(start, part.strip()) for part in re.split(r"&&|;|\|", pending) if part.strip()]
            pending = ""
    for number, line in parsed(path)[0]:
        out += [(number, span) for span in spans(line) if span.startswith("snakemake ")]
    return out


def snakemake_errors(command: str) -> list[str]:
    try:
        tokens = shlex.split(command, comments=True)
    except ValueError as err:
        return [f"cannot split {command!r}: {err}"]
    if not tokens or tokens[0] != "snakemake":
        return []
    errors, option, nargs_open = [], None, None
    for token in tokens[1:]:
        if token.startswith("-"):
            option, nargs_open = token, token if token in NARGS_OPTIONS else None
            continue
        if token.startswith("results/") and nargs_open:
            errors.append(f"target {token} follows {nargs_open}, which takes it as one of its values; put "
                          "targets before options that take several values")
        if option in ("--configfile", "--configfiles", "--profile", "--workflow-profile", "--snakefile", "-s"):
            if not token.startswith(("~", "/", "$", "<")) and not (ROOT / token).exists():
                errors.append(f"{option} {token}: no such file or folder")
        if option in RULE_OPTIONS and token not in rules() and not token.startswith("results/"):
            errors.append(f"{option} {token}: no rule {token} in the Snakefile or workflow/rules/")
        if option in ("--set-threads", "--set-resources") and token.split("=")[0].split(":")[0] not in rules():
            errors.append(f"{option} {token}: no rule {token.split('=')[0].split(':')[0]}")
        if option not in NARGS_OPTIONS:
            option = None
    return errors


def failures(found: list[str]) -> str:
    return "\n".join(["the docs name things that do not exist:", *found])


# --- the tests ----------------------------------------------------------------------------------------------------


def test_docs_exist():
    missing = [rel(p) for p in DOCS[:2] if not p.exists()]
    assert not missing, f"missing: {missing}"
    assert len(documents()) > 2, "no docs/*.md pages"


def test_links_and_images_exist():
    found = []
    for doc in documents():
        for number, line in parsed(doc)[0]:
            targets = re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", line)
            targets += re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", line) + re.findall(r"<img[^>]*\ssrc=\"([^\"]+)\"", line)
            for target in targets:
                if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                    continue  # http:, https:, mailto:
                file, _, anchor = target.partition("#")
                where = (doc.parent / file).resolve() if file else doc
                if not where.exists():
                    found.append(f"{rel(doc)}:{number}: link {target}: no such file {file}")
                elif anchor and where.suffix == ".md" and anchor not in anchors(where):
                    found.append(f"{rel(doc)}:{number}: link {target}: no heading #{anchor} in {rel(where)}")
                elif file and not where.is_relative_to(ROOT):
                    found.append(f"{rel(doc)}:{number}: link {target} points outside the repository")
    assert not found, failures(found)


def test_repository_paths_exist():
    found = []
    for doc in documents():
        prose, code = parsed(doc)
        places = [(n, w) for n, line in prose for span in spans(line) for w in words(span)]
        places += [(n, w) for n, _, line in code for w in words(line)]
        for number, word in places:
            if "/" in word and word.split("/")[0] in REPO_DIRS or word in REPO_FILES:
                if not repo_path_exists(word):
                    found.append(f"{rel(doc)}:{number}: path {word}: no such file or folder in the repository")
            elif re.fullmatch(rf"(?:{'|'.join(PACKAGE_DIRS)})/[\w/]+\.py", word):
                if not (PACKAGE / word).exists():
                    found.append(f"{rel(doc)}:{number}: package file {word}: no src/sparsefield/{word}")
            elif word.startswith("results/") and not results_path_ok(word):
                found.append(f"{rel(doc)}:{number}: {word}: no rule in workflow/rules/ writes such a path")
            elif word.startswith("../"):
                found.append(f"{rel(doc)}:{number}: {word}: a path outside the repository")
    assert not found, failures(found)


def test_module_names_exist():
    found = []
    for doc in documents():
        prose, code = parsed(doc)
        lines = prose + [(n, line) for n, _, line in code]
        for number, line in lines:
            for name in re.findall(r"(?<![\w/.])sparsefield(?:\.[A-Za-z_]\w*)+", line):
                error = dotted_name_error(name)
                if error:
                    found.append(f"{rel(doc)}:{number}: {name}: {error}")
    assert not found, failures(found)


def test_config_key_paths_exist():
    found = []
    key_path = re.compile(r"[a-z_][a-z0-9_]*(?:\.(?:[A-Za-z_][\w]*|<[^>]+>|\{[^}]+\}))+")
    for doc in documents():
        for number, line in parsed(doc)[0]:
            for span in spans(line):
                if key_path.fullmatch(span):
                    error = config_key_error(span)
                    if error:
                        found.append(f"{rel(doc)}:{number}: {error}")
    assert not found, failures(found)


def test_config_readme_describes_every_section():
    """config/README.md: one `## \\`section\\`` heading per top-level key of the schema, and no other."""
    doc = ROOT / "config" / "README.md"
    assert doc.exists(), "config/README.md is missing"
    named = {}
    for number, line in parsed(doc)[0]:
        heading = re.fullmatch(r"##\s+`([\w.]+)`.*", line.strip())
        if heading:
            named[heading.group(1)] = number
    sections = set(schema()["properties"])
    found = [f"config/README.md:{n}: section `{name}` is not a top-level key of {rel(SCHEMA)}"
             for name, n in named.items() if name not in sections]
    found += [f"config/README.md: no `## \\`{name}\\`` section for the schema's top-level key {name}"
              for name in sorted(sections - set(named))]
    assert not found, failures(found)


def test_snakemake_commands_name_what_exists():
    found = []
    for doc in documents():
        for number, command in shell_commands(doc):
            found += [f"{rel(doc)}:{number}: {command}: {error}" for error in snakemake_errors(command)]
    assert not found, failures(found)


def test_readme_holds_the_ci_test_command():
    """.ci/run runs exactly the README's test command: the two must not drift apart."""
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("pip install")]
    readme = (ROOT / "README.md").read_text()
    assert ci, ".ci/run: no `pip install ...` line"
    missing = [line for line in ci if line not in readme]
    assert not missing, f"README.md does not hold the test command .ci/run runs: {missing}"


def test_docs_words():
    """The docs name methods and their papers, never internal notes or tracker items."""
    banned = re.compile(r"\bseeds?\s+0\d\d|\bseeds\b|\bthe issue\b", re.I)
    found = [f"{rel(doc)}:{number}: {banned.search(line).group(0)!r}"
             for doc in documents() for number, line in enumerate(doc.read_text().splitlines(), 1)
             if banned.search(line)]
    assert not found, failures(found)


# Internal note names and paths outside the repository: project text never names them. One parameter per folder,
# so that a folder can be loosened alone: drop it from WORD_ROOTS, or write it as
# pytest.param("src", marks=pytest.mark.xfail(reason="...")).
FORBIDDEN = re.compile(r"seed 00|DESIGN\.md|\.\./shared", re.I)
WORD_ROOTS = ("README.md", "docs", "config", "src", "workflow", "scripts", "benchmarks", "tests", "profiles",
              "envs", ".ci", "Snakefile", "pyproject.toml")
TEXT_SUFFIXES = {".md", ".py", ".smk", ".yaml", ".yml", ".toml", ".rst", ".txt", ".sh", ".cfg", ".ini", ""}


@pytest.mark.parametrize("root", WORD_ROOTS)
def test_no_internal_references(root):
    base = ROOT / root
    files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
    found = []
    for path in files:
        parts = set(path.relative_to(ROOT).parts)
        if path == Path(__file__).resolve() or path.suffix not in TEXT_SUFFIXES or "__pycache__" in parts:
            continue
        if any(part.endswith(".egg-info") or part.startswith(".") and part != ".ci" for part in parts):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            match = FORBIDDEN.search(line)
            if match:
                found.append(f"{rel(path)}:{number}: {match.group(0)!r}: an internal note or a path outside the "
                             "repository; name the method and its paper, or a file of the repository, instead")
    assert not found, "\n".join(found)


def test_yaml_examples_fit_the_schema():
    """Every YAML example of config sections validates against the schema (top-level `required` aside: an
    example shows a few sections), so every key it writes exists and has the right shape."""
    import jsonschema

    partial = {key: value for key, value in schema().items() if key != "required"}
    validator = jsonschema.Draft202012Validator(partial)
    found = []
    for doc in documents():
        blocks: dict[int, list[str]] = {}
        previous = None
        for number, info, line in parsed(doc)[1]:
            if info in ("yaml", "yml"):
                start = number if previous is None or number != previous + 1 else max(blocks)
                blocks.setdefault(start, []).append(line)
                previous = number
        for number, lines in blocks.items():
            try:
                example = yaml.safe_load("\n".join(lines))
            except yaml.YAMLError as err:
                found.append(f"{rel(doc)}:{number}: YAML example does not parse: {str(err).splitlines()[0]}")
                continue
            if not isinstance(example, dict) or not set(example) <= set(schema()["properties"]):
                continue
            for error in validator.iter_errors(example):
                where = ".".join(map(str, error.absolute_path)) or "(top level)"
                found.append(f"{rel(doc)}:{number}: YAML example, key {where}: {error.message}")
            found += [f"{rel(doc)}:{number}: YAML example, key {key}: not a key the schema declares there"
                      for key in unknown_keys(example, schema(), "")]
    assert not found, failures(found)


def unknown_keys(example: dict, node: dict, where: str) -> list[str]:
    """Key paths of `example` the schema does not declare (the schema lets some objects take any key and checks
    them in code, e.g. a dataset's keys per source: an example must still use only declared ones)."""
    unknown = []
    for key, value in example.items():
        path = f"{where}.{key}" if where else str(key)
        kids = children(node, str(key))
        if not kids:
            unknown.append(path)
        elif isinstance(value, dict):
            unknown += min((unknown_keys(value, kid, path) for kid in kids), key=len)
    return unknown


def test_architecture_maps_every_module_and_rule_file():
    """docs/architecture.md's package map names every module of src/sparsefield/ and nothing else, and the page
    names every rule file: a new module or rule file needs a line there."""
    doc = ROOT / "docs" / "architecture.md"
    text = doc.read_text()
    mapped, section = set(), None
    for _, info, line in parsed(doc)[1]:
        if info != "text" or not line.strip():
            continue
        folder = re.match(r"(\w+(?:/\w+)*)/\s", line)  # a folder, or a nested one (stages/sections/)
        if folder:
            section = folder.group(1)
        elif not line.startswith(" "):
            section = None
        mapped |= {f"{section}/{name}" if section else name for name in re.findall(r"\b(\w+)\.py\b", line)}
    modules = {p.relative_to(PACKAGE).with_suffix("").as_posix() for p in PACKAGE.rglob("*.py")
               if p.name != "__init__.py" and "__pycache__" not in p.parts}
    found = [f"docs/architecture.md: the package map does not name src/sparsefield/{m}.py"
             for m in sorted(modules - mapped)]
    found += [f"docs/architecture.md: the package map names {m}.py, which is not in src/sparsefield/"
              for m in sorted(mapped - modules)]
    found += [f"docs/architecture.md: no `{rel(p)}` among the rules" for p in RULE_FILES[1:] if rel(p) not in text]
    assert not found, failures(found)
