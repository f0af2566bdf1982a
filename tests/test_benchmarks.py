"""Every benchmark imports the public stage / method API and runs (tiny sizes here; timing is theirs to print)."""

import importlib.util

import pytest


def benchmark(repo_root, name):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", repo_root / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.main)
    return module


def test_every_benchmark_is_covered(repo_root):
    assert {p.stem for p in (repo_root / "benchmarks").glob("*.py")} == {"masks", "demosaic", "train_throughput",
                                                                         "mean_of_k", "ddo_blur"}  # fmt: skip


def test_masks_benchmark_runs(repo_root, capsys):
    benchmark(repo_root, "masks").main(["--images", "200", "--repeats", "1"])
    assert "masks/s" in capsys.readouterr().out


def test_demosaic_benchmark_runs(repo_root, capsys):
    benchmark(repo_root, "demosaic").main(["--size", "64", "--repeats", "1", "--tile", "32"])
    assert "MP/s" in capsys.readouterr().out


def test_train_throughput_benchmark_runs(repo_root, monkeypatch, capsys):
    monkeypatch.chdir(repo_root)
    medians = benchmark(repo_root, "train_throughput").main(
        ["--steps", "2", "--repeats", "1", "--threads", "1", "--side-by-side", "0"])  # fmt: skip
    assert all(value > 0 for value in medians.values()) and "ratio full loop / bare" in capsys.readouterr().out


def test_train_throughput_benchmark_runs_a_ddo_approach(repo_root, monkeypatch, capsys):
    monkeypatch.chdir(repo_root)
    medians = benchmark(repo_root, "train_throughput").main(
        ["--approach", "ddo", "--steps", "1", "--repeats", "1", "--threads", "1", "--side-by-side", "0"])  # fmt: skip
    assert all(value > 0 for value in medians.values()) and "ddo (config/config.yaml)" in capsys.readouterr().out


def test_mean_of_k_benchmark_names_a_missing_model(repo_root, monkeypatch, tmp_path):
    monkeypatch.chdir(repo_root)
    module = benchmark(repo_root, "mean_of_k")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text((repo_root / "config/config.yaml").read_text())
    (tmp_path / "workflow/schemas").mkdir(parents=True)
    schema = "workflow/schemas/config.schema.yaml"
    (tmp_path / schema).write_text((repo_root / schema).read_text())
    with pytest.raises(SystemExit, match=r"results/flow_matching/model\.pt: not found"):
        module.main(["flow_matching"])
    with pytest.raises(SystemExit, match="is not a learned field approach"):
        module.main(["linear"])


def test_ddo_blur_benchmark_caps_below_no_blur(repo_root, capsys):
    rows = benchmark(repo_root, "ddo_blur").main(["--images", "4", "--blur-min", "0.05", "0"])
    assert rows[("test", 0.05)] < rows[("test", 0.0)] and "σ_min" in capsys.readouterr().out
