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
    expected = {"masks", "demosaic", "train_throughput", "mean_of_k", "ddo_blur", "edm_posterior", "device",
                "paper_rehearsal"}  # paper_rehearsal: tests/workflow/test_paper.py prices its tiny runs
    assert {p.stem for p in (repo_root / "benchmarks").glob("*.py")} == expected


def test_masks_benchmark_runs(repo_root, capsys):
    benchmark(repo_root, "masks").main(["--images", "200", "--repeats", "1"])
    assert "masks/s" in capsys.readouterr().out


def test_demosaic_benchmark_runs(repo_root, capsys):
    benchmark(repo_root, "demosaic").main(["--size", "64", "--repeats", "1", "--tile", "32"])
    assert "MP/s" in capsys.readouterr().out


def test_train_throughput_benchmark_runs(repo_root, monkeypatch, capsys):
    monkeypatch.chdir(repo_root)
    medians = benchmark(repo_root, "train_throughput").main(
        ["--steps", "2", "--repeats", "1", "--threads", "1", "--side-by-side", "0"])
    assert all(value > 0 for value in medians.values()) and "ratio full loop / bare" in capsys.readouterr().out


def test_train_throughput_benchmark_runs_a_ddo_approach(repo_root, monkeypatch, capsys):
    monkeypatch.chdir(repo_root)
    medians = benchmark(repo_root, "train_throughput").main(
        ["--approach", "ddo", "--steps", "1", "--repeats", "1", "--threads", "1", "--side-by-side", "0"])
    assert all(value > 0 for value in medians.values()) and "ddo (config/config.yaml)" in capsys.readouterr().out


def test_train_throughput_benchmark_runs_a_multispectral_vae(repo_root, monkeypatch, capsys):
    monkeypatch.chdir(repo_root)
    medians = benchmark(repo_root, "train_throughput").main(
        ["--approach", "vae_masked", "--steps", "1", "--repeats", "1", "--threads", "1", "--side-by-side", "0"]
    )
    assert all(value > 0 for value in medians.values()) and "vae_masked (config/config.yaml)" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no approach 'vae'"):
        benchmark(repo_root, "train_throughput").main(["--approach", "vae"])


def test_device_benchmark_trains_every_family_through_the_dataloader(repo_root, monkeypatch, capsys):
    monkeypatch.chdir(repo_root)
    rows = benchmark(repo_root, "device").main(
        ["--config", "config/config.yaml", "--seconds", "0.2", "--images", "64", "--workers", "1"]
    )
    assert [row["name"].split(":")[0] for row in rows] == ["field", "ddo", "vae", "prior"]
    for row in rows:  # on the CPU autocast is off, as in the training loop
        assert row["samples_per_s"] > 0 and row["peak_gib"] > 0 and row["dtype"] == "float32" and row["workers"] == 1
    assert "samples/s" in capsys.readouterr().out


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


def test_edm_posterior_benchmark_runs(repo_root, tmp_path, capsys):
    """On a tiny dataset, masks and an untrained prior written where the workflow puts them."""
    import torch
    import yaml

    from sparsefield.data.images.masks import build_masks
    from sparsefield.data.images.sources import build_images
    from sparsefield.methods import edm_prior

    (tmp_path / "results/masks/tiny").mkdir(parents=True)
    build_images(tmp_path / "results/data/tiny.h5", source="builtin", n_train=8, n_test=4, size=8, seed=0)
    build_masks(tmp_path / "results/data/tiny.h5", tmp_path / "results/masks/tiny/cq.h5", scheme="cq",
                context_ratio=0.1, query_ratio=0.1, seed=0)
    backbone = {"ch": 8, "ch_mult": [1, 2], "num_blocks": 1, "attention": True, "dropout": 0.0}
    net = edm_prior.build(edm_prior.Backbone(**{**backbone, "ch_mult": (1, 2)}), sigma_data=0.5, mean=[0.0] * 3)
    (tmp_path / "results/priors/p").mkdir(parents=True)
    config = dict(backbone=backbone, sigma_data=0.5, mean=[0.0] * 3, channels=3)
    torch.save({"state_dict": net.state_dict(), "config": config}, tmp_path / "results/priors/p/model.pt")
    prior = {"dataset": "tiny", "params": {"backbone": backbone, "train": {"steps": 1, "batch_size": 1, "lr": 1e-3}}}
    approach = {"kind": "edm_sparse", "dataset": "tiny", "scheme": "cq", "prior": "p",
                "params": {"sample": {"sampler": "diffpir", "steps": 2, "n_samples": 2}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "datasets": {"tiny": {"source": "builtin", "n_train": 8, "n_test": 4, "size": 8}},
        "schemes": {"cq": {"context_ratio": 0.1, "query_ratio": 0.1}}, "approaches": {"e": approach},
        "priors": {"p": prior}, "evaluation": {"n_images": 2}}))
    rows = benchmark(repo_root, "edm_posterior").main(
        ["--config", str(tmp_path / "config.yaml"), "--root", str(tmp_path), "--set", "steps=1,2"])
    assert [(row["steps"], row["nfe"]) for row in rows] == [(1, 1), (2, 2)]
    assert "x the 60 s budget" in capsys.readouterr().out
