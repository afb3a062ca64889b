"""The JSON Schema: generated from the field tables, committed for editors, and true to the examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconcile.manifest import json_schema, json_schema_text, load_desired_state
from reconcile.manifest.fields import DOCUMENT, INPUT_BUCKET, MEDIA, MEDIA_DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "schema" / "manifest.schema.json"
EXAMPLES = sorted((ROOT / "manifests").rglob("*.yaml"))
MODELINE = "# yaml-language-server: $schema="


def test_the_committed_schema_is_current() -> None:
    assert COMMITTED.read_text() == json_schema_text(), "run `make schema` and commit schema/manifest.schema.json"
    assert json.loads(COMMITTED.read_text()) == json_schema()


def test_json_schema_returns_a_copy() -> None:
    json_schema()["properties"].clear()
    assert "region" in json_schema()["properties"]


def test_every_key_of_the_language_is_in_the_schema() -> None:
    schema = json_schema()
    sections = {
        "document": (schema, DOCUMENT),
        "input_bucket": (schema["definitions"]["input_bucket"], INPUT_BUCKET),
        "media": (schema["definitions"]["media"], MEDIA),
        "media_defaults": (schema["definitions"]["media_defaults"], MEDIA_DEFAULTS),
    }
    for node, section in sections.values():
        assert set(node["properties"]) == set(section.fields)
        assert node["required"] == list(section.required)
        assert node["additionalProperties"] is False
        assert all(prop.get("description") or "$ref" in prop for prop in node["properties"].values())
    assert schema["required"] == ["region"]
    assert schema["definitions"]["media"]["required"] == ["file_url", "title"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_opens_with_a_modeline_to_the_committed_schema(path: Path) -> None:
    first_line = path.read_text().splitlines()[0]
    assert first_line.startswith(MODELINE)
    assert (path.parent / first_line.removeprefix(MODELINE)).resolve() == COMMITTED


def test_the_example_set_is_valid_with_no_environment() -> None:
    state = load_desired_state([ROOT / "manifests"], env={})
    assert [b.bucket for b in state.buckets] == ["acme-archive-prod", "acme-media-in-prod", "acme-podcasts-prod"]
    assert len(state.media) == 32
    assert {m.oss_bucket for m in state.media} == {"acme-archive-prod", "acme-media-in-prod", "acme-podcasts-prod"}
    assert len(state.files) == 5
    assert state.warnings == ()
    assert all(m.region == "cn-shanghai" for m in state.media)


def test_the_example_set_follows_media_env() -> None:
    state = load_desired_state([ROOT / "manifests"], env={"MEDIA_ENV": "staging"})
    assert [b.bucket for b in state.buckets] == [
        "acme-archive-staging",
        "acme-media-in-staging",
        "acme-podcasts-staging",
    ]
    assert all(m.oss_bucket.endswith("-staging") for m in state.media)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_schema_accepts_every_example_document(path: Path) -> None:
    schema = json_schema()
    for document in yaml.safe_load_all(path.read_text()):
        assert _violations(document, schema, schema) == []


def test_the_schema_rejects_what_editors_should_flag() -> None:
    schema = json_schema()
    document = {"region": "cn-shanghai", "media": [{"file_url": "x", "titel": "y", "cate_id": "7", "tags": {}}]}
    assert sorted(_violations(document, schema, schema)) == [
        "$.media[0].cate_id: not integer, null",
        "$.media[0].tags: not array, null",
        "$.media[0]: missing title",
        "$.media[0]: unexpected titel",
    ]


_JSON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}


def _violations(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str = "$") -> list[str]:
    """The subset of JSON Schema draft-07 the manifest schema uses: $ref, type, properties, required,
    additionalProperties, items, maxItems and minimum."""
    if "$ref" in schema:
        schema = root["definitions"][schema["$ref"].rsplit("/", 1)[1]]
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types

    def is_a(name: str) -> bool:
        if isinstance(value, bool) and name in ("integer", "number"):
            return False
        return isinstance(value, _JSON_TYPES[name])

    if types and not any(is_a(name) for name in types):
        return [f"{where}: not {', '.join(types)}"]
    problems: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        problems += [f"{where}: missing {key}" for key in schema.get("required", []) if key not in value]
        for key, item in value.items():
            if key in properties:
                problems += _violations(item, properties[key], root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{where}: unexpected {key}")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            problems.append(f"{where}: more than {schema['maxItems']} items")
        for index, item in enumerate(value):
            problems += _violations(item, schema.get("items", {}), root, f"{where}[{index}]")
    if isinstance(value, int) and "minimum" in schema and value < schema["minimum"]:
        problems.append(f"{where}: below {schema['minimum']}")
    return problems
