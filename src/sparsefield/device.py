"""The torch device of a job (the config's `device:`), and one GPU per concurrent job.

    auto      CUDA when this machine has a GPU, else the CPU (a local run's choice; on a cluster the
              workflow asks no job for a GPU with `auto`: set `cuda` to have the jobs get one)
    cuda      a GPU, or a one-line `DeviceError` naming the job and the fix: never a silent CPU run
    cuda:N    that GPU; cpu, mps as torch reads them

Several GPU jobs on one machine (`snakemake --resources gpu=N` runs N at once) each take a GPU of
their own: a job claims the first GPU no other sparsefield job holds, with an exclusive `flock` on a
lock file named by the GPU's UUID in a node-local folder, held until the process ends (a killed job
releases it too). Under a scheduler that isolates GPUs (SLURM's cgroups) every job sees only its
own, whose UUID no other job's is, so the same claim is right there: no index arithmetic, no
CUDA_VISIBLE_DEVICES to trust.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

import torch

_HELD: dict[str, int] = {}  # lock file -> open descriptor, for the life of the process


class DeviceError(RuntimeError):
    """The job's device is not there; the message names the job and the fix."""


def lock_dir() -> Path:
    """The node-local folder of the GPU lock files (per user)."""
    default = Path(tempfile.gettempdir()) / f"sparsefield-gpus-{os.getuid()}"
    return Path(os.environ.get("SPARSEFIELD_GPU_LOCKS") or default)


def visible_gpus() -> list[str]:
    """The UUIDs of the GPUs this process sees, in CUDA's index order (empty without CUDA)."""
    if not torch.cuda.is_available():
        return []
    return [str(torch.cuda.get_device_properties(i).uuid) for i in range(torch.cuda.device_count())]


def claim_gpu(uuids: list[str], *, job: str, folder: Path | None = None) -> int:
    """The index of the first GPU of `uuids` that no other job holds, now held by this process.

    Raises:
        DeviceError: every GPU is held by another job (more GPU jobs than GPUs: `--resources gpu=N` too high).
    """
    folder = lock_dir() if folder is None else folder
    folder.mkdir(parents=True, exist_ok=True)
    for index, uuid in enumerate(uuids):
        path = str(folder / f"{uuid}.lock")
        if path in _HELD:  # this process holds it already (a second stage in one process)
            return index
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {job}\n".encode())
        _HELD[path] = fd
        return index
    n = len(uuids)
    raise DeviceError(f"{job}: all {n} GPUs of this machine are held by other sparsefield jobs; run at most {n} GPU "
                      f"jobs at once (snakemake --resources gpu={n})")


def release_gpus() -> None:
    """Give back every GPU this process holds (for tests; a job's process exit does the same)."""
    while _HELD:
        os.close(_HELD.popitem()[1])


def resolve_device(device: str | torch.device, *, job: str = "this job") -> torch.device:
    """The torch device of `device` (module docstring), a GPU claimed for this job where it is CUDA.

    Raises:
        DeviceError: `cuda` asked for on a machine where torch sees no GPU, or `cuda:N` beyond its GPUs.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    if device in ("auto", "cuda"):
        gpus = visible_gpus()
        if not gpus:
            raise DeviceError(f"{job}: device: cuda, but this machine has no GPU that torch can use; run it on "
                              "a GPU node (the cluster profile asks for one with device: cuda), or set device: cpu")
        index = claim_gpu(gpus, job=job)
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    resolved = torch.device(device)
    if resolved.type == "cuda" and (resolved.index or 0) >= len(visible_gpus()):
        raise DeviceError(f"{job}: device: {device}, but this machine has {len(visible_gpus())} GPUs that torch can "
                          "use; name one of them, or set device: cuda")
    return resolved
