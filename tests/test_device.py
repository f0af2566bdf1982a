"""The job's device: CUDA asked for and absent is a one-line error; concurrent GPU jobs each claim a GPU of their own
(a faked machine of 3 GPUs: torch.cuda answers as if they were there)."""

import subprocess
import sys
import textwrap

import pytest
import torch

from sparsefield import device as dev
from sparsefield.config import needs_gpu
from sparsefield.device import DeviceError, claim_gpu, release_gpus, resolve_device

FAKE = """
import sys, time, torch
from sparsefield import device as dev
torch.cuda.is_available = lambda: True
torch.cuda.set_device = lambda index: None
dev.visible_gpus = lambda: ["GPU-a", "GPU-b", "GPU-c"]
print(dev.resolve_device("cuda", job=sys.argv[1]), flush=True)
sys.stdin.readline()  # hold the GPU until told
"""


@pytest.fixture
def locks(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSEFIELD_GPU_LOCKS", str(tmp_path / "locks"))
    yield tmp_path / "locks"
    release_gpus()


@pytest.fixture
def three_gpus(monkeypatch, locks):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.setattr(dev, "visible_gpus", lambda: ["GPU-a", "GPU-b", "GPU-c"])
    return locks


def test_cuda_without_a_gpu_is_one_line_naming_the_job_and_the_fix(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError) as err:
        resolve_device("cuda", job="train flow_matching")
    message = str(err.value)
    assert message.startswith("train flow_matching: device: cuda, but this machine has no GPU") and "\n" not in message
    assert "set device: cpu" in message
    assert resolve_device("auto") == torch.device("cpu")  # auto: the CPU, by definition
    with pytest.raises(DeviceError, match="device: cuda:1, but this machine has 0 GPUs"):
        resolve_device("cuda:1", job="reconstruct x")


def test_concurrent_gpu_jobs_take_different_gpus(three_gpus):
    """Three jobs at once (three processes) get cuda:0, cuda:1, cuda:2; a fourth is told there are only three."""
    jobs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(FAKE), f"train a{i}"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(3)]
    try:
        claimed = [job.stdout.readline().strip() for job in jobs]
        assert sorted(claimed) == ["cuda:0", "cuda:1", "cuda:2"]
        with pytest.raises(DeviceError, match=r"train a3: all 3 GPUs .* held .* --resources gpu=3\)$"):
            resolve_device("cuda", job="train a3")
        jobs[1].communicate("\n", timeout=30)  # one job ends: its GPU is free again
        assert str(resolve_device("cuda", job="train a4")) == claimed[1]
    finally:
        for job in jobs:
            if job.poll() is None:
                job.communicate("\n", timeout=30)


def test_a_freed_gpu_is_claimed_again(three_gpus):
    assert claim_gpu(["GPU-a", "GPU-b"], job="first", folder=three_gpus / "other") == 0
    assert claim_gpu(["GPU-a", "GPU-b"], job="again", folder=three_gpus / "other") == 0  # this process holds it
    release_gpus()
    assert claim_gpu(["GPU-b", "GPU-a"], job="next", folder=three_gpus / "other") == 0  # by UUID, not by index


def test_auto_asks_a_cluster_for_no_gpu():
    assert needs_gpu("cuda", local=False) == 1 and needs_gpu("cuda:1") == 1
    assert needs_gpu("auto", local=False) == 0 and needs_gpu("cpu") == 0


def test_train_stage_fails_before_writing_anything(tmp_path, monkeypatch):
    """device: cuda on a machine without a GPU: the stage stops before reading data or making its run folder."""
    from sparsefield.stages.train import train

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    settings = {"model": {"backbone": {"ch": 8, "ch_mult": [1, 2], "num_res_blocks": 1, "z_channels": 4}},
                "train": {"steps": 2, "batch_size": 2, "lr": 1e-3}, "evaluation": {"every": 1, "images": 1}}
    with pytest.raises(DeviceError, match="^train v: device: cuda"):
        train({}, tmp_path / "v", approach="v", kind="vae", settings=settings, device="cuda")
    assert not (tmp_path / "v").exists()
