"""The real DAG on tiny data through profiles/slurm on a real SLURM, in a copy of the repo.

`.ci/setup-slurm.sh` (run by `.ci/run` as root) sets up a single-node SLURM with accounting.
Select with `pytest -m slurm`. Skips only when `sbatch` is not on PATH: SLURM installed but
not answering is a failure. A site profile given after profiles/slurm fits it to the node
(partition, account, at most the node's CPUs and little memory, conda off, fast polling).
"""

import getpass
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from test_workflow import copy_repo, job_counts

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(shutil.which("sbatch") is None, reason="sbatch is not on PATH: no SLURM on this machine"),
]

SUBMITTED = re.compile(r"^Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (.+)\)\.$", re.M)
RULE_LINE = re.compile(r"^\s*(localrule|rule) (\w+):$", re.M)


def slurm(*cmd):
    """Output of a SLURM client command; fails the test (never skips) when SLURM does not answer."""
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(cmd)} timed out: SLURM is installed but not answering (.ci/setup-slurm.sh)")
    if run.returncode != 0:
        why = (run.stdout + run.stderr).strip()
        pytest.fail(f"{' '.join(cmd)} failed: SLURM is installed but not usable (.ci/setup-slurm.sh):\n{why}")
    return run.stdout.strip()


@pytest.fixture(scope="module")
def node():
    """Partition, account, CPUs and memory (MiB) of the SLURM node jobs go to."""
    slurm("scontrol", "ping")
    partitions = slurm("sinfo", "-h", "-o", "%P").split()
    partition = os.environ.get("SLURM_PARTITION") or next((p[:-1] for p in partitions if p.endswith("*")), None)
    assert partition, f"no default partition in {partitions}; set SLURM_PARTITION"
    user = getpass.getuser()
    accounts = slurm("sacctmgr", "-n", "-P", "show", "assoc", "where", f"user={user}", "format=account").split()
    accounts = sorted(set(accounts), key=lambda a: a == "root")  # SLURM's own root account last
    account = os.environ.get("SLURM_ACCOUNT") or next(iter(accounts), None)
    assert account, f"user {user} is in no SLURM account (sacctmgr); set SLURM_ACCOUNT"
    sizes = [line.split() for line in slurm("sinfo", "-h", "-N", "-p", partition, "-o", "%c %m %t").splitlines()]
    up = [(int(cpus), int(mem)) for cpus, mem, state in sizes if state.rstrip("*~#") in ("idle", "mix", "alloc")]
    assert up, f"no node of partition {partition} is up: {sizes}"
    cpus, mem = max(up)
    return {"partition": partition, "account": account, "cpus": cpus, "mem_mb": mem}


def site_profile(slurm_profile, node, folder):
    """profiles/slurm fitted to this node; later profiles replace whole top-level keys, so the
    ones changed here are copied from profiles/slurm and edited."""
    base = yaml.safe_load(slurm_profile.read_text())
    mem_mb = min(2000, node["mem_mb"] // (2 * node["cpus"]))
    site = {
        "default-resources": {
            **base.get("default-resources", {}),
            "slurm_partition": node["partition"],
            "slurm_account": node["account"],
            "mem_mb": mem_mb,
            "runtime": 30,
        },
        "software-deployment-method": "env-modules",  # conda off; no rule here uses envmodules
        "retries": 0,  # a failure shows, not a retry
        "latency-wait": 5,
        "slurm-init-seconds-before-status-checks": 2,  # first status check after 2 s, not 40
        "slurm-keep-successful-logs": True,  # the SLURM logs show which rules each job ran
    }
    if base.get("set-threads"):  # sbatch --cpus-per-task: at most the node's CPUs
        site["set-threads"] = {rule: min(n, node["cpus"]) for rule, n in base["set-threads"].items()}
    if base.get("set-resources"):
        site["set-resources"] = {
            rule: {**res, **({"mem_mb": min(res["mem_mb"], mem_mb)} if "mem_mb" in res else {}), "runtime": 30}
            for rule, res in base["set-resources"].items()
        }
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(site, sort_keys=False))
    return folder


def rules_in(log):
    """Rules a SLURM job ran, from its log: `rule_<rule>/...` or a group job's own output."""
    parts = Path(log).parts
    top = parts[parts.index("slurm_logs") + 1]
    if top.startswith("rule_"):
        return [top.removeprefix("rule_")]
    return [rule for kind, rule in RULE_LINE.findall(Path(log).read_text()) if kind == "rule"]


def test_dag_runs_under_slurm(node, tmp_path, request):
    work = copy_repo(request.config.rootpath, tmp_path / "repo")
    site = site_profile(work / "profiles/slurm/config.yaml", node, tmp_path / "site")
    cmd = [  # as a user runs it: profiles/default (the workflow profile) is loaded on top, key by key
        sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "--profile", str(site),
        "--configfile", "tests/workflow/config.yaml", "--replace-workflow-config",
    ]
    run = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=1800)
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"{' '.join(cmd)} failed:\n{output[-20000:]}"
    assert (work / "results/comparison.csv").exists()

    planned = job_counts(output)  # every job of the run, local ones included
    lines = RULE_LINE.findall(output)  # one per job the main process ran (localrule) or submitted (rule)
    assert Counter(rule for _, rule in lines) == planned
    local = Counter(rule for kind, rule in lines if kind == "localrule")
    remote = Counter(rule for kind, rule in lines if kind == "rule")
    assert remote["train"] == planned["train"] >= 1 and not local["train"]

    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)
    submitted = {slurm_id: log for _, slurm_id, log in SUBMITTED.findall(output)}
    rows = slurm("sacct", "-n", "-X", "-P", "--name", run_id, "-S", "now-1days",
                 "--format=JobIDRaw,Comment,State,AllocCPUS")
    table = [row.split("|") for row in rows.splitlines()]
    states = {slurm_id: (comment, state) for slurm_id, comment, state, _ in table}
    cpus = {slurm_id: int(n) for slurm_id, _, _, n in table}
    assert set(states) == set(submitted), f"sacct knows other jobs than were submitted:\n{rows}"
    assert all(state == "COMPLETED" for _, state in states.values()), rows

    ran = Counter(rule for log in submitted.values() for rule in rules_in(log))
    assert ran == remote, f"SLURM jobs ran {dict(ran)}, Snakemake submitted {dict(remote)}"
    train = [slurm_id for slurm_id, log in submitted.items() if rules_in(log) == ["train"]]
    assert train and all(states[i][1] == "COMPLETED" and states[i][0].startswith("rule_train") for i in train)
    threads = yaml.safe_load((site / "config.yaml").read_text())["set-threads"]["train"]
    assert all(cpus[i] == threads for i in train), (cpus, threads)  # --cpus-per-task from set-threads
