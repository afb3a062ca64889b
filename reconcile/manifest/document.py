"""One manifest document → the input buckets and media it declares; every problem reported where it is."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from sys import intern
from typing import Any

from reconcile.cloud.limits import parse_oss_url
from reconcile.manifest.desired import (
    DesiredBucket,
    DesiredMedia,
    SourceLocation,
    bucket_address,
    media_address,
)
from reconcile.manifest.fields import DOCUMENT, INPUT_BUCKET, MEDIA, MEDIA_DEFAULTS, Section
from reconcile.manifest.reader import INVALID, NodeReader, describe
from reconcile.manifest.rules import file_url_problem
from reconcile.manifest.yaml_nodes import MappingNode, Node, ScalarNode, SequenceNode, is_null
from reconcile.model.media import MEDIA_FIELDS, MEDIA_NAMES, MediaAttributes, ValueKind

# Where each key belongs, for "`title` does not belong in media_defaults; it goes in a media entry".
_HOMES: tuple[tuple[Section, str], ...] = (
    (DOCUMENT, "at the top level of the document"),
    (INPUT_BUCKET, "in an input_buckets entry"),
    (MEDIA, "in a media entry"),
)
_SHAPES = {"input_buckets": "such as `- bucket: <name>`", "media": "with `file_url:` and `title:`"}

# The top-level keys that tell reconcile's own files apart; `reconcile.engine.savedplan` reads them too.
SAVED_PLAN_KEY = "reconcile_saved_plan"
PLAN_VIEW_KEYS = (
    frozenset({"format_version", "resource_changes"}),  # the JSON view (docs/plan-json.md)
    frozenset({"format_version", "calls", "changes"}),  # a Plan dumped as is (model_dump_json)
)


def is_plan_view_keys(keys: AbstractSet[str]) -> bool:
    """True when a JSON document with these top-level keys is a plan's JSON view (or a Plan dumped as is)."""
    return any(needed <= keys for needed in PLAN_VIEW_KEYS)


PLAN_VIEW = (
    "this is the JSON view of a plan (`reconcile plan --format json`), not a manifest or a saved plan; to apply "
    "a reviewed plan, save it with `reconcile plan PATH... --out FILE` and run `reconcile apply FILE`"
)
# Files reconcile itself writes, told apart by their top-level keys: naming one where manifests go earns one
# sentence saying what it is, not an "unknown key" per key. A file matches when it has every key of a set.
_NOT_MANIFESTS: tuple[tuple[frozenset[str], str], ...] = (
    (
        frozenset({SAVED_PLAN_KEY}),
        "this is a saved plan (`reconcile plan --out FILE`), not a manifest: `reconcile apply FILE` applies it "
        "and `reconcile show FILE` shows it",
    ),
    *((keys, PLAN_VIEW) for keys in PLAN_VIEW_KEYS),
    (
        frozenset({"format_version", "drifts"}),
        "this is the JSON view of a drift report (`reconcile drift --format json`), not a manifest",
    ),
    (frozenset({"lineage", "serial", "resources"}), "this is a reconcile state file, not a manifest"),
)


@dataclass(frozen=True, slots=True)
class DeclaredBucket:
    bucket: DesiredBucket
    entry: SourceLocation  # the entry's first key: its `bucket:` may come from elsewhere through an alias


@dataclass(frozen=True, slots=True)
class DeclaredMedia:
    """A media entry whose identity is known; `media` is None when its other fields have problems, so
    duplicates are still found while those are fixed."""

    identity: str
    file_url: str
    location: SourceLocation  # the `file_url:` key
    name: str | None
    name_location: SourceLocation | None
    media: DesiredMedia | None
    entry: SourceLocation  # the entry's first key


@dataclass(slots=True)
class Declarations:
    buckets: list[DeclaredBucket] = field(default_factory=list)
    media: list[DeclaredMedia] = field(default_factory=list)


@dataclass(slots=True)
class _Entry:
    """A mapping read against a section: valid values (None when written as null), and the nodes of
    every known key that was written, valid or not."""

    node: MappingNode
    values: dict[str, Any]
    nodes: dict[str, tuple[ScalarNode, Node]]


def read_document(reader: NodeReader, node: Node, into: Declarations) -> None:
    if not isinstance(node, MappingNode):
        reader.error(
            node,
            "a manifest document must be a mapping with `region` and the lists `input_buckets` and `media`, "
            f"not {describe(node)}",
        )
        return
    not_a_manifest = _other_reconcile_file(node)
    if not_a_manifest is not None:
        reader.error(node, not_a_manifest)
        return
    document = _read_mapping(reader, node, DOCUMENT)
    region = document.values.get("region")
    read: dict[tuple[int, str], _Entry] = {}  # anchors do not reach across documents
    for entry_node in _entries(reader, document, "input_buckets"):
        entry = _read_entry(reader, entry_node, INPUT_BUCKET, read)
        bucket = _bucket(reader, entry, region)
        if bucket is not None:
            into.buckets.append(DeclaredBucket(bucket, reader.location(entry_node)))
    defaults = _read_defaults(reader, document)
    for entry_node in _entries(reader, document, "media"):
        entry = _read_entry(reader, entry_node, MEDIA, read)
        declared = _media(reader, entry, defaults, region)
        if declared is not None:
            into.media.append(declared)


def _other_reconcile_file(node: MappingNode) -> str | None:
    """What the document is, when it is a file reconcile writes rather than a manifest."""
    keys = {key.value for key, _ in node.value if isinstance(key, ScalarNode)}
    if keys & DOCUMENT.fields.keys():
        return None  # a manifest with stray keys: those are reported one by one
    return next((what for needed, what in _NOT_MANIFESTS if needed <= keys), None)


def _read_entry(reader: NodeReader, node: MappingNode, section: Section, read: dict[tuple[int, str], _Entry]) -> _Entry:
    """An entry's reading. An entry an alias repeats (`- *intro`) is read again once, then reused: still a
    duplicate declaration each time, without its problems looked for again, spending the expansion budget as
    any repeat does."""
    if not reader.seen(node):
        return _read_mapping(reader, node, section)
    key = (id(node), section.what)
    entry = read.get(key)
    if entry is None:
        entry = read[key] = _read_mapping(reader, node, section)
    else:
        reader.budget.spend(len(node.value), node)
    return entry


def _read_mapping(reader: NodeReader, node: MappingNode, section: Section) -> _Entry:
    entry = _Entry(node, {}, {})
    fields = section.fields
    for key, (key_node, value_node) in reader.items(node).items():
        spec = fields.get(key)
        if spec is None:
            reader.error(key_node, _unknown_key(key, section))
            continue
        entry.nodes[key] = (key_node, value_node)
        if spec.section is not None:
            continue  # a nested list or mapping: the caller walks it
        value = reader.read(key, spec, value_node)
        if value is not INVALID:
            entry.values[key] = value
    for key in section.required:
        if key not in entry.nodes:
            reader.error(node, f"{section.what} is missing the required key `{key}`")
        elif key in entry.values and entry.values[key] is None:
            reader.error(entry.nodes[key][1], f"`{key}` is required, but is null here")
            del entry.values[key]
    return entry


def _unknown_key(key: str, section: Section) -> str:
    what = section.what
    close = difflib.get_close_matches(key, list(section.fields), n=1)
    if close:
        return f"unknown key `{key}` in {what}; did you mean `{close[0]}`?"
    home = next((place for other, place in _HOMES if other is not section and key in other.fields), None)
    if home is not None:
        return f"`{key}` does not belong in {what}; it goes {home}"
    expected = ", ".join(f"`{k}`" for k in sorted(section.fields))
    return f"unknown key `{key}` in {what}; expected one of: {expected}"


def _entries(reader: NodeReader, document: _Entry, key: str) -> list[MappingNode]:
    """The mapping entries of the list under `key`; null or absent is an empty list."""
    if key not in document.nodes:
        return []
    node = document.nodes[key][1]
    if isinstance(node, ScalarNode) and is_null(node):
        return []
    if not isinstance(node, SequenceNode):
        reader.error(node, f"`{key}` must be a list of entries, each starting with `- `, not {describe(node)}")
        return []
    entries: list[MappingNode] = []
    for item in reader.elements(node):
        if isinstance(item, MappingNode):
            entries.append(item)
        elif key == "input_buckets" and isinstance(item, ScalarNode) and not is_null(item):
            reader.error(item, f"each input_buckets entry must be a mapping such as `- bucket: {item.value}`")
        else:
            reader.error(item, f"each {key} entry must be a mapping {_SHAPES[key]}, not {describe(item)}")
    return entries


def _read_defaults(reader: NodeReader, document: _Entry) -> _Entry | None:
    if "media_defaults" not in document.nodes:
        return None
    node = document.nodes["media_defaults"][1]
    if isinstance(node, ScalarNode) and is_null(node):
        return None
    if not isinstance(node, MappingNode):
        reader.error(node, f"`media_defaults` must be a mapping of media keys and values, not {describe(node)}")
        return None
    defaults = _read_mapping(reader, node, MEDIA_DEFAULTS)
    if defaults.values.get("template_group_id") and defaults.values.get("workflow_id"):
        reader.warn(defaults.nodes["workflow_id"][0], _BOTH_SET)
    return defaults


def _bucket(reader: NodeReader, entry: _Entry, region: str | None) -> DesiredBucket | None:
    name = entry.values.get("bucket")
    if not name:
        return None
    return DesiredBucket(
        address=bucket_address(name),
        region=region or "",
        bucket=name,
        referer=entry.values.get("referer"),
        prevent_destroy=bool(entry.values.get("prevent_destroy")),
        location=reader.location(entry.nodes["bucket"][0]),
    )


_BOTH_SET = (
    "both `template_group_id` and `workflow_id` are set: workflow_id wins at the API, "
    "template_group_id is ignored; remove one"
)


def _media(reader: NodeReader, entry: _Entry, defaults: _Entry | None, region: str | None) -> DeclaredMedia | None:
    values = entry.values
    url = values.get("file_url")
    if not url:
        return None
    url_key, url_node = entry.nodes["file_url"]
    oss_object = parse_oss_url(url)
    problem = file_url_problem(url, oss_object, region)
    if problem is not None or oss_object is None:
        reader.error(url_node, f"`file_url` {problem}")
        return None
    name = values.get("name")
    name_location = reader.location(entry.nodes["name"][0]) if name else None
    location = reader.location(url_key)
    media = None
    if region and "title" in values and len(values) == len(entry.nodes):  # every key written is valid
        # The entry's own keys win over the defaults, including a null that clears one.
        merged = {**defaults.values, **values} if defaults is not None else values
        template_group_id, workflow_id = merged.get("template_group_id"), merged.get("workflow_id")
        if template_group_id and workflow_id:
            _warn_both_set(reader, entry, defaults)
        media = DesiredMedia(
            address=media_address(name, oss_object.identity),
            region=region,
            identity=oss_object.identity,
            oss_bucket=intern(oss_object.bucket),  # many media share a bucket: one copy, not one each
            storage_location=intern(oss_object.host),
            attributes=_attributes(merged),
            prevent_destroy=bool(merged.get("prevent_destroy")),
            name=name,
            location=location,
        )
    entry_location = reader.location(entry.node)
    return DeclaredMedia(oss_object.identity, url, location, name, name_location, media, entry_location)


def _attributes(declared: dict[str, Any]) -> MediaAttributes:
    """A validated entry's attributes as the model holds them: lists of tags as tuples (one tuple for the
    entries declaring the same tags: at 1,000,000 media, a tuple and its strings each would be ~190 MB)."""
    values: dict[str, Any] = {name: declared.get(name) for name in MEDIA_NAMES}
    for name in _LIST_FIELDS:
        if values[name] is not None:
            values[name] = _shared_list(tuple(values[name]))
    return MediaAttributes(**values)


@functools.lru_cache(maxsize=4096)
def _shared_list(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(intern(item) for item in items)


_LIST_FIELDS = tuple(spec.name for spec in MEDIA_FIELDS if spec.kind is ValueKind.TEXT_LIST)


# The entry sets one of the two and media_defaults the other: the key the entry sets → the key the defaults set,
# and the warning (at the entry's key, naming the defaults' line).
_AGAINST_DEFAULTS = {
    "workflow_id": (
        "template_group_id",
        "`workflow_id` is set and media_defaults sets `template_group_id` (line {line}): workflow_id wins at the "
        "API, template_group_id is ignored; add `template_group_id: null` to this entry to say so",
    ),
    "template_group_id": (
        "workflow_id",
        "`template_group_id` is ignored: media_defaults sets `workflow_id` (line {line}), and workflow_id wins at "
        "the API; add `workflow_id: null` to this entry to use the template group",
    ),
}


def _warn_both_set(reader: NodeReader, entry: _Entry, defaults: _Entry | None) -> None:
    """Warn where the entry meets the conflict; a conflict wholly inside media_defaults is warned there once."""
    own = [key for key in ("workflow_id", "template_group_id") if key in entry.nodes]
    if len(own) == 2:
        reader.warn(entry.nodes["workflow_id"][0], _BOTH_SET)
    elif own and defaults is not None:
        other, warning = _AGAINST_DEFAULTS[own[0]]
        line = defaults.nodes[other][0].start_mark.line + 1
        reader.warn(entry.nodes[own[0]][0], warning.format(line=line))
