"""The codebase keeps one home per concept (issue 10): checked on every run, so that a copy fails the suite."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from reconcile.model.media import MUTABLE_FIELDS

PACKAGE = Path(__file__).resolve().parents[1] / "reconcile"
SOURCES = sorted(PACKAGE.rglob("*.py"))
# The model's declaration, the manifest key and its rule, the SearchMedia Match language, one CLI example.
MOST_FILES_PER_FIELD = 6


def files_spelling(*words: str) -> list[str]:
    pattern = re.compile("|".join(rf"\b{re.escape(word)}\b" for word in words))
    return [str(p.relative_to(PACKAGE)) for p in SOURCES if pattern.search(p.read_text(encoding="utf-8"))]


def test_a_metadata_field_is_spelled_in_a_few_files_at_most() -> None:
    """The metadata fields with no behaviour of their own (cate_id, cover_url): declared in the model, a manifest
    key with its rule, and nowhere else that moves them (the rest iterates the model's tables). Title and tags
    also have rules of their own (a required title, tags as a list); the others' names are English words."""
    plain = [spec for spec in MUTABLE_FIELDS if "_" in spec.name]
    assert [spec.name for spec in plain] == ["cover_url", "cate_id"]
    spelled = {spec.name: files_spelling(spec.name, spec.wire) for spec in plain}
    assert all("model/media.py" in files for files in spelled.values())
    too_many = {name: files for name, files in spelled.items() if len(files) > MOST_FILES_PER_FIELD}
    assert too_many == {}, "a field's name or wire name is spelled out again; iterate the model's tables instead"


def test_the_engine_and_the_state_pass_typed_values_not_untyped_dicts() -> None:
    sources = [p for p in SOURCES if p.parent.name in ("engine", "state")]
    found = [f"{p.relative_to(PACKAGE)}:{n}" for p in sources
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "dict[str, Any]" in line]  # fmt: skip
    # Prevalidated's fields, and the two JSON serialisers of typed attributes.
    assert len(found) <= 3, found


def test_nothing_but_the_entry_points_sits_at_the_package_top() -> None:
    top = sorted(p.name for p in PACKAGE.iterdir() if p.is_file())
    assert top == ["__init__.py", "__main__.py", "py.typed"]


def test_the_layers_are_contracts_one_of_them_inside_the_engine() -> None:
    contracts = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert len(contracts) >= 4
    assert any(any(m.startswith("reconcile.engine.") for m in c.get("source_modules", [])) for c in contracts)
