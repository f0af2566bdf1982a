"""The package's config error, and a failed job's reason in one line for the console (the Snakefile's `onerror`).

Every adapter (scripts/*.py) sends its stderr to the job's log, so a job that raises leaves a Python traceback
there, and Snakemake's console shows only `CalledProcessError` and the log's path. The reason is the traceback's
exception line; the package's own errors (a `ValueError` or `OSError` naming the file or key and the fix, a
`ConfigError`, a `DeviceError`) are shown without their type, anything else (a bug) with it.
"""

from __future__ import annotations

import os
import re

TRACEBACK = "Traceback (most recent call last):"
USER_ERRORS = {  # exceptions the package raises with a one-line message meant for the user
    "ValueError", "ConfigError", "ParamsError", "DeviceError", "FileNotFoundError", "NotADirectoryError",
    "IsADirectoryError", "PermissionError", "ImportError", "ModuleNotFoundError",
}


class ConfigError(ValueError):
    """A config value is wrong; the message names the key and the fix."""


_EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*): (?P<message>.+)$")


def log_reason(path: str | os.PathLike) -> str | None:
    """The exception line of the last traceback in the log `path` (its type left out for the package's own
    errors), or None: no log, or no traceback in it (a job killed, or one that failed without raising)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    if TRACEBACK not in text:
        return None
    for line in text.rsplit(TRACEBACK, 1)[1].splitlines()[1:]:
        if line.strip() and not line[0].isspace():  # the frames are indented; the exception line is not
            match = _EXCEPTION.match(line.strip())
            if match and match["type"].rsplit(".", 1)[-1] in USER_ERRORS:
                return match["message"]
            return line.strip()
    return None


def failed_job_reasons(jobs) -> list[str]:
    """One line per failed Snakemake job (a group job: per member) whose log holds a traceback:
    "error: REASON (rule RULE, log LOG)"."""
    lines = []
    for job in jobs:
        for member in getattr(job, "jobs", None) or [job]:  # a group job's members
            for log in getattr(member, "log", None) or []:
                reason = log_reason(log)
                if reason is not None:
                    lines.append(f"error: {reason} (rule {member.rule.name}, log {log})")
    return sorted(lines)
