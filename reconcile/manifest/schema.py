"""The JSON Schema of a manifest document, rendered from the field tables (`fields.py`).

Editors (yaml-language-server, via the `# yaml-language-server: $schema=...` modeline) use it for completion,
hover documentation and shape checks. It checks keys and types only: value rules such as UTF-8 byte limits
and OSS URL forms need `reconcile validate`, since JSON Schema counts characters and cannot see the values
that `${VAR}` references will take.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from reconcile.manifest.fields import DOCUMENT, Field, Kind, Section

DRAFT = "http://json-schema.org/draft-07/schema#"
# Text fields take any scalar literally (a title `1.10` is the text "1.10"), so the schema accepts them all.
_TEXT_TYPES = ["string", "number", "boolean"]

_DESCRIPTION = (
    "A reconcile manifest document: the MPS input buckets and VOD media one region should have. A file may "
    "hold several documents. In text values, ${VAR} and ${VAR:-default} are replaced from the environment "
    "($$ is a literal $). This schema checks keys and types; `reconcile validate` also checks each value "
    "against the API limits."
)


def json_schema() -> dict[str, Any]:
    """The schema `reconcile schema` prints; schema/manifest.schema.json is a committed copy."""
    return copy.deepcopy(_SCHEMA)


def json_schema_text() -> str:
    """The schema as committed: pretty, sorted keys, trailing newline."""
    return json.dumps(_SCHEMA, indent=2, sort_keys=True) + "\n"


def _build() -> dict[str, Any]:
    definitions: dict[str, Any] = {}
    return {
        "$schema": DRAFT,
        "title": "reconcile manifest",
        "description": _DESCRIPTION,
        **_mapping(DOCUMENT, definitions),
        "definitions": definitions,
    }


def _mapping(section: Section, definitions: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(section.required),
        "properties": {key: _property(spec, definitions) for key, spec in section.fields.items()},
    }


def _property(spec: Field, definitions: dict[str, Any]) -> dict[str, Any]:
    nullable = [] if spec.required else ["null"]
    schema: dict[str, Any] = {"description": spec.description}
    if spec.kind is Kind.TEXT:
        schema["type"] = _TEXT_TYPES + nullable
    elif spec.kind is Kind.INTEGER:
        schema["type"] = ["integer", *nullable]
    elif spec.kind is Kind.BOOLEAN:
        schema["type"] = ["boolean", *nullable]
    elif spec.kind is Kind.TEXT_LIST:
        schema["type"] = ["array", *nullable]
        schema["items"] = {"type": _TEXT_TYPES}
    elif spec.kind is Kind.OBJECT:
        schema["type"] = ["object", *nullable]
    elif spec.section is not None:  # ENTRIES and MAPPING: a mapping with its own keys, under `definitions`
        name = spec.section.name
        definitions[name] = _mapping(spec.section, definitions)
        if spec.kind is Kind.ENTRIES:
            schema["type"] = ["array", *nullable]
            schema["items"] = {"$ref": f"#/definitions/{name}"}
        else:
            # Draft-07 ignores keywords beside `$ref`, so the description moves into the definition.
            definitions[name]["type"] = ["object", "null"]
            definitions[name]["description"] = spec.description
            return {"$ref": f"#/definitions/{name}"}
    schema.update(spec.schema)
    return schema


_SCHEMA = _build()
