"""Every `make bench` scenario imports and has the shape bench/__main__.py runs: a broken import in one would
stop the whole run (and BENCHMARKS.md) after minutes of measuring the others."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

SCENARIOS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "bench").glob("scenario_*.py"))


def test_there_are_scenarios() -> None:
    assert len(SCENARIOS) >= 8


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_imports_with_a_title_and_a_run(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert isinstance(module.TITLE, str)
    assert module.TITLE
    assert callable(module.run)
