"""The paper configuration's DAG (config/paper/*.yaml, the three studies together) on tiny data in the real formats:
CIFAR-10's python batches, SID's Sony layout (DNG content under .ARW names), leaf TIFF stacks; tiny networks (the
rehearsal overlay with tiny=True). Then each study on its own: a run with one study's data alone completes."""

import importlib.util
import subprocess
import sys

import h5py
import pandas as pd
import pytest
import yaml
from test_workflow import copy_repo

from sparsefield.rehearsal import data
from sparsefield.rehearsal.plan import STUDIES, rehearsal_overlay

TINY_RAW = {"tile_size": 64, "stride": 64}  # scenes of 128 x 192: 6 tiles a capture


def snakemake(cwd, configs, *args):
    cmd = [sys.executable, "-m", "snakemake", "--configfile", *map(str, configs), "--replace-workflow-config", *args]
    run = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"{' '.join(cmd)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-6000:]}"
    return run.stdout + run.stderr


def overlay(work, studies):
    """The tiny overlay of `studies` (merged), written beside them (as overlay.yaml, the rehearsal's name, for one
    study); the config files to pass."""
    configs = [work / STUDIES[study] for study in studies]
    merged = {"approaches": {}, "priors": {}}
    for path in configs:
        config = yaml.safe_load(path.read_text())
        merged["approaches"].update(config["approaches"])
        merged["priors"].update(config.get("priors") or {})
        merged.setdefault("datasets", {}).update(config.get("datasets") or {})
        merged.setdefault("rawsets", {}).update(config.get("rawsets") or {})
    paths = {"sid_sony": TINY_RAW, "leaves": {"max_value": data.LEAF_MAX_VALUE},
             "cifar10": {"n_train": 300, "n_test": 60}}
    tiny = rehearsal_overlay(merged, paths=paths, tiny=True)
    tiny["evaluation"] = {"n_images": 20}
    path = work / ("overlay.yaml" if len(studies) == 1 else f"tiny_{'_'.join(studies)}.yaml")
    path.write_text(yaml.safe_dump(tiny))
    return [*configs, path]


@pytest.fixture(scope="module")
def paper(tmp_path_factory, request):
    work = copy_repo(request.config.rootpath, tmp_path_factory.mktemp("paper"))
    data.write_cifar10(work / "data/cifar10", n_train=300, n_test=60)
    data.write_sid_sony(work / "data/SID", n_train=1, n_val=1, n_test=1, ratios=(100, 300), height=128, width=192)
    data.write_leaf_stacks(work / "data/leaves", n_files=4, height=256, width=256)
    snakemake(work, overlay(work, list(STUDIES)), "--cores", "2", "--resources", "gpu=1")
    return work


def test_the_paper_dag_runs_on_the_real_formats(paper):
    table = pd.read_csv(paper / "results/comparison.csv")
    config = {}
    for study in STUDIES.values():
        config.update(yaml.safe_load((paper / study).read_text())["approaches"])
    assert set(table.approach) == set(config)  # every approach of the three studies is scored
    assert set(table.dataset) == {"cifar10", "sid_sony", "leaves"}
    markdown = (paper / "results/comparison.md").read_text()
    assert "## cifar10 · cq_10_10" in markdown and "# Low light" in markdown and "# Multispectral leaves" in markdown
    low = table[(table.approach == "amplify") & (table.metric == "n_images")]
    assert low.value.sum() == 2 * 6  # every test pair: x100 and x300, 6 tiles each
    dps = table[(table.approach == "edm_lowlight_dps") & (table.metric == "n_images")]
    assert dps.value.sum() == 2  # its own sample.images of them
    raws = sorted(p.stem for p in (paper / "data/SID/Sony").rglob("*.ARW"))  # 3 scenes: a long, x100 and x300
    assert len(raws) == 9 and raws == sorted(p.stem for p in (paper / "results/tiles/sid_sony").glob("*.pt"))


def test_each_study_runs_on_its_own_data(paper, tmp_path, request):
    """A user with one data set: the study alone plans and completes, comparison.md included; the rehearsal
    benchmark prices the run (every job a row, the units it counted from the run's own outputs)."""
    spec = importlib.util.spec_from_file_location("paper_rehearsal", request.config.rootpath / "benchmarks" /
                                                  "paper_rehearsal.py")
    rehearsal = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rehearsal)
    for study, folder in (("sid", "SID"), ("leaves", "leaves")):
        work = copy_repo(request.config.rootpath, tmp_path / study)
        (work / "data").mkdir()
        (work / "data" / folder).symlink_to(paper / "data" / folder)
        snakemake(work, overlay(work, [study]), "--cores", "2", "--resources", "gpu=1")
        markdown = (work / "results/comparison.md").read_text()
        assert ("# Low light" in markdown) == (study == "sid")
        assert ("# Multispectral" in markdown) == (study == "leaves")
        priced = rehearsal.main([study, "--workdir", str(work), "--report-only"])
        n_jobs = len(list((work / "results/benchmarks").rglob("*.tsv")))
        assert priced.startswith(f"# Rehearsal of config/paper/{study}.yaml on this CPU: {n_jobs} jobs")
        assert "- data jobs: " in priced and "not measured on a GPU" in priced
        results = work / "results"
        table = rehearsal.jobs(results)
        units = rehearsal.units(study, table, results, rehearsal.paper_config(study),
                                rehearsal.paper_config(study, work)).join(table)
        trained = units[units.rule.isin(["train", "prior"])]
        assert len(trained) and (trained.unit == "training example").all()
        assert (trained.done == 2 * 4).all()  # 2 updates of the tiny batch of 4
        if study == "leaves":
            with h5py.File(results / "data/leaves.h5") as f:
                n_tiles = len(f["train/images"]) + len(f["test/images"])
            assert units[units.rule == "images"].done.tolist() == [n_tiles]
        else:
            assert units[units.rule == "tiles"].done.tolist() == [9]  # 3 scenes: a long, x100 and x300
