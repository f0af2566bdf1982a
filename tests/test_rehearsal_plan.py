"""The rehearsal's overlay (a paper study, its data jobs whole, its learned jobs a few steps) and its measurements."""

import copy

import pandas as pd
import pytest
import yaml
from snakemake.utils import update_config

from sparsefield.config import approach_params, validate_config
from sparsefield.registry import KINDS
from sparsefield.rehearsal.plan import STUDIES, rehearsal_overlay
from sparsefield.rehearsal.price import jobs, scaled
from sparsefield.training.schedule import training_steps


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_the_overlay_keeps_the_paper_sizes_and_shortens_the_learned_jobs(repo_root, study):
    paper = yaml.safe_load((repo_root / STUDIES[study]).read_text())
    overlay = rehearsal_overlay(paper, prior_batch={"raw_sid": (2, 1)})
    config = copy.deepcopy(paper)
    update_config(config, copy.deepcopy(overlay))  # as Snakemake merges a second --configfile
    schema = repo_root / "workflow/schemas/config.schema.yaml"
    validate_config(config, schema)
    paper = validate_config(paper, schema)  # its defaults filled, as the merged config's
    assert config["device"] == "cpu" and paper["device"] == "cuda"
    bound = approach_params(config)
    for name, entry in config["approaches"].items():
        row, params = KINDS[entry["kind"]], bound[name]
        if row.learned:
            assert training_steps(1000, params.train.batch_size, steps=params.train.steps) == 2
            assert params.model == approach_params(paper)[name].model  # the paper's network
            assert params.train.batch_size == paper["approaches"][name]["params"]["train"]["batch_size"]
        if row.learned or row.posterior:
            sample = getattr(params, "sample", None)
            assert sample is None or sample.images == 2
        else:
            assert entry == paper["approaches"][name]  # a data job: the paper's, on the whole data
    for name, prior in config.get("priors", {}).items():
        assert prior["params"]["train"]["steps"] == 2 and prior["params"]["backbone"] == paper["priors"][name][
            "params"]["backbone"]
    assert config.get("rawsets") == paper.get("rawsets") and config.get("datasets") == paper.get("datasets")


def test_jobs_reads_benchmark_files_and_the_outputs_sizes(tmp_path):
    results = tmp_path / "results"
    for rule, job, seconds in (("demosaic", "sid/00001_00_10s", 5.0), ("demosaic", "sid/10001_00_0.1s", 7.0),
                               ("compare", None, 3.0)):
        path = results / "benchmarks" / rule / f"{job}.tsv" if job else results / "benchmarks" / f"{rule}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                        f"{seconds}\t0:00:0{int(seconds)}\t900.5\t1\t1\t1\t0\t0\t90\t{seconds}\n")
    (results / "tiles/sid").mkdir(parents=True)
    (results / "tiles/sid/00001_00_10s.pt").write_bytes(b"x" * 2**20)
    (results / "tiles/sid/00001_00_10s.json").write_bytes(b"x" * 2**19)
    table = jobs(results)
    assert list(table.rule) == ["compare", "demosaic", "demosaic"] and list(table.job)[0] == "-"
    assert table.peak_rss_mb.tolist() == [900.5] * 3 and table.seconds.tolist() == [3.0, 5.0, 7.0]
    assert table.written_mb.tolist() == [0.0, 1.5, 0.0]  # the capture's .pt and .json; the other wrote nothing
    seconds = pd.Series([5.0, 7.0], index=["demosaic", "demosaic"])
    assert scaled(seconds, pd.Series([10.0, 10.0], index=seconds.index)).tolist() == [5.0, 25.0]  # start-up 5 s
