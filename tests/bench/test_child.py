"""bench/child.py reports the peak memory of the child it ran, not of the biggest child reaped before it."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from bench.child import run_child

BIG_MIB = 300


def test_peak_memory_is_the_childs_own_not_an_earlier_childs():
    grow = f"b = bytearray({BIG_MIB} * 2**20); b[::4096] = b'x' * len(b[::4096])"  # touch every page
    subprocess.run([sys.executable, "-c", grow], check=True)
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 >= BIG_MIB  # what the bench read before

    small = run_child([sys.executable, "-c", "print('small')"])

    assert (small.code, small.out, small.err) == (0, "small\n", "")
    assert 0 < small.peak_rss_mib < BIG_MIB / 3
    assert small.wall_seconds > 0


def test_a_failing_child_is_reported_with_its_stderr():
    failed = run_child([sys.executable, "-c", "import sys; sys.exit('broken manifest')"])
    assert (failed.code, failed.err) == (1, "broken manifest\n")
    with pytest.raises(RuntimeError, match=r"\Avalidate failed \(1\):\nbroken manifest\n\Z"):
        failed.check("validate")
