"""What the README's commands need is declared: the run command's install must give `snakemake --report` too."""

import tomllib
import yaml


def test_report_dependency_is_declared(repo_root):
    """`snakemake --report` fails without pygments ("Python package pygments must be installed to create
    reports"), and snakemake does not declare it: the package must, for the run install and the conda env."""
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    names = {dep.split(">")[0].split("=")[0].split("<")[0].strip().lower() for dep in project["dependencies"]}
    assert {"snakemake", "pygments", "torch", "h5py", "rawpy", "torchmetrics", "pandas"} <= names
    env = yaml.safe_load((repo_root / "envs/sparsefield.yaml").read_text())["dependencies"]
    assert any(str(dep).startswith("pygments") for dep in env)


def test_relative_imports_are_banned_by_ruff(repo_root):
    lint = tomllib.loads((repo_root / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "TID" in lint["select"] and lint["flake8-tidy-imports"]["ban-relative-imports"] == "all"
