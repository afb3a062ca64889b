"""YAML → node trees that keep every value's position and the exact text the user wrote.

Manifests are composed, never constructed: PyYAML's constructor turns `no` into False, `1.10` into 1.1 and
`2024-01-01` into a date, and silently keeps the last of two duplicate keys. Composing with libyaml (the C
parser) keeps each scalar's text and start mark, and our own resolver only records whether a scalar was
written plain (unquoted), so each field decides what its text means (see `reader.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconcile.manifest.diagnostics import Diagnostic
from reconcile.manifest.sources import ManifestFile

__all__ = ["MAP_TAG", "PLAIN_TAG", "SEQ_TAG", "STR_TAG", "MappingNode", "Node", "ScalarNode", "SequenceNode"]

STR_TAG = "tag:yaml.org,2002:str"
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
# Our marker for an unquoted, untagged scalar: its meaning (text, number, boolean, null) depends on the field.
PLAIN_TAG = "reconcile:plain"

# YAML 1.2 core-schema nulls; `~` or `null` as a required value is "missing", never the text "null".
NULL_WORDS = frozenset({"", "~", "null", "Null", "NULL"})

# Hints for the YAML mistakes people make in manifests, keyed by a fragment of libyaml's message.
_HINTS = {
    "mapping values are not allowed": "quote a value that contains `: `",
    "found undefined alias": "define the anchor (`&name`) before using the alias (`*name`)",
}
# ... and by the character where libyaml stopped.
_CHARACTER_HINTS = {
    "\t": "indent with spaces, not tabs",
    "@": "quote a value that starts with `@`",
    "`": "quote a value that starts with `` ` ``",
}


class _NodeLoader(yaml.CBaseLoader):
    """libyaml composition with a resolver that tags every scalar as plain or text, and nothing else."""

    def resolve(self, kind: type[Node], value: str, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return PLAIN_TAG if implicit[0] else STR_TAG
        return MAP_TAG if kind is MappingNode else SEQ_TAG

    # Path resolvers are a PyYAML feature manifests never use; skipping them keeps composition lean.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


# libyaml composes recursively in C: a document nested ~20,000 levels deep overflows an 8 MiB C stack (a
# crash, not an exception), and deep flow nesting makes its scanner slow. A file's nesting has a bound that
# needs no parsing: a block collection nests only by indenting (a level at most every other column, since a
# sequence may sit at its mapping key's indentation) or by `- ` / `? ` indicators, which take columns too, so
# block nesting stays under 2 * (longest line + 1); and each flow level opens with a `[` or `{` of its own.
# Splitting lines at `\n` only, and counting brackets inside quotes and comments, can only overestimate. A
# file whose bound stays within SAFE_NESTING is composed directly (every ordinary manifest, however long); any
# other is first scanned as events, which libyaml produces without recursion, and refused beyond MAX_NESTING.
MAX_NESTING = 1_000
SAFE_NESTING = 15_000


def is_null(node: Node) -> bool:
    return node.tag == PLAIN_TAG and node.value in NULL_WORDS


def compose_documents(file: ManifestFile) -> tuple[list[Node], list[Diagnostic]]:
    """The file's non-empty documents, or the reason it cannot be read as YAML (documents before a syntax
    error are still returned, so their problems are reported too)."""
    try:
        text = file.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _position_of_byte(file.data, exc.start)
        byte = file.data[exc.start]
        message = f"not UTF-8 text (byte 0x{byte:02x}); manifests must be saved as UTF-8"
        return [], [Diagnostic(file.path, line, col, message)]
    too_deep = _first_too_deep(file.data)
    if too_deep is not None:
        return [], [_too_deep_problem(file.path, *too_deep)]
    documents: list[Node] = []
    try:
        for node in yaml.compose_all(file.data, Loader=_NodeLoader):
            if node is not None and not is_null(node):
                documents.append(node)
    except yaml.MarkedYAMLError as exc:
        too_deep = _first_too_deep(file.data, scan_anyway=True)
        if too_deep is not None:
            return documents, [_too_deep_problem(file.path, *too_deep)]
        return documents, [_syntax_problem(file.path, text, exc)]
    except yaml.reader.ReaderError as exc:
        line, col = _position_of_byte(file.data, exc.position)
        message = f"invalid YAML: {exc.reason} (character U+{exc.character:04X})"
        if exc.character < 0:
            message = f"invalid YAML: {exc.reason}"
        return documents, [Diagnostic(file.path, line, col, message)]
    except yaml.YAMLError as exc:  # libyaml raises only the two above; this keeps a traceback impossible
        return documents, [Diagnostic(file.path, 1, 1, f"invalid YAML: {exc}")]
    return documents, []


def _too_deep_problem(path: str, line: int, col: int) -> Diagnostic:
    message = f"nested more than {MAX_NESTING} levels deep; a manifest never needs this, so the file is refused"
    return Diagnostic(path, line, col, message)


def _first_too_deep(data: bytes, *, scan_anyway: bool = False) -> tuple[int, int] | None:
    """Where the first collection nested deeper than MAX_NESTING starts (1-based line and column), if any."""
    if not scan_anyway and nesting_bound(data) <= SAFE_NESTING:
        return None
    try:
        return _deeper_than_max(yaml.parse(data, Loader=_NodeLoader))
    except yaml.MarkedYAMLError as exc:
        return _too_deep_before(data, exc.problem_mark)
    except yaml.YAMLError:
        return None  # composition stops at the same error and reports it


def _too_deep_before(data: bytes, mark: yaml.Mark | None) -> tuple[int, int] | None:
    """Whether libyaml stopped at `mark` because the file nests too deep, whatever its wording.

    Some libyaml builds (the one PyYAML 6.0.4 bundles) stop at a nesting limit of their own, with their own
    message, and their scanner runs ahead of the events; others have no limit. Which one is installed must
    not change what the user is told: the text up to the error is parsed again with PyYAML's pure-Python
    parser (a state machine, no recursion, no limit), only when that text could nest that deep at all.
    """
    if mark is None:
        return None
    prefix = data.decode("utf-8", errors="replace")[: mark.index + 1]
    if nesting_bound(prefix.encode()) <= MAX_NESTING:
        return None
    try:
        return _deeper_than_max(yaml.parse(prefix, Loader=yaml.BaseLoader))
    except yaml.YAMLError:
        return None


def _deeper_than_max(events: Iterable[yaml.Event]) -> tuple[int, int] | None:
    depth = 0
    for event in events:
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            mark = event.start_mark
            if depth > MAX_NESTING and mark is not None:
                return mark.line + 1, mark.column + 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def nesting_bound(data: bytes) -> int:
    """A number of levels the file cannot nest deeper than (see SAFE_NESTING)."""
    longest_line = max(map(len, data.split(b"\n")))
    return 2 * (longest_line + 1) + data.count(b"[") + data.count(b"{")


def _syntax_problem(path: str, text: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    message = f"invalid YAML: {exc.problem or exc.context}"
    if exc.context and exc.problem and exc.context_mark is not None:
        started = exc.context_mark
        message += f" ({exc.context} at line {started.line + 1}, column {started.column + 1})"
    # libyaml's marks count characters (its `index` too), so the text shows where it stopped.
    character = text[mark.index : mark.index + 1].lstrip("\ufeff") if mark is not None else ""
    hint = _CHARACTER_HINTS.get(character) or next((h for fragment, h in _HINTS.items() if fragment in message), None)
    if hint:
        message += f"; {hint}"
    return Diagnostic(path, line, col, message)


def _position_of_byte(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and character column of a byte offset (libyaml reports reader errors in bytes)."""
    before = data[:offset].decode("utf-8", errors="replace").removeprefix("\ufeff")
    line_start = before.rfind("\n") + 1
    return before.count("\n") + 1, len(before) - line_start + 1
