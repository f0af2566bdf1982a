"""Atomic writes: nothing half-written looks complete, and killed jobs leave nothing behind for long."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sparsefield.io import atomic_path, remove_stale_temporaries

posix_only = pytest.mark.skipif(os.name != "posix", reason="PID probing with os.kill(pid, 0) is POSIX only")


def dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_atomic_path_renames_on_success_and_cleans_up_on_failure(tmp_path):
    out = tmp_path / "sub" / "out.txt"
    with atomic_path(out) as tmp:
        assert tmp.parent == out.parent and tmp.name == f".out.txt.tmp-{os.getpid()}"
        tmp.write_text("whole")
    assert out.read_text() == "whole"
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed halfway")
    assert out.read_text() == "whole" and sorted(p.name for p in out.parent.iterdir()) == ["out.txt"]


@posix_only
def test_stale_temporary_of_a_dead_job_is_removed_when_the_path_is_next_written(tmp_path):
    out = tmp_path / "tiles.pt"
    stale = tmp_path / f".tiles.pt.tmp-{dead_pid()}"
    live = tmp_path / f".tiles.pt.tmp-{os.getppid()}"  # the parent (pytest's shell or runner) is alive
    other = tmp_path / f".other.pt.tmp-{dead_pid()}"  # another output's temporary: not this write's business
    odd = tmp_path / ".tiles.pt.tmp-notapid"
    for path in (stale, live, other, odd):
        path.write_bytes(b"x" * 1000)
    with atomic_path(out) as tmp:
        assert not stale.exists()  # gone as soon as the write starts
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"new"
    assert live.exists() and other.exists() and odd.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, live.name, other.name, odd.name])


@posix_only
def test_remove_stale_temporaries_reports_what_it_removed(tmp_path):
    out = tmp_path / "a[1].h5"  # glob metacharacters in the name are matched literally
    stale = tmp_path / f".a[1].h5.tmp-{dead_pid()}"
    lookalike = tmp_path / f".a1.h5.tmp-{dead_pid()}"  # what an unescaped glob "a[1].h5" would match
    for path in (stale, lookalike):
        path.write_bytes(b"x")
    assert remove_stale_temporaries(out) == [stale] and not stale.exists() and lookalike.exists()
    assert remove_stale_temporaries(tmp_path / "missing" / "b.h5") == []  # no folder yet: nothing to do


def test_atomic_directory_replaces_the_folder_whole_or_not_at_all(tmp_path):
    target = tmp_path / "captures"
    target.mkdir()
    (target / "old.dng").write_text("old")
    with atomic_path(target, directory=True) as folder:
        assert folder.is_dir() and not list(folder.iterdir()) and folder != target
        (folder / "new.dng").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.dng"]
    with pytest.raises(RuntimeError), atomic_path(target, directory=True) as folder:
        (folder / "half.dng").write_text("half")
        raise RuntimeError("killed")
    assert sorted(p.name for p in target.iterdir()) == ["new.dng"]  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["captures"]  # no temporary folder left
