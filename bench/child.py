"""Run one child process and measure that child alone: wall time, CPU time and peak resident memory.

Two traps make a child's peak memory wrong:
- `resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` is the largest of every child this process has reaped, so
  in a full `make bench` a scenario reports an earlier scenario's peak (the 100k plan's, say);
- even a child's own ru_maxrss (from `os.wait4`) starts at the RSS of the process that spawned it: Linux
  carries the high-water mark of the address space a child leaves at exec, which for fork or vfork is its
  parent's. The bench process holds hundreds of MiB after the in-process measurements.
So the command is spawned by a bare interpreter (`python -I -S`, about 9 MiB), which reaps it with `os.wait4`
and reports its usage: the figure is the command's own peak, or that small floor, whichever is larger.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# The spawner: imports nothing beyond the interpreter's core, spawns the command, reaps it, writes a report.
_SPAWNER = """
import os, sys, time
report, command = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.posix_spawnp(command[0], command, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(report, "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {wall} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}")
"""


@dataclass(frozen=True, slots=True)
class ChildRun:
    code: int  # exit code; negative: killed by that signal
    out: str
    err: str
    wall_seconds: float
    cpu_seconds: float  # user + system
    peak_rss_mib: float  # the command's maximum resident set

    def check(self, what: str) -> ChildRun:
        """This run, if it exited 0; else a RuntimeError with the end of its stderr."""
        if self.code != 0:
            raise RuntimeError(f"{what} failed ({self.code}):\n{self.err[-2000:]}")
        return self


def run_child(command: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> ChildRun:
    """Run `command` to completion with stdin closed. Output goes to temporary files, not pipes: a child
    that writes more than a pipe holds would block while nobody reads."""
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.NamedTemporaryFile("r", suffix=".usage") as report,
    ):
        spawner = [sys.executable, "-I", "-S", "-c", _SPAWNER, report.name, *command]
        spawned = subprocess.run(
            spawner, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, check=False
        )
        out.seek(0)
        err.seek(0)
        if spawned.returncode != 0:  # the spawner itself failed: no such command, say
            raise RuntimeError(f"could not run {command[0]}:\n{err.read()[-2000:]}")
        code, wall, cpu, maxrss_kib = report.read().split()
        return ChildRun(
            code=int(code),
            out=out.read(),
            err=err.read(),
            wall_seconds=float(wall),
            cpu_seconds=float(cpu),
            peak_rss_mib=int(maxrss_kib) / 1024,  # KiB on Linux
        )
