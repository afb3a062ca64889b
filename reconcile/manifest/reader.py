"""Typed reads from YAML nodes. Every problem becomes a diagnostic at the offending node; nothing raises but
ExpansionLimitExceeded, which ends the reading of a file whose aliases and merges repeat too much.

Scalars are typed by the field that holds them, never by YAML 1.1 guessing:
- text fields take the literal text written (`no`, `on`, `1.10`, `2024-01-01` stay text); an unquoted `~`,
  `null` or empty value means "not set";
- integer fields take YAML 1.2 integers (`1000`, `0x3e8`), and booleans only `true`/`false`;
- user_data values follow JSON / YAML 1.2 core typing (see `_json_scalar`).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, TypeVar

from reconcile.manifest.desired import SourceLocation, Warning_
from reconcile.manifest.diagnostics import Diagnostic
from reconcile.manifest.fields import Field, Kind
from reconcile.manifest.interpolation import interpolate
from reconcile.manifest.yaml_nodes import (
    MAP_TAG,
    NULL_WORDS,
    PLAIN_TAG,
    SEQ_TAG,
    STR_TAG,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
)


class _Invalid(enum.Enum):
    INVALID = "invalid"


INVALID = _Invalid.INVALID  # a value that was reported as a problem: skip it, do not report it again
Invalid: TypeAlias = _Invalid
_T = TypeVar("_T")

_CORE = "tag:yaml.org,2002:"
NULL_TAG, BOOL_TAG, INT_TAG, FLOAT_TAG = (_CORE + name for name in ("null", "bool", "int", "float"))
# Explicit tags a text field accepts, taking the text literally (`!!int 5` as a title is "5").
_LITERAL_TAGS = frozenset({PLAIN_TAG, STR_TAG, BOOL_TAG, INT_TAG, FLOAT_TAG, _CORE + "timestamp"})

TRUE_WORDS = frozenset({"true", "True", "TRUE"})
FALSE_WORDS = frozenset({"false", "False", "FALSE"})
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INF_NAN = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")

MERGE_KEY = "<<"
# user_data is a few settings; a YAML alias chain that expands into more values than this, or a structure
# nested deeper, is a mistake (or an attack on the parser) and is refused before it is expanded further.
USER_DATA_MAX_VALUES = 10_000
USER_DATA_MAX_DEPTH = 32
# Every file may repeat this many values through aliases and merges, plus one per byte (see ExpansionBudget).
EXPANSION_ALLOWANCE = 100_000

Items: TypeAlias = dict[str, tuple[ScalarNode, Node]]

# Enum attribute lookups cost ~50 ns each on Python 3.11; `read` runs half a million times for 100k entries.
_TEXT, _TEXT_LIST, _INTEGER, _BOOLEAN, _OBJECT = Kind.TEXT, Kind.TEXT_LIST, Kind.INTEGER, Kind.BOOLEAN, Kind.OBJECT


def describe(node: Node) -> str:
    """How a message names what the user wrote instead of what was expected."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = node.value if len(node.value) <= 60 else node.value[:57] + "..."
    return f"`{value}`" if node.tag != STR_TAG else f'the quoted text "{value}"'


class ExpansionLimitExceeded(Exception):
    """A file's aliases and merges repeat more values than its expansion budget: reading the file stops, as the
    rest of it could only repeat more (the loader reports `diagnostic` and moves on to the next file)."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(str(diagnostic))
        self.diagnostic = diagnostic


class ExpansionBudget:
    """How many values one file's YAML aliases and `<<` merges may repeat.

    What a file writes is read once for free. Repeating costs one per value each time: the keys a `<<` merge
    copies, a mapping or list taken again through an alias (an entry, `tags`, anything inside `user_data`).
    Memoised merges make a merge bomb cheap, but a file can still repeat a large anchor many times over; the
    budget keeps that proportional to what the file holds: EXPANSION_ALLOWANCE plus one per byte.
    """

    __slots__ = ("limit", "path", "spent")

    def __init__(self, path: str, size: int) -> None:
        self.path = path
        self.limit = EXPANSION_ALLOWANCE + size
        self.spent = 0

    def spend(self, count: int, node: Node) -> None:
        """Charge `count` repeated values, read at `node`; past the limit, raise ExpansionLimitExceeded there."""
        self.spent += count
        if self.spent > self.limit:
            mark = node.start_mark
            message = (
                f"YAML aliases (`*name`) and `<<` merges repeat more than {self.limit} values in this file "
                f"({EXPANSION_ALLOWANCE} plus one per byte); a manifest never needs that many, so the file is "
                "refused: repeat large anchors fewer times"
            )
            raise ExpansionLimitExceeded(Diagnostic(self.path, mark.line + 1, mark.column + 1, message))


class NodeReader:
    """Reads the nodes of one manifest file, collecting its diagnostics and warnings."""

    __slots__ = ("_merged", "_walked", "budget", "diagnostics", "env", "path", "warnings")

    def __init__(self, path: str, env: Mapping[str, str], size: int, *, aliases: bool = True) -> None:
        """`size`: the file's length in bytes, which sets its expansion budget. `aliases`: whether the file may
        hold an alias (it has a `*`); without one no node is reached twice, and none is tracked."""
        self.path = path
        self.env = env
        self.diagnostics: list[Diagnostic] = []
        self.warnings: list[Warning_] = []
        self.budget = ExpansionBudget(path, size)
        # Node ids are stable while the reader runs: the loader keeps the file's documents alive until it is done.
        self._merged: dict[int, Items] = {}  # a mapping with merges, or merged → its items, `<<` merges applied
        self._walked: set[int] | None = set() if aliases else None  # other mappings, and lists, walked once

    def location(self, node: Node) -> SourceLocation:
        mark = node.start_mark
        return SourceLocation(self.path, mark.line + 1, mark.column + 1)

    def error(self, node: Node, message: str, offset: int = 0) -> None:
        mark = node.start_mark
        self.diagnostics.append(Diagnostic(self.path, mark.line + 1, mark.column + 1 + offset, message))

    def warn(self, node: Node, message: str) -> None:
        self.warnings.append(Warning_(self.location(node), message))

    # --- mappings and sequences ---------------------------------------------------------------------

    def items(self, node: MappingNode) -> Items:
        """Key text → (key node, value node), with `<<` merge keys applied. Duplicate keys are errors:
        PyYAML would silently keep the last one. Each mapping is merged once: taking its items again (it is
        reached through an alias) spends the expansion budget."""
        key = id(node)
        merged = self._merged.get(key)
        if merged is not None:
            self.budget.spend(len(merged), node)
            return merged
        walked = self._walked
        if walked is not None and key in walked:  # no merges: its pairs are read again, at the same cost
            self.budget.spend(len(node.value), node)
        own, sources = self._own_items(node)
        if not sources:
            if walked is not None:
                walked.add(key)
            return own
        return self._merge(_Merging(node, own, sources))

    def seen(self, node: Node) -> bool:
        """Whether the mapping's items or the list's elements were taken before."""
        key = id(node)
        return self._walked is not None and (key in self._walked or key in self._merged)

    def elements(self, node: SequenceNode) -> list[Node]:
        """The list's items; walking a list again (it is reached through an alias) spends the expansion budget."""
        walked = self._walked
        if walked is not None:
            if id(node) in walked:
                self.budget.spend(len(node.value), node)
            else:
                walked.add(id(node))
        return node.value  # type: ignore[no-any-return]

    def _merge(self, root: _Merging) -> Items:
        """Merge `root` and every mapping it merges, sources before the mappings merging them, each once.

        A stack rather than recursion: a chain of mappings each merging the previous one may be as long as
        the file is, far deeper than Python recurses. A mapping still on the stack is being merged into, so
        merging it again is a cycle."""
        stack = [root]
        merging = {id(root.node)}
        while stack:
            top = stack[-1]
            source = top.next_source(self._merged)
            if source is not None:
                if id(source) in merging:
                    self.error(source, "`<<` merges a mapping into itself")
                else:
                    stack.append(_Merging(source, *self._own_items(source)))
                    merging.add(id(source))
                continue
            stack.pop()
            merging.discard(id(top.node))
            result = top.own
            for merge_key, source in top.sources:
                pairs = self._merged.get(id(source))
                if pairs is None:
                    continue  # a cycle, reported above
                self.budget.spend(len(pairs), merge_key)
                for key, pair in pairs.items():
                    result.setdefault(key, pair)  # keys written here win, then earlier merges
            self._merged[id(top.node)] = result
        return self._merged[id(root.node)]

    def _own_items(self, node: MappingNode) -> tuple[Items, list[tuple[ScalarNode, MappingNode]]]:
        """The pairs written in the mapping itself, and the mappings its `<<` keys merge (in order)."""
        result: Items = {}
        sources: list[tuple[ScalarNode, MappingNode]] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error(key_node, f"a key must be text, not {describe(key_node)}")
                continue
            key = key_node.value
            if key == MERGE_KEY and key_node.tag == PLAIN_TAG:
                merged = self.elements(value_node) if isinstance(value_node, SequenceNode) else [value_node]
                for source in merged:
                    if isinstance(source, MappingNode):
                        sources.append((key_node, source))
                    else:
                        self.error(
                            source, f"`<<` merges a mapping (`<<: *anchor`) or a list of them, not {describe(source)}"
                        )
                continue
            first = result.get(key)
            if first is not None:
                first_line = first[0].start_mark.line + 1
                message = f"duplicate key `{key}` (first at line {first_line}): YAML keeps only one value; remove one"
                self.error(key_node, message)
                continue
            result[key] = (key_node, value_node)
        return result, sources

    # --- scalars --------------------------------------------------------------------------------------

    def read(self, key: str, spec: Field, node: Node) -> Any:
        """The value of a TEXT, INTEGER, BOOLEAN, TEXT_LIST or OBJECT field, checked against its rule:
        None when written as null, INVALID when reported as a problem."""
        kind = spec.kind
        value: Any
        if kind is _TEXT:
            value = self.text(node, f"`{key}`")
        elif kind is _TEXT_LIST:
            return self.text_list(key, spec, node)
        elif kind is _INTEGER:
            value = self.integer(key, node)
        elif kind is _BOOLEAN:
            value = self.boolean(key, node)
        elif kind is _OBJECT:
            return self.json_object(key, node)
        else:  # ENTRIES and MAPPING are walked by the document reader
            raise ValueError(f"{kind} is not a value kind")
        if spec.check is not None and value is not None and value is not INVALID:
            problem = spec.check(value)
            if problem is not None:
                self.error(node, f"`{key}` {problem}")
                return INVALID
        return value

    def text(self, node: Node, subject: str) -> str | Invalid | None:
        if not isinstance(node, ScalarNode):
            self.error(node, f"{subject} must be text, not {describe(node)}")
            return INVALID
        tag = node.tag
        if tag == PLAIN_TAG:
            if node.value in NULL_WORDS:
                return None
        elif tag == NULL_TAG:
            return None
        elif tag not in _LITERAL_TAGS:
            self.error(node, _unsupported_tag(tag))
            return INVALID
        return self.interpolated(node)

    def interpolated(self, node: ScalarNode) -> str | Invalid:
        """The scalar's text with `${VAR}` references replaced from the environment."""
        value: str = node.value
        if "$" not in value:
            return value
        result, problems = interpolate(value, self.env)
        for problem in problems:
            self.error(node, problem.message, _column_offset(node, problem.offset))
        return INVALID if problems else result

    def integer(self, key: str, node: Node) -> int | Invalid | None:
        return self._typed_scalar(key, node, "an integer", _as_integer)

    def boolean(self, key: str, node: Node) -> bool | Invalid | None:
        return self._typed_scalar(key, node, "true or false", _as_boolean)

    def _typed_scalar(
        self, key: str, node: Node, expected: str, parse: Callable[[ScalarNode], _T | None]
    ) -> _T | Invalid | None:
        """`parse`'s value of a scalar; None for null; an error saying what was `expected` for anything else."""
        if not isinstance(node, ScalarNode):
            self.error(node, f"`{key}` must be {expected}, not {describe(node)}")
            return INVALID
        if node.tag == NULL_TAG or (node.tag == PLAIN_TAG and node.value in NULL_WORDS):
            return None
        value = parse(node)
        if value is not None:
            return value
        hint = "; remove the quotes" if node.tag == STR_TAG else ""
        self.error(node, f"`{key}` must be {expected}, got {describe(node)}{hint}")
        return INVALID

    def text_list(self, key: str, spec: Field, node: Node) -> list[str] | Invalid | None:
        if isinstance(node, ScalarNode) and node.tag in (PLAIN_TAG, NULL_TAG) and node.value in NULL_WORDS:
            return None
        if not isinstance(node, SequenceNode):
            self.error(node, f"`{key}` must be a list such as `{key}: [launch, promo]`, not {describe(node)}")
            return INVALID
        values: list[str] = []
        seen: set[str] = set()
        valid = True
        subject = spec.item_subject
        for item in self.elements(node):
            value = self.text(item, f"each {subject} in `{key}`")
            if value is INVALID:
                valid = False
                continue
            if not value:
                self.error(item, f"empty {subject} in `{key}`; remove it")
                valid = False
                continue
            problem = spec.item_check(value) if spec.item_check is not None else None
            if problem is not None:
                self.error(item, f"{subject} `{value}` {problem}")
                valid = False
            elif value in seen:
                self.error(item, f"{subject} `{value}` is listed twice in `{key}`")
                valid = False
            seen.add(value)
            values.append(value)
        problem = spec.check(values) if spec.check is not None else None
        if problem is not None:
            self.error(node, f"`{key}` {problem}")
            return INVALID
        return values if valid else INVALID

    # --- JSON ----------------------------------------------------------------------------------------

    def json_object(self, key: str, node: Node) -> str | Invalid | None:
        """A mapping as canonical JSON text (sorted keys, compact), as the API's JSON parameters carry it."""
        if isinstance(node, ScalarNode) and node.tag in (PLAIN_TAG, NULL_TAG) and node.value in NULL_WORDS:
            return None
        if not isinstance(node, MappingNode):
            self.error(node, f"`{key}` must be a mapping (it is sent as a JSON object), not {describe(node)}")
            return INVALID
        converter = _JsonConverter(self, key, node)
        value = converter.convert(node, frozenset())
        if value is INVALID or converter.failed:
            return INVALID
        return json.dumps(value, sort_keys=True, separators=(",", ":"))


class _JsonConverter:
    """Nodes → JSON values for one user_data mapping, reporting what JSON cannot hold."""

    def __init__(self, reader: NodeReader, key: str, root: MappingNode) -> None:
        self.reader = reader
        self.key = key
        self.root = root
        self.budget = USER_DATA_MAX_VALUES
        self.failed = False

    def fail(self, node: Node, message: str) -> Invalid:
        self.reader.error(node, message)
        self.failed = True
        return INVALID

    def convert(self, node: Node, ancestors: frozenset[int]) -> Any:
        self.budget -= 1
        if self.budget < 0:
            if self.budget == -1:
                message = (
                    f"`{self.key}` expands to more than {USER_DATA_MAX_VALUES} values; "
                    "check for YAML aliases (`*name`) that repeat a large structure"
                )
                return self.fail(self.root, message)
            return INVALID
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if id(node) in ancestors:
            return self.fail(node, f"`{self.key}` contains itself through a YAML alias; JSON cannot hold a cycle")
        if len(ancestors) >= USER_DATA_MAX_DEPTH:
            return self.fail(node, f"`{self.key}` is nested more than {USER_DATA_MAX_DEPTH} levels deep")
        inside = ancestors | {id(node)}
        if isinstance(node, SequenceNode):
            if node.tag != SEQ_TAG:
                return self.fail(node, _unsupported_tag(node.tag))
            return [self.convert(item, inside) for item in self.reader.elements(node)]
        if not isinstance(node, MappingNode) or node.tag != MAP_TAG:
            return self.fail(node, _unsupported_tag(node.tag))
        return {key: self.convert(value, inside) for key, (_, value) in self.reader.items(node).items()}

    def text(self, node: ScalarNode) -> str | Invalid:
        text = self.reader.interpolated(node)
        if text is INVALID:
            self.failed = True
        return text

    def scalar(self, node: ScalarNode) -> Any:
        tag, value = node.tag, node.value
        if tag == STR_TAG:
            return self.text(node)
        if tag not in (PLAIN_TAG, NULL_TAG, BOOL_TAG, INT_TAG, FLOAT_TAG):
            return self.fail(node, _unsupported_tag(tag))
        typed = _json_scalar(value)
        expected = _EXPLICIT_TYPES.get(tag)
        if expected is not None and not expected(typed):
            return self.fail(node, f"`{value}` is not a valid {tag.removeprefix(_CORE)} ({tag.replace(_CORE, '!!')})")
        if typed is _NOT_JSON:
            return self.fail(node, f"`{value}` is not a JSON number (JSON has no infinity or NaN); quote it for text")
        if isinstance(typed, str):
            return self.text(node)
        return typed


_NOT_JSON = object()
# What an explicitly tagged user_data scalar (`!!int 5`) must read as.
_EXPLICIT_TYPES: dict[str, Callable[[Any], bool]] = {
    NULL_TAG: lambda v: v is None,
    BOOL_TAG: lambda v: isinstance(v, bool),
    INT_TAG: lambda v: isinstance(v, int) and not isinstance(v, bool),
    FLOAT_TAG: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


def _json_scalar(text: str) -> Any:
    """A plain scalar as YAML 1.2's core schema reads it: null, bool, int, float, or text."""
    if text in NULL_WORDS:
        return None
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    if _INT.fullmatch(text):
        return _int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF_NAN.fullmatch(text):
        return _NOT_JSON
    return text


def _int(text: str) -> int:
    """A YAML 1.2 core-schema integer that `_INT` matched: decimal, 0o octal or 0x hexadecimal."""
    return int(text, 0) if text[:2] in ("0o", "0x") else int(text)


def _as_integer(node: ScalarNode) -> int | None:
    """The integer a plain or `!!int` scalar writes; None when it writes none."""
    return _int(node.value) if node.tag in (PLAIN_TAG, INT_TAG) and _INT.fullmatch(node.value) else None


def _as_boolean(node: ScalarNode) -> bool | None:
    """The boolean a plain or `!!bool` scalar writes; None when it writes none (YAML 1.2: `yes` is not one)."""
    if node.tag in (PLAIN_TAG, BOOL_TAG):
        if node.value in TRUE_WORDS:
            return True
        if node.value in FALSE_WORDS:
            return False
    return None


def _unsupported_tag(tag: str) -> str:
    shown = tag.replace(_CORE, "!!")
    return f"YAML tag `{shown}` is not supported in manifests; remove it"


def _column_offset(node: ScalarNode, offset: int) -> int:
    """Columns from the node's start to character `offset` of its value, when the value is written on one
    line without escapes (so the text maps 1:1 onto the source); else 0, pointing at the value's start."""
    start, end = node.start_mark, node.end_mark
    if start.line != end.line:
        return 0
    width = end.column - start.column
    if not node.style and width == len(node.value):  # plain: libyaml reports style "" (PyYAML None)
        return offset
    if node.style in ("'", '"') and width == len(node.value) + 2:
        return offset + 1
    return 0


class _Merging:
    """A mapping on the merge stack: the pairs written in it, the mappings it merges, and how many of those
    have been looked at."""

    __slots__ = ("next", "node", "own", "sources")

    def __init__(self, node: MappingNode, own: Items, sources: list[tuple[ScalarNode, MappingNode]]) -> None:
        self.node = node
        self.own = own
        self.sources = sources
        self.next = 0

    def next_source(self, merged: dict[int, Items]) -> MappingNode | None:
        """The next mapping to merge that is not merged itself yet; None when all of them are."""
        while self.next < len(self.sources):
            source = self.sources[self.next][1]
            self.next += 1
            if id(source) not in merged:
                return source
        return None
