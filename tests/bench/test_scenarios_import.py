"""Every benchmark scenario imports: `make bench` runs them all, and a scenario that names a helper another
scenario renamed (scenario_pgstate used scenario_plan's QPS_SCALE and run_measured, gone since) fails the whole
run at its import."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

SCENARIOS = sorted(p.stem for p in (Path(__file__).parents[2] / "bench").glob("scenario_*.py"))


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_scenario_imports_and_has_its_entry_points(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert isinstance(module.TITLE, str) and module.TITLE
    assert callable(module.run)
