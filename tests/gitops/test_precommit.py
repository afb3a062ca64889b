"""The repository's own .pre-commit-config.yaml runs the checks of `make lint typecheck` with the .venv's tools."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_pre_commit_hooks_are_the_lint_checks_run_with_the_venvs_tools() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {name: hook["entry"] for name, hook in hooks.items()} == {
        "ruff": ".venv/bin/ruff check --force-exclude",
        "ruff-format": ".venv/bin/ruff format --force-exclude",
        "mypy": ".venv/bin/mypy",
        "lint-imports": ".venv/bin/lint-imports",
    }
    for hook in hooks.values():
        assert hook["language"] == "system"
        program = ROOT / hook["entry"].split()[0]
        assert program.is_file() and os.access(program, os.X_OK), f"{program} missing: run `make install`"
    # mypy and import-linter check the whole package (their files come from pyproject.toml), never one file.
    assert hooks["mypy"]["pass_filenames"] is False and hooks["lint-imports"]["pass_filenames"] is False
