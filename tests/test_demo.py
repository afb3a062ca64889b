"""`make demo` (scripts/demo.py) as a new user sees it, and the set-up facts the docs owe that user."""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from reconcile.emulator.mps import BucketType

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.e2e
def test_the_demo_reports_one_apply_time_and_how_to_run_reconcile() -> None:
    completed = subprocess.run(
        [sys.executable, "scripts/demo.py"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    times = re.findall(r"\b([0-9]+\.[0-9]) s\b", out)  # "N.N s": the apply's figure and any other
    [elapsed] = re.findall(r"^Elapsed: ([0-9]+\.[0-9]) s\.$", out, re.MULTILINE)
    assert set(times) == {elapsed}  # the apply's summary and the demo's agree
    assert f" in {elapsed} s (the apply's `Elapsed:` above: its calls and state writes, after planning); " in out
    if Path(sys.executable).with_name("reconcile").is_file() and Path(sys.executable).is_relative_to(ROOT):
        hint = "`reconcile` is in the venv, not on your PATH: run .venv/bin/reconcile, or `. .venv/bin/activate` first"
        assert f"  {hint}\n" in out


def test_the_readme_says_how_to_run_reconcile_after_make_demo() -> None:
    setup = (ROOT / "README.md").read_text().split("## Set up", 1)[1].split("\n## ", 1)[0]
    assert "run it as `.venv/bin/reconcile ...`, or\nactivate the venv first (`. .venv/bin/activate`)" in setup


def test_the_emulator_docs_list_every_bucket_type() -> None:
    docs = (ROOT / "docs" / "emulator.md").read_text()
    values = typing.get_args(BucketType)
    assert values == ("Input", "Output")
    assert (
        "`type` in `buckets` is the binding: `Input` (BindInputBucket, the only type with a `referer`, else `null`) "
        "or\n`Output` (BindOutputBucket)"
    ) in docs
