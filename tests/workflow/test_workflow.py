"""The real Snakemake DAG on tiny data (tests/workflow/config.yaml), in a copy of the repo."""

import contextlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

LOWLIGHT = {"amplify", "amplify_denoise", "edm_lowlight_tiny"}
SPECTRAL = {"vae_tiny", "pca_tiny"}
COPIED = ["Snakefile", "workflow", "scripts", "envs", "config", "profiles", "src", "tests/workflow/config.yaml"]


def snakemake(cwd, *args, check=True):
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
    assert run.returncode == 0 or not check, f"{' '.join(cmd)} failed:\n{run.stdout}\n{run.stderr}"
    return run.stdout + run.stderr


def job_counts(plan):
    """{rule: count} from the "Job stats" table of a dry run."""
    lines = plan[plan.index("Job stats:") :].splitlines()[3:]
    rows = [line.split() for line in lines[: next(i for i, line in enumerate(lines) if line.startswith("total"))]]
    return {rule: int(count) for rule, count in rows}


def dry_run_with(cwd, config: dict, path) -> str:
    """The output of `snakemake -n` in `cwd` with `config` (written to `path`) instead of the tiny config."""
    path.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", "-n", "--configfile", str(path), "--replace-workflow-config"]
    run = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stdout + run.stderr


@contextlib.contextmanager
def edited(path, edit):
    """`path` rewritten by `edit(text)` for the duration of the block, then restored byte for byte."""
    original = path.read_bytes() if path.exists() else None
    try:
        path.write_text(edit(original.decode() if original is not None else ""))
        yield path
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_bytes(original)


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
    assert job_counts(plan) == {"images": 1, "masks": 1, "reconstruct": 1, "evaluate": 1}


def test_dag_runs_and_scores(built):
    table = pd.read_csv(built / "results/comparison.csv")
    assert list(table.columns) == ["approach", "dataset", "scheme", "metric", "region", "estimator", "value"]
    assert set(table.approach) == {"nearest", "linear", "biharmonic", "linear_io", "flow_tiny", "ddo_tiny",
                                   "edm_sparse_tiny"} | LOWLIGHT | SPECTRAL
    psnr = table[(table.metric == "psnr") & (table.estimator == "mean")].set_index(["approach", "region"])["value"]
    for approach in ("nearest", "linear", "biharmonic"):
        assert psnr[(approach, "context")] == float("inf")  # context pixels kept as observed
        assert 10 < psnr[(approach, "missing")] < 40
    assert psnr[("linear", "missing")] > psnr[("nearest", "missing")]
    assert psnr[("linear_io", "missing")] > psnr[("linear", "missing")]  # 20 % context beats 10 %
    n_images = table[(table.metric == "n_images") & ~table.approach.isin(LOWLIGHT | SPECTRAL)].set_index("approach")
    n_images = n_images["value"]
    assert (n_images == 10).all()
    markdown = (built / "results/comparison.md").read_text()
    assert "## builtin · cq_10_10" in markdown and "| linear |" in markdown
    figures = sorted(p.name for p in (built / "results/figures").glob("*.png"))
    assert figures == [
        "builtin_cq_10_10.png", "builtin_io_20_20.png", "composites_leaves_tiny.png", "coverage_leaves_tiny.png",
        "learning_curves.png", "lowlight_tiny.png", "nfe_sweep.png", "prior_images_tiny.png", "prior_raw_tiny.png",
        "spectral_leaves_tiny.png",
    ]


def test_learned_approach_end_to_end(built):
    """A tiny flow-matching Perceiver IO goes through train → sample → evaluate → compare."""
    rows = pd.read_csv(built / "results/flow_tiny/metrics.csv").set_index(["metric", "region", "estimator"])["value"]
    assert rows[("n_samples", "-", "-")] == 2 and rows[("nfe", "-", "-")] == 3  # Heun, 2 steps
    assert rows[("params", "-", "-")] > 0 and rows[("train_seconds", "-", "-")] > 0
    for key in [
        ("psnr", "missing", "sample"),
        ("crps", "missing", "samples"),
        ("psnr", "query_alone", "mean"),
        ("psnr", "full_2x", "mean"),
        ("psnr", "full_2x", "bicubic"),
        ("psnr", "missing", "posterior_mean"),
    ]:
        assert 5 < rows[key] < 60 if key[0] == "psnr" else 0 <= rows[key] < 1, key
    log = pd.read_csv(built / "results/flow_tiny/train_log.csv")
    assert log.step.tolist() == list(range(1, 7)) and log.test_psnr_missing.notna().sum() == 2
    assert log.loss_query.notna().all() and (log.loss_query == log.loss).all()  # every output is a query pixel
    assert (built / "results/flow_tiny/nfe_sweep.csv").exists()  # the sweep is a job of its own
    sweep = pd.read_csv(built / "results/nfe_sweep.csv")
    flow = sweep[sweep.approach == "flow_tiny"]
    assert set(flow.sampler) == {"euler", "heun"}
    assert set(sweep.approach) == {"flow_tiny", "ddo_tiny", "edm_sparse_tiny", "edm_lowlight_tiny"}
    assert not list((built / "results/flow_tiny").glob("run-*"))  # checkpoints removed after success
    markdown = (built / "results/comparison.md").read_text()
    assert "## Learning curves" in markdown and "| flow_tiny | " in markdown.split("## Learning curves")[1]


def test_ddo_end_to_end(built):
    """The DDO family on the dense grid: the classical estimate computed once, both losses logged, 2x grid, samplers."""
    rows = pd.read_csv(built / "results/ddo_tiny/metrics.csv").set_index(["metric", "region", "estimator"])["value"]
    assert rows[("psnr", "context", "mean")] == float("inf")  # observed pixels kept as observed
    for estimator in ("mean", "posterior_mean", "sample"):
        assert 5 < rows[("psnr", "missing", estimator)] < 40
    assert 5 < rows[("psnr", "full_2x", "mean")] < 40 and ("psnr", "full_2x", "bicubic") in rows.index
    log = pd.read_csv(built / "results/ddo_tiny/train_log.csv")
    assert {"loss_query", "loss_full", "test_psnr_posterior_mean"} <= set(log.columns) and len(log) == 4
    assert (log.loss == log.loss_full).all()  # loss: full
    sweep = pd.read_csv(built / "results/ddo_tiny/nfe_sweep.csv")
    assert set(sweep.sampler) == {"ancestral", "ancestral_x0"}
    assert (built / "results/estimates/builtin/cq_10_10/biharmonic.h5").exists()


def test_raw_set_end_to_end(built):
    """Builtin DNGs → one demosaic job per capture → tiles + metadata → amplify / amplify_denoise → table."""
    raw = built / "results/raw/tiny"
    captures = sorted(p.relative_to(raw).as_posix() for p in raw.rglob("*.dng"))
    scenes = ("00001", "10001", "20001")  # train, test, val
    assert captures == [f"Sony/long/{s}_00_10s.dng" for s in scenes] + [
        f"Sony/short/{s}_{name}.dng" for s in scenes for name in ("00_0.1s", "01_0.033s")
    ]
    tiles = json.loads((built / "results/tiles/tiny/metadata.json").read_text())["tiles"]
    assert len(tiles) == 9 * 4 and {t["data_type"] for t in tiles if t["split"] == "train"} == {"clean", "noisy"}
    table = pd.read_csv(built / "results/comparison.csv")
    low = table[table.approach.isin(LOWLIGHT)]
    assert set(low.dataset) == {"tiny"} and set(low.scheme) == {"x100", "x300"}
    psnr = low[(low.metric == "psnr")].set_index(["approach", "scheme", "region"])["value"]
    assert len(psnr) == 3 * 2 * 2 and (psnr > 5).all()
    assert psnr[("amplify", "x100", "linear")] > psnr[("amplify", "x300", "linear")]
    markdown = (built / "results/comparison.md").read_text()
    assert "# Low light" in markdown and "| ×300 | srgb | amplify |" in markdown
    assert "## tiny · x100" not in markdown  # low-light rows stay out of the mask tables


def test_edm_priors_and_posterior_approaches_end_to_end(built):
    """Two priors trained once (clean raw crops; train images), a posterior approach on each, the calibration."""
    for prior, sigmas in (("raw_tiny", ["0.1"]), ("images_tiny", ["0.1"])):
        log = pd.read_csv(built / f"results/priors/{prior}/train_log.csv")
        assert log.step.tolist() == [1, 2, 3, 4]
        assert log[[f"val_psnr_{s}" for s in sigmas]].notna().sum().tolist() == [2]  # every 2 steps
        with np.load(built / f"results/priors/{prior}/samples.npz") as drawn:
            assert drawn["samples"].shape == drawn["real"].shape and bool(drawn["linear"]) == (prior == "raw_tiny")
    noise = json.loads((built / "results/tiles/tiny/noise.json").read_text())
    assert len(noise["scenes"]) == 1 and len(noise["raw_check"]) == 1
    sparse = pd.read_csv(built / "results/edm_sparse_tiny/metrics.csv").set_index(["metric", "region", "estimator"])
    assert sparse.loc[("nfe", "-", "-"), "value"] == 3 and sparse.loc[("n_samples", "-", "-"), "value"] == 2  # Heun
    assert sparse.loc[("train_seconds", "-", "-"), "value"] > 0  # the prior's
    assert sparse.loc[("psnr", "context", "mean"), "value"] == float("inf")  # observed pixels kept
    low = pd.read_csv(built / "results/edm_lowlight_tiny/metrics.csv")
    assert set(low.scheme) == {"x100", "x300"} and set(low[low.metric == "psnr"].region) == {"linear", "srgb"}
    markdown = (built / "results/comparison.md").read_text()
    assert "# Priors" in markdown and "## raw_tiny" in markdown and "| ×300 | srgb | edm_lowlight_tiny |" in markdown


def test_vae_and_pca_on_multispectral_leaves_end_to_end(built):
    """The builtin leaves -> a masked VAE trained on the leaf pixels and the PCA reference -> the spectral scores."""
    for name in SPECTRAL:
        rows = pd.read_csv(built / f"results/{name}/metrics.csv").set_index(["metric", "region"])["value"]
        assert set(rows.index.get_level_values("region")) == {"leaf", "full", "-"}
        assert 5 < rows[("psnr", "leaf")] < 80 and 0 <= rows[("sam", "leaf")] < 90
        assert rows[("n_images", "-")] == 6
    log = pd.read_csv(built / "results/vae_tiny/train_log.csv")
    assert {"loss_leaf", "loss_full", "loss_sam", "loss_kl", "mse_nir", "test_sam_leaf"} <= set(log.columns)
    assert log.test_sam_leaf.notna().sum() == 2
    markdown = (built / "results/comparison.md").read_text()
    assert "# Multispectral leaves" in markdown and "| vae_tiny |" in markdown and "| pca_tiny |" in markdown


def test_posterior_edits_never_retrain_the_prior(built, tmp_path):
    """A sampler setting or the posterior code reruns the posterior jobs only; the prior's code retrains it."""
    config = yaml.safe_load((built / "tests/workflow/config.yaml").read_text())
    config["approaches"]["edm_sparse_tiny"]["params"]["sample"]["steps"] = 3
    plan = job_counts(dry_run_with(built, config, tmp_path / "sample.yaml"))
    assert plan == {"reconstruct": 1, "sweep": 1, "evaluate": 1, "compare": 1, "all": 1}
    code = "\nLIMIT = 1  # an edit that changes the code\n"
    with edited(built / "src/sparsefield/methods/edm_posterior.py", lambda text: text + code):
        plan = job_counts(snakemake(built, "-n"))
    assert plan == {"reconstruct": 2, "sweep": 2, "evaluate": 2, "compare": 1, "all": 1}
    with edited(built / "src/sparsefield/methods/edm_prior.py", lambda text: text + code):
        plan = job_counts(snakemake(built, "-n"))
    assert plan == {"prior": 2, "reconstruct": 2, "sweep": 2, "evaluate": 2, "compare": 1, "all": 1}


def test_rebuild_from_scratch_is_identical(built, tmp_path, request):
    again = copy_repo(request.config.rootpath, tmp_path)
    snakemake(again, "--cores", "2", "results/linear/metrics.csv", "results/tiles/tiny/metadata.json")
    raw = [  # not Snakemake's own .snakemake_timestamp in the directory output
        p.relative_to(again / "results") for p in (again / "results/raw/tiny").rglob("[!.]*") if p.is_file()
    ]
    tiles = [p.relative_to(again / "results") for p in (again / "results/tiles/tiny").iterdir()]
    assert len(raw) == 9 + 3 and len(tiles) == 9 * 2 + 1  # 3 scenes (train, val, test) x (long + 2 shorts)
    for name in ["data/builtin.h5", "masks/builtin/cq_10_10.h5", *raw, *tiles]:
        assert (again / "results" / name).read_bytes() == (built / "results" / name).read_bytes(), name
    first, second = (pd.read_csv(root / "results/linear/metrics.csv") for root in (built, again))
    timed = first.metric == "seconds_per_image"  # the one row that measures the machine
    pd.testing.assert_frame_equal(first[~timed], second[~timed])


def test_up_to_date_tree_has_nothing_to_do(built):
    assert "Nothing to be done" in snakemake(built, "-n")


def test_code_edit_reruns_exactly_the_affected_jobs(built):
    code = "\nLIMIT = 1  # an edit that changes the code\n"
    with edited(built / "src/sparsefield/baselines/interpolation.py", lambda text: text + code):
        plan = job_counts(snakemake(built, "-n"))
    # the classical approaches on images, and the biharmonic estimate with the DDO approach that reads it
    assert plan == {"estimate": 1, "train": 1, "reconstruct": 5, "sweep": 1, "evaluate": 5, "compare": 1, "all": 1}


def test_lowlight_code_edit_reruns_only_the_lowlight_jobs(built):
    code = "\nLIMIT = 1  # an edit that changes the code\n"
    targets = ("results/amplify/metrics.csv", "results/amplify_denoise/metrics.csv")
    with edited(built / "src/sparsefield/baselines/lowlight.py", lambda text: text + code):
        plan = job_counts(snakemake(built, "-n", *targets))
    assert plan == {"reconstruct": 2, "evaluate": 2}  # not the raw set, its tiles or anything else


def test_docstring_and_comment_edits_plan_nothing(built):
    """Fingerprints hash the code without docstrings or comments: explaining the code reruns nothing."""
    field = built / "src/sparsefield/methods/field/__init__.py"
    sampler = built / "src/sparsefield/sampling/flow.py"
    with edited(field, lambda text: text.replace('"""Family `field`', '"""(A docstring edit.) Family `field`', 1)), \
            edited(sampler, lambda text: text + "\n# a comment\n"):
        assert "Nothing to be done" in snakemake(built, "-n")


def test_new_objective_module_and_kind_plan_nothing(built):
    """A new family's files and its registry row leave every existing job's fingerprint alone."""
    objective = built / "src/sparsefield/objectives/blur.py"
    row = '    "blur": Kind("images", _FIELD, "a new kind", objective="sparsefield.objectives.blur:B"),\n'

    def add_row(text):
        return text.replace('    "amplify":', row + '    "amplify":', 1)

    with edited(objective, lambda _: '"""A new objective."""\n\n\nclass B:\n    pass\n'):
        with edited(built / "src/sparsefield/registry.py", add_row):
            assert "Nothing to be done" in snakemake(built, "-n")


def test_sampling_edit_plans_no_training(built, tmp_path):
    """Only the reconstruct rule and the sweep see `params.sample`: editing it never retrains."""
    config = yaml.safe_load((built / "tests/workflow/config.yaml").read_text())
    config["approaches"]["flow_tiny"]["params"]["sample"]["steps"] = 3
    plan = job_counts(dry_run_with(built, config, tmp_path / "sample.yaml"))
    assert plan == {"reconstruct": 1, "sweep": 1, "evaluate": 1, "compare": 1, "all": 1}


def test_reordered_config_plans_nothing(built, tmp_path):
    """The same settings with their keys in another order (a config re-dumped sorted) are the same settings."""
    config = yaml.safe_load((built / "tests/workflow/config.yaml").read_text())
    reordered = tmp_path / "sorted.yaml"
    reordered.write_text(yaml.safe_dump(config, sort_keys=True))
    assert reordered.read_text() != (built / "tests/workflow/config.yaml").read_text()
    cmd = [sys.executable, "-m", "snakemake", "-n", "--configfile", str(reordered), "--replace-workflow-config"]
    run = subprocess.run(cmd, cwd=built, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "Nothing to be done" in run.stdout + run.stderr, run.stdout + run.stderr


def test_corrupt_raw_file_fails_its_job_only(built, tmp_path, request):
    """--keep-going: the other captures finish; the broken one names its file and leaves no .pt."""
    work = copy_repo(request.config.rootpath, tmp_path)
    shutil.copytree(built / "results/raw", work / "results/raw")
    test_captures = shutil.ignore_patterns("1*", "metadata.json")  # these three run again
    shutil.copytree(built / "results/tiles", work / "results/tiles", ignore=test_captures)
    broken = work / "results/raw/tiny/Sony/short/10001_01_0.033s.dng"
    broken.write_bytes(broken.read_bytes()[:5000])  # truncated
    output = snakemake(work, "--cores", "2", "--keep-going", "results/tiles/tiny/metadata.json", check=False)
    started = [line.split()[-1] for line in output.splitlines() if line.startswith(("rule ", "localrule "))]
    assert started == ["demosaic:"] * 3  # the test captures: not the raw set, not the train captures
    tiles = sorted(p.name for p in (work / "results/tiles/tiny").glob("*.pt"))
    assert len(tiles) == 8 and "10001_01_0.033s.pt" not in tiles  # the two other test captures finished
    assert not (work / "results/tiles/tiny/metadata.json").exists()
    assert not list((work / "results/tiles/tiny").glob(".*"))  # no temporary file left
    log = (work / "results/logs/demosaic/tiny/10001_01_0.033s.log").read_text()
    assert "10001_01_0.033s.dng: not a readable raw file" in log.splitlines()[-1]


def test_report_is_self_contained(built):
    snakemake(built, "--report", "results/report.html")
    assert (built / "results/report.html").stat().st_size > 10_000


def test_slurm_profile_plans_without_a_cluster(workdir):
    """profiles/slurm plans with no --cores and no --workflow-profile none; train gets its GPU only where the
    device needs one (conda is the profile's deployment method; env-modules stands in where conda is absent)."""
    slurm = ("-n", "--profile", "profiles/slurm", "--software-deployment-method", "env-modules")
    cuda = planned_resources(snakemake(workdir, *slurm, "--config", "device=cuda"), "train")
    assert cuda and all("gpu=1" in line and "mem_mb=32000" in line for line in cuda if line.startswith("resources"))
    cpu = planned_resources(snakemake(workdir, *slurm, "--config", "device=cpu"), "train")
    assert cpu and all("gpu=0" in line for line in cpu if line.startswith("resources"))


def test_bad_config_stops_before_any_job(workdir, tmp_path):
    bad = tmp_path / "bad.yaml"
    text = (workdir / "tests/workflow/config.yaml").read_text()
    bad.write_text(text.replace("query_ratio: 0.2,", "query_ratio: 0.9,"))
    cmd = [sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad), "--replace-workflow-config"]
    run = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "config key schemes.io_20_20: context_ratio + query_ratio = 1.1 > 1" in run.stdout + run.stderr


def planned_resources(plan: str, rule: str) -> list[str]:
    """The `resources:` lines of every planned job of `rule` in a dry run's output."""
    lines, found = plan.splitlines(), []
    for i, line in enumerate(lines):
        if line.strip() in (f"rule {rule}:", f"localrule {rule}:"):
            block = lines[i + 1 : i + 12]
            found += [entry.strip() for entry in block if entry.strip().startswith(("resources:", "threads:"))]
    return found


def test_cpu_trainings_take_no_gpu_and_one_thread(workdir):
    """device: cpu gives learned jobs gpu=0, so --resources gpu=1 never serialises CPU trainings; threads
    are fixed per rule (no share of --cores), and a CUDA device gives them their GPU."""
    cpu = planned_resources(snakemake(workdir, "-n", "--config", "device=cpu"), "train")
    assert cpu and all("gpu=0" in line for line in cpu if line.startswith("resources:"))
    cuda = planned_resources(snakemake(workdir, "-n", "--config", "device=cuda"), "train")
    assert any("gpu=1" in line for line in cuda)
    assert not [line for line in cpu + cuda if line.startswith("threads:") and line != "threads: 1"]


def test_the_shared_tree_is_left_as_built(built, request):
    """Tests that edit the built tree restore it (run last: a leftover edit would show here)."""
    source = request.config.rootpath / "src/sparsefield"
    for path in source.rglob("*.py"):
        assert (built / "src/sparsefield" / path.relative_to(source)).read_bytes() == path.read_bytes(), path
    assert not (built / "src/sparsefield/objectives/blur.py").exists()


def test_a_learned_kind_on_raw_tiles_needs_no_rule_edit(workdir, tmp_path):
    """A kind that is learned per approach and reads tiles (a conditional restorer) plans train on the raw set's
    metadata.json, then reconstruct and evaluate, from a registry row and a config entry alone."""
    work = copy_repo(workdir, tmp_path / "repo")
    row = (
        '    "tiles_prior": Kind("tiles", _FIELD, "a learned kind on tiles", learned=True, '
        'objective="sparsefield.objectives.flow:FlowMatching", sampling="sparsefield.sampling.flow", '
        'samplers=("euler", "heun")),\n'
    )
    registry = work / "src/sparsefield/registry.py"
    registry.write_text(registry.read_text().replace('    "amplify":', row + '    "amplify":', 1))
    schema = work / "workflow/schemas/config.schema.yaml"
    text = schema.read_text().replace("amplify, amplify_denoise]", "amplify, amplify_denoise, tiles_prior]")
    schema.write_text(text.replace("amplify_denoise, edm_lowlight, edm_denoise]", "amplify_denoise, edm_lowlight, "
                                   "edm_denoise, tiles_prior]"))  # the kinds that read a raw set
    config = yaml.safe_load((work / "tests/workflow/config.yaml").read_text())
    params = config["approaches"]["flow_tiny"]["params"]
    config["approaches"]["prior_tiny"] = {"kind": "tiles_prior", "rawset": "tiny", "params": params}
    (work / "tests/workflow/config.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake(work, "-n", "results/prior_tiny/metrics.csv")
    counts = job_counts(plan)
    assert (counts["train"], counts["reconstruct"], counts["evaluate"]) == (1, 1, 1)
    train = plan[plan.index("rule train:") :].split("\n\n")[0]
    assert "results/tiles/tiny/metadata.json" in train and "results/prior_tiny/model.pt" in train


TOY_MODALITY = {  # a new kind of data (its reader, scorer and report section) and a family reading it
    "src/sparsefield/data/toy.py": '''"""reads "toy": a dataset's images and masks."""
from sparsefield.data.images.sets import read_masked

CHUNK = 4


def read_split(inputs, split):
    return read_masked(inputs["data"], inputs["masks"], split)
''',
    "src/sparsefield/scoring/toy.py": '''"""The toy modality's score: the mean's MAE."""
import numpy as np
import pandas as pd


def score(chunks, data):
    errors = [np.abs(chunk.mean - data.images[chunk.index] / 255.0).mean() for chunk in chunks]
    return pd.DataFrame([dict(metric="mae", region="all", estimator="mean", value=float(np.mean(errors)))])
''',
    "src/sparsefield/stages/sections/toy.py": '''"""The toy modality's section of comparison.md."""


def section(runs, table, context):
    rows = "".join(f"| {row.approach} | {row.value:.4f} |\\n" for row in table.itertuples())
    return "\\n## Toy modality\\n\\n| approach | MAE |\\n|---|---|\\n" + rows
''',
    "src/sparsefield/methods/toymean.py": '''"""Family `toymean`: every pixel of an image is the image's mean colour."""
from dataclasses import dataclass

import numpy as np

from sparsefield.samples import Reconstruction


@dataclass(frozen=True)
class Params:
    pass


def reconstruct(kind, params, data, **_):
    means = data.images.mean(axis=(1, 2), keepdims=True) / 255.0 * np.ones_like(data.images, dtype=np.float64)
    return Reconstruction(means[:, None], dict(nfe=0, seconds_per_image=0.0))
''',
}
TOY_ROWS = {
    "MODALITIES: dict[str, Modality] = {\n": (
        '    "toy": Modality("sparsefield.data.toy", "sparsefield.scoring.toy", "sparsefield.stages.sections.toy", '
        '("dataset", "scheme"), {"data": "results/data/{dataset}.h5", "masks": "results/masks/{dataset}/{scheme}.h5"}, '
        '{}, ("{dataset}", "{scheme}"), "n_images"),\n'),
    "KINDS: dict[str, Kind] = {\n": '    "toymean": Kind("toy", "sparsefield.methods.toymean", "mean colour"),\n',
}


def test_a_new_modality_and_family_run_with_no_rule_or_stage_edit(built, tmp_path):
    """A registry row for a new `reads` (its reader, scorer, report section, files, labels) and a family reading
    it: the built tree runs the new approach's reconstruct and evaluate jobs and the comparison, and nothing else;
    comparison.csv holds its score and comparison.md its section. No rule, stage or compare code is edited."""
    work = copy_repo(built, tmp_path / "repo")
    shutil.copytree(built / "results", work / "results")
    shutil.copytree(built / ".snakemake" / "metadata", work / ".snakemake" / "metadata")
    for name, text in TOY_MODALITY.items():
        (work / name).write_text(text)
    registry = work / "src/sparsefield/registry.py"
    text = registry.read_text()
    for anchor, row in TOY_ROWS.items():
        assert anchor in text
        text = text.replace(anchor, anchor + row, 1)
    registry.write_text(text)
    schema = work / "workflow/schemas/config.schema.yaml"
    kinds = "amplify, amplify_denoise]\n"
    schema.write_text(schema.read_text().replace(kinds, kinds.replace("]", ", toymean]"), 1))
    config = yaml.safe_load((work / "tests/workflow/config.yaml").read_text())
    config["approaches"]["toy_mean"] = {"kind": "toymean", "dataset": "builtin", "scheme": "cq_10_10"}
    (work / "tests/workflow/config.yaml").write_text(yaml.safe_dump(config))
    assert job_counts(snakemake(work, "-n")) == {"reconstruct": 1, "evaluate": 1, "compare": 1, "all": 1}
    snakemake(work, "--cores", "2")
    table = pd.read_csv(work / "results/comparison.csv")
    toy = table[table.approach == "toy_mean"]
    assert list(toy.metric) == ["mae"] and 0 < toy.value.iloc[0] < 0.5
    assert len(table) == len(pd.read_csv(built / "results/comparison.csv")) + 1
    assert "## Toy modality" in (work / "results/comparison.md").read_text()


def test_cuda_without_a_gpu_stops_before_any_job(workdir, tmp_path, request):
    """device: cuda on a machine with no GPU: a real run stops at once, naming the key and the fix, and writes nothing
    (a dry run still plans it: the cluster case, where the nodes have the GPUs)."""
    from sparsefield.config import has_nvidia_gpu

    if has_nvidia_gpu():
        pytest.skip("this machine has a GPU")
    work = copy_repo(request.config.rootpath, tmp_path)
    cmd = [sys.executable, "-m", "snakemake", "--configfile", "tests/workflow/config.yaml", "--replace-workflow-config",
           "--config", "device=cuda", "--cores", "2", "results/flow_tiny/metrics.csv"]
    run = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "config key device: cuda, but this machine shows no NVIDIA GPU" in run.stdout + run.stderr
    assert not (work / "results").exists()
    assert "rule train" in snakemake(work, "-n", "results/flow_tiny/metrics.csv", "--config", "device=cuda")


# ---- bad input: one line naming the file or key and the fix, before any job starts (tests/test_bad_input.py: the rest)


def run_with_config(cwd, text: str, path, *args) -> subprocess.CompletedProcess:
    """`snakemake *args` in `cwd` with the config file `path` (written from `text`) in place of the tiny config."""
    path.write_text(text)
    cmd = [sys.executable, "-m", "snakemake", "--configfile", str(path), "--replace-workflow-config", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_duplicate_config_key_is_refused_naming_file_key_and_line(workdir, tmp_path):
    """PyYAML keeps the last of two equal keys: the first approach would vanish without a word."""
    text = (
        "datasets:\n  builtin: {source: builtin, n_train: 8, n_test: 4, size: 16}\n"
        "schemes:\n  s: {context_ratio: 0.1, query_ratio: 0.1}\n"
        "approaches:\n"
        "  nearest: {kind: nearest, dataset: builtin, scheme: s}\n"
        "  linear: {kind: linear, dataset: builtin, scheme: s}\n"
        "  nearest: {kind: cubic, dataset: builtin, scheme: s}\n"  # line 8
        "evaluation:\n  n_images: 4\nfigures:\n  images: [0]\n"
    )
    run = run_with_config(workdir, text, tmp_path / "twice.yaml", "-n")
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert f"config file {tmp_path / 'twice.yaml'}: key approaches.nearest appears twice (lines 6 and 8)" in output


def test_merge_keys_are_not_duplicates(workdir, tmp_path):
    """YAML merge keys (`<<: *anchor` then an override, as config/config.yaml uses them) are not duplicate keys."""
    text = (
        "datasets:\n  builtin: {source: builtin, n_train: 8, n_test: 4, size: 16}\n"
        "schemes:\n  s: &s {context_ratio: 0.1, query_ratio: 0.1}\n  t: {<<: *s, context_ratio: 0.2}\n"
        "approaches:\n  nearest: {kind: nearest, dataset: builtin, scheme: t}\n"
        "evaluation:\n  n_images: 4\nfigures:\n  images: [0]\n"
    )
    run = run_with_config(workdir, text, tmp_path / "merged.yaml", "-n")
    assert run.returncode == 0, run.stdout + run.stderr


MISSING_PATHS = {  # a config naming a data path that is not there -> the key path its message names
    "sid_root": ("rawsets:\n  sid_sony: {kind: sid, root: MISSING, camera: Sony}\n"
                 "approaches:\n  amplify: {kind: amplify, rawset: sid_sony}\n", "rawsets.sid_sony.root"),
    "imagefolder": ("datasets:\n  photos: {source: imagefolder, path: MISSING, mode: resize}\n"
                    "schemes:\n  s: {context_ratio: 0.1, query_ratio: 0.1}\n"
                    "approaches:\n  linear: {kind: linear, dataset: photos, scheme: s}\n", "datasets.photos.path"),
    "cifar10": ("datasets:\n  cifar: {source: cifar10, path: MISSING, n_train: 10, n_test: 10}\n"
                "schemes:\n  s: {context_ratio: 0.1, query_ratio: 0.1}\n"
                "approaches:\n  linear: {kind: linear, dataset: cifar, scheme: s}\n", "datasets.cifar.path"),
    "multispectral_folder": ("datasets:\n  plots: {source: multispectral_folder, path: MISSING, bands: [a, b]}\n"
                             "approaches:\n  pca: {kind: pca, dataset: plots, params: {components: 1}}\n",
                             "datasets.plots.path"),
}


@pytest.mark.parametrize("case", sorted(MISSING_PATHS))
def test_missing_data_path_stops_before_any_job_naming_its_key(workdir, tmp_path, case):
    text, key = MISSING_PATHS[case]
    missing = tmp_path / "not_here"
    run = run_with_config(workdir, text.replace("MISSING", str(missing)) + "figures:\n  images: []\n",
                          tmp_path / "config.yaml", "-n")
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert f"config key {key}: {missing} does not exist" in output
    assert "InputFunctionException" not in output and "Building DAG of jobs" not in output


def test_missing_sid_list_file_names_the_raw_set(workdir, tmp_path):
    root = tmp_path / "SID"
    (root / "Sony").mkdir(parents=True)
    text = MISSING_PATHS["sid_root"][0].replace("MISSING", str(root)) + "figures:\n  images: []\n"
    run = run_with_config(workdir, text, tmp_path / "config.yaml", "-n")
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert f"config key rawsets.sid_sony.root: {root} holds no Sony_train_list.txt" in output
    assert "InputFunctionException" not in output


def test_a_data_jobs_reason_reaches_the_console(workdir, tmp_path):
    """A data job's one-line reason is printed where the user looks, not only as the last line of its log."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(b"not an image")
    text = MISSING_PATHS["imagefolder"][0].replace("MISSING", str(folder)) + "figures:\n  images: []\n"
    run = run_with_config(workdir, text, tmp_path / "config.yaml", "--cores", "1", "results/data/photos.h5")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    reason = f"imagefolder: cannot read {folder / 'a.png'}"
    assert f"error: {reason}" in output and "(rule images, log results/logs/images/photos.log)" in output, output
    assert not (workdir / "results/data/photos.h5").exists()
