"""The real Snakemake DAG on tiny data (tests/workflow/config.yaml), in a copy of the repo."""

import shutil
import subprocess
import sys

import pandas as pd
import pytest

COPIED = ["Snakefile", "workflow", "scripts", "envs", "config", "profiles", "src", "tests/workflow/config.yaml"]


def snakemake(cwd, *args):
    """Run snakemake in `cwd` with the tiny test config; return its output (stdout + stderr)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--configfile",
        "tests/workflow/config.yaml",
        "--replace-workflow-config",
        *args,
    ]
    run = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"{' '.join(cmd)} failed:\n{run.stdout}\n{run.stderr}"
    return run.stdout + run.stderr


def job_counts(plan):
    """{rule: count} from the "Job stats" table of a dry run."""
    lines = plan[plan.index("Job stats:") :].splitlines()[3:]
    rows = [line.split() for line in lines[: next(i for i, line in enumerate(lines) if line.startswith("total"))]]
    return {rule: int(count) for rule, count in rows}


def copy_repo(root, work):
    for name in COPIED:
        source, target = root / name, work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    return work


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, request):
    return copy_repo(request.config.rootpath, tmp_path_factory.mktemp("workflow"))


@pytest.fixture(scope="module")
def built(workdir):
    snakemake(workdir, "--cores", "2", "--resources", "gpu=1")
    return workdir


def test_single_target_builds_only_its_ancestors(workdir):
    plan = snakemake(workdir, "results/linear/metrics.csv", "-n")
    assert job_counts(plan) == {"images": 1, "masks": 1, "baseline": 1, "evaluate": 1}


def test_dag_runs_and_scores(built):
    table = pd.read_csv(built / "results/comparison.csv")
    assert list(table.columns) == ["approach", "dataset", "scheme", "metric", "region", "estimator", "value"]
    assert set(table.approach) == {"nearest", "linear", "biharmonic", "linear_io", "flow_tiny"}
    psnr = table[(table.metric == "psnr") & (table.estimator == "mean")].set_index(["approach", "region"])["value"]
    for approach in ("nearest", "linear", "biharmonic"):
        assert psnr[(approach, "context")] == float("inf")  # context pixels kept as observed
        assert 10 < psnr[(approach, "missing")] < 40
    assert psnr[("linear", "missing")] > psnr[("nearest", "missing")]
    assert psnr[("linear_io", "missing")] > psnr[("linear", "missing")]  # 20 % context beats 10 %
    n_images = table[table.metric == "n_images"].set_index("approach")["value"]
    assert (n_images == 10).all()
    markdown = (built / "results/comparison.md").read_text()
    assert "## builtin · cq_10_10" in markdown and "| linear |" in markdown
    figures = sorted(p.name for p in (built / "results/figures").glob("*.png"))
    assert figures == ["builtin_cq_10_10.png", "builtin_io_20_20.png", "learning_curves.png", "nfe_sweep.png"]


def test_learned_approach_end_to_end(built):
    """A tiny flow-matching Perceiver IO goes through train → sample → evaluate → compare."""
    rows = pd.read_csv(built / "results/flow_tiny/metrics.csv").set_index(["metric", "region", "estimator"])["value"]
    assert rows[("n_samples", "-", "-")] == 2 and rows[("nfe", "-", "-")] == 3  # Heun, 2 steps
    assert rows[("params", "-", "-")] > 0 and rows[("train_seconds", "-", "-")] > 0
    for key in [("psnr", "missing", "sample"), ("crps", "missing", "samples"), ("psnr", "query_alone", "mean"),
                ("psnr", "full_2x", "mean"), ("psnr", "full_2x", "bicubic")]:  # fmt: skip
        assert 5 < rows[key] < 60 if key[0] == "psnr" else 0 <= rows[key] < 1, key
    log = pd.read_csv(built / "results/flow_tiny/train_log.csv")
    assert log.step.tolist() == list(range(1, 7)) and log.test_psnr_missing.notna().sum() == 2
    sweep = pd.read_csv(built / "results/nfe_sweep.csv")
    assert set(sweep.sampler) == {"euler", "heun"} and (sweep.approach == "flow_tiny").all()
    assert not list((built / "results/flow_tiny").glob("run-*"))  # checkpoints removed after success


def test_rebuild_from_scratch_is_identical(built, tmp_path, request):
    again = copy_repo(request.config.rootpath, tmp_path)
    snakemake(again, "--cores", "2", "results/linear/metrics.csv")
    for name in ["data/builtin.h5", "masks/builtin/cq_10_10.h5"]:
        assert (again / "results" / name).read_bytes() == (built / "results" / name).read_bytes(), name
    first, second = (pd.read_csv(root / "results/linear/metrics.csv") for root in (built, again))
    timed = first.metric == "seconds_per_image"  # the one row that measures the machine
    pd.testing.assert_frame_equal(first[~timed], second[~timed])


def test_up_to_date_tree_has_nothing_to_do(built):
    assert "Nothing to be done" in snakemake(built, "-n")


def test_code_edit_reruns_exactly_the_affected_jobs(built):
    with open(built / "src/sparsefield/baselines.py", "a") as f:
        f.write("\n# an edit that changes the fingerprint\n")
    assert job_counts(snakemake(built, "-n")) == {"baseline": 4, "evaluate": 4, "compare": 1, "all": 1}


def test_report_is_self_contained(built):
    snakemake(built, "--report", "results/report.html")
    assert (built / "results/report.html").stat().st_size > 10_000


def test_slurm_profile_plans_without_a_cluster(workdir):
    plan = snakemake(workdir, "-n", "--profile", "profiles/slurm", "--workflow-profile", "none")
    assert "slurm" in plan.lower() or "Job stats" in plan


def test_bad_config_stops_before_any_job(workdir, tmp_path):
    bad = tmp_path / "bad.yaml"
    text = (workdir / "tests/workflow/config.yaml").read_text()
    bad.write_text(text.replace("query_ratio: 0.2,", "query_ratio: 0.9,"))
    cmd = [sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad), "--replace-workflow-config"]
    run = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "config key schemes.io_20_20: context_ratio + query_ratio = 1.1 > 1" in run.stdout + run.stderr
