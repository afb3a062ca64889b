"""Writing manifests: the YAML `reconcile import` generates, readable, diff-friendly and loaded back exactly.

- One document per file: the schema modeline, a comment saying where it came from, `region`, then
  `input_buckets` or `media_defaults` and `media`.
- Entries are written in the order given (the caller sorts them) with keys in the reference's order.
- `media_defaults` holds every value all entries of the file share (at least two of them), once.
- Text stays text: a scalar that YAML would read as something else (`no`, `1.10`, `2024-01-01`, `~`, an empty
  string) is quoted, Unicode is written as it is, and `$` is written `$$` so that no `${...}` is read as a
  variable. Tags are a flow list (`[a, b]`) when that reads back the same, else a block list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from reconcile.manifest.fields import MEDIA_DEFAULTS
from reconcile.model.media import MEDIA_NAMES

SCHEMA_FILE = "manifest.schema.json"
MODELINE = f"# yaml-language-server: $schema={SCHEMA_FILE}"
# The keys of a media entry in the reference's order; `name` first so that entries read by their address.
MEDIA_KEYS = ("name", *MEDIA_NAMES)
# What media_defaults may hold (README: any media key except file_url, title and name).
DEFAULTABLE = tuple(key for key in MEDIA_DEFAULTS.fields if key in MEDIA_NAMES)


class _Dumper(yaml.SafeDumper):
    """Block sequences indented under their key (`media:\\n  - name: ...`), as the README writes them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _escaped(value: Any) -> Any:
    """`$` as `$$`, in every string: the loader reads `$$` as `$` and `${...}` as a variable."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list | tuple):
        return [_escaped(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _escaped(item) for key, item in value.items()}
    return value


def fold_defaults(entries: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(media_defaults, the entries without them): each defaultable key whose value every entry shares."""
    if len(entries) < 2:
        return {}, [dict(entry) for entry in entries]
    defaults: dict[str, Any] = {}
    for key in DEFAULTABLE:
        first = entries[0].get(key)
        if first is not None and all(entry.get(key) == first for entry in entries):
            defaults[key] = first
    return defaults, [{k: v for k, v in entry.items() if k not in defaults} for entry in entries]


def _ordered(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {key: entry[key] for key in MEDIA_KEYS if entry.get(key) is not None}


def _dump(value: Any) -> str:
    return yaml.dump(
        _escaped(value), Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False, width=1 << 16
    )


def media_document(region: str, entries: Sequence[Mapping[str, Any]], comment: Sequence[str] = ()) -> str:
    """The text of a manifest declaring `entries` (media keys as in MEDIA_KEYS; None values left out)."""
    defaults, rest = fold_defaults([_ordered(entry) for entry in entries])
    body: dict[str, Any] = {"region": region}
    if defaults:
        body["media_defaults"] = {key: defaults[key] for key in DEFAULTABLE if key in defaults}
    body["media"] = rest
    return _header(comment) + _flow_tags(_dump(body))


def input_buckets_document(region: str, buckets: Sequence[Mapping[str, Any]], comment: Sequence[str] = ()) -> str:
    """The text of a manifest declaring input buckets (`bucket`, and `referer` when set)."""
    entries = [{k: bucket[k] for k in ("bucket", "referer") if bucket.get(k) is not None} for bucket in buckets]
    return _header(comment) + _dump({"region": region, "input_buckets": entries})


def _header(comment: Sequence[str]) -> str:
    lines = [MODELINE, *(f"# {line}".rstrip() for line in comment)]
    return "\n".join(lines) + "\n"


def _flow_tags(text: str) -> str:
    """`tags:` block lists of plain scalars rewritten as flow lists `[a, b]`, which read back the same."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped in ("tags:", "- tags:"):
            item_indent = len(line) - len(stripped) + (4 if stripped.startswith("- ") else 2)
            items: list[str] = []
            j = i + 1
            while j < len(lines) and lines[j].startswith(" " * item_indent + "- "):
                items.append(lines[j][item_indent + 2 :])
                j += 1
            if items and all(_flow_safe(item) for item in items):
                out.append(f"{line} [{', '.join(items)}]")
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _flow_safe(item: str) -> bool:
    """A scalar as the dumper wrote it that means the same inside `[...]`: no flow indicators, no comment start."""
    if item.startswith(("'", '"')):
        return item.endswith(item[0]) and not any(c in item for c in ",[]{}#")
    return not any(c in item for c in ",[]{}#:") and not item.startswith(("&", "*", "!", "|", ">", "%", "@", "`"))
