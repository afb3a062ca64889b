"""Golden files: expected output kept in tests/golden/. Regenerate with `UPDATE_GOLDEN=1 pytest ...` and review
the diff like any other change."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path}: run with UPDATE_GOLDEN=1 to create it, then review it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"output differs from {path} (UPDATE_GOLDEN=1 regenerates it)"
