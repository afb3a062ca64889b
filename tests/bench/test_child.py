"""bench/child.py reports the peak memory of the command it ran: not an earlier child's (RUSAGE_CHILDREN),
and not that of the big process that started it (a spawned child inherits its parent's high-water mark)."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from bench.child import run_child

BIG_MIB = 200
TOUCH_PAGES = "b[::4096] = b'x' * len(b[::4096])"  # make every page resident


def test_peak_memory_is_the_commands_own():
    subprocess.run([sys.executable, "-c", f"b = bytearray({BIG_MIB} * 2**20); {TOUCH_PAGES}"], check=True)
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 >= BIG_MIB  # the old figure's source
    ballast = bytearray(BIG_MIB * 2**20)  # and this process is big, as the bench is after its in-process runs
    ballast[::4096] = b"x" * len(ballast[::4096])

    small = run_child([sys.executable, "-c", "print('small')"])
    del ballast

    assert (small.code, small.out, small.err) == (0, "small\n", "")
    assert 0 < small.peak_rss_mib < 40
    assert small.wall_seconds > 0


def test_a_big_command_is_measured_in_full():
    big = run_child([sys.executable, "-c", f"b = bytearray({BIG_MIB} * 2**20); {TOUCH_PAGES}"])
    assert big.code == 0
    assert BIG_MIB <= big.peak_rss_mib < BIG_MIB + 40


def test_a_failing_child_is_reported_with_its_stderr():
    failed = run_child([sys.executable, "-c", "import sys; sys.exit('broken manifest')"])
    assert (failed.code, failed.err) == (1, "broken manifest\n")
    with pytest.raises(RuntimeError, match=r"\Avalidate failed \(1\):\nbroken manifest\n\Z"):
        failed.check("validate")


def test_a_command_that_cannot_be_started_is_an_error():
    with pytest.raises(RuntimeError, match=r"\Acould not run no-such-command-here:\n(.*\n)*FileNotFoundError: "):
        run_child(["no-such-command-here"])
