"""Run one child process and measure that child alone: wall time, CPU time and peak resident memory.

`resource.getrusage(RUSAGE_CHILDREN)` is no measure of one child: its ru_maxrss is the largest of every
child this process has reaped, so in a full `make bench` a scenario would report an earlier scenario's
peak (the 100k plan's, say). Reaping the child with `os.wait4` returns its own usage instead.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ChildRun:
    code: int  # exit code; negative: killed by that signal
    out: str
    err: str
    wall_seconds: float
    cpu_seconds: float  # user + system
    peak_rss_mib: float  # this child's maximum resident set

    def check(self, what: str) -> ChildRun:
        """This run, if it exited 0; else a RuntimeError with the end of its stderr."""
        if self.code != 0:
            raise RuntimeError(f"{what} failed ({self.code}):\n{self.err[-2000:]}")
        return self


def run_child(command: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> ChildRun:
    """Run `command` to completion with stdin closed. Output goes to temporary files, not pipes: a child
    that writes more than a pipe holds would block while nobody reads."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait for it again
        out.seek(0)
        err.seek(0)
        return ChildRun(
            code=child.returncode,
            out=out.read(),
            err=err.read(),
            wall_seconds=wall,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            peak_rss_mib=usage.ru_maxrss / 1024,  # KiB on Linux
        )
