"""SearchMedia's `Match` expressions ("Protocol for media asset search"), compiled to a predicate.

    exact / multi-value   VideoId = 'a'        Status in ('Normal','UploadSucc')
    fuzzy (substring)     Title = 'demo'       Tags in ('a','b')
    range                 CreationTime = ('2024-05-01T00:00:00Z','2024-06-01T00:00:00Z']   ( ) open, [ ] closed
    combine               A and B              or only inside parentheses: (A or B) and C

Matchable here: VideoId, AppId, CateId, StorageLocation, Status (exact); Title, Description, Tags (fuzzy,
case-insensitive substring); CreationTime, ModificationTime, Size (range). Any other field, a form the field
does not support, more than 100 ids in one VideoId condition, or bad syntax is `InvalidParameter` "Match".
A VideoId condition outside parentheses also names the only records worth testing (`Match.video_ids`).
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from reconcile.cloud.limits import SEARCH_VIDEO_IDS_MAX
from reconcile.emulator.exceptions import invalid_parameter
from reconcile.model.media import MUTABLE_NAMES


class FieldKind(Enum):
    EXACT = "exact"
    FUZZY = "fuzzy"
    TIME_RANGE = "time range"
    NUMBER_RANGE = "number range"


# Match field -> (record attribute, kind)
MATCH_FIELDS: dict[str, tuple[str, FieldKind]] = {
    "VideoId": ("media_id", FieldKind.EXACT),
    "AppId": ("app_id", FieldKind.EXACT),
    "CateId": ("cate_id", FieldKind.EXACT),
    "StorageLocation": ("storage_location", FieldKind.EXACT),
    "Status": ("status", FieldKind.EXACT),
    "Title": ("title", FieldKind.FUZZY),
    "Description": ("description", FieldKind.FUZZY),
    "Tags": ("tags", FieldKind.FUZZY),
    "CreationTime": ("creation_time", FieldKind.TIME_RANGE),
    "ModificationTime": ("modification_time", FieldKind.TIME_RANGE),
    "Size": ("size", FieldKind.NUMBER_RANGE),
}
SORT_FIELDS = {"CreationTime": "creation_time", "ModificationTime": "modification_time"}
SEARCH_TYPES = frozenset({"video", "audio", "image", "attached"})

Predicate = Callable[[Any], bool]

_TOKEN_RE = re.compile(r"\s*(?:'(?P<str>[^']*)'|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[=(),\[\]]))")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    match: str | None = None
    search_type: str = "video"
    sort_by: tuple[str, bool] = ("creation_time", True)  # (record attribute, descending)
    page_no: int = 1  # with a ScrollToken: pages after the token's position
    page_size: int = 10
    scroll_offset: int | None = None  # from a ScrollToken: the position after the page that returned it


@dataclass(frozen=True, slots=True)
class Match:
    """A compiled Match: the predicate, and the ids a top-level VideoId condition allows (None: any)."""

    predicate: Predicate
    video_ids: frozenset[str] | None = None


def parse_sort_by(value: str | None) -> tuple[str, bool]:
    if not value:
        return ("creation_time", True)
    field, _, direction = value.partition(":")
    attribute = SORT_FIELDS.get(field)
    if attribute is None or direction.lower() not in ("asc", "desc", ""):
        raise invalid_parameter("SortBy")
    return (attribute, direction.lower() != "asc")


def parse_scroll_token(token: str) -> int:
    if not re.fullmatch(r"[0-9a-f]{32}", token):
        raise invalid_parameter("ScrollToken")
    return int(token, 16)


def compile_match(text: str | None) -> Match:
    if text is None or not text.strip():
        return Match(lambda _record: True)
    parser = _Parser(text)
    predicate = parser.parse()
    return Match(predicate, parser.video_ids)


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokenize(text)
        self._pos = 0
        self._depth = 0  # parentheses of `(A or B)` around the current condition
        self.video_ids: frozenset[str] | None = None  # allowed by the top-level VideoId conditions

    def parse(self) -> Predicate:
        predicate = self._conjunction()
        if self._pos != len(self._tokens):
            raise invalid_parameter("Match")  # trailing input, e.g. a top-level `or`
        return predicate

    # conjunction := term ('and' term)*
    def _conjunction(self) -> Predicate:
        terms = [self._term()]
        while self._peek_word("and"):
            self._pos += 1
            terms.append(self._term())
        return terms[0] if len(terms) == 1 else (lambda r: all(t(r) for t in terms))

    # term := '(' conjunction ('or' conjunction)* ')' | condition
    def _term(self) -> Predicate:
        if self._peek() == ("op", "("):
            self._pos += 1
            self._depth += 1
            alternatives = [self._conjunction()]
            while self._peek_word("or"):
                self._pos += 1
                alternatives.append(self._conjunction())
            self._expect("op", ")")
            self._depth -= 1
            return alternatives[0] if len(alternatives) == 1 else (lambda r: any(a(r) for a in alternatives))
        return self._condition()

    def _condition(self) -> Predicate:
        kind, name = self._next()
        if kind != "word" or name not in MATCH_FIELDS:
            raise invalid_parameter("Match")
        attribute, field_kind = MATCH_FIELDS[name]
        if self._peek_word("in"):
            self._pos += 1
            values = self._string_list()
        else:
            self._expect("op", "=")
            if self._peek() in (("op", "("), ("op", "[")):
                return _range(attribute, field_kind, self._range_bounds())
            values = [self._string()]
        if name == "VideoId":
            if len(values) > SEARCH_VIDEO_IDS_MAX:
                raise invalid_parameter("Match")
            if self._depth == 0:
                allowed = frozenset(values)
                self.video_ids = allowed if self.video_ids is None else self.video_ids & allowed
        return _membership(attribute, field_kind, values)

    def _string_list(self) -> list[str]:
        self._expect("op", "(")
        values = [self._string()]
        while self._peek() == ("op", ","):
            self._pos += 1
            values.append(self._string())
        self._expect("op", ")")
        return values

    def _range_bounds(self) -> tuple[str, bool, str, bool]:
        _, opening = self._next()
        low = self._string()
        self._expect("op", ",")
        high = self._string()
        kind, closing = self._next()
        if kind != "op" or closing not in (")", "]"):
            raise invalid_parameter("Match")
        return (low, opening == "[", high, closing == "]")

    def _string(self) -> str:
        kind, value = self._next()
        if kind != "str":
            raise invalid_parameter("Match")
        return value

    def _peek(self) -> tuple[str, str] | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _peek_word(self, word: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == "word" and token[1].lower() == word

    def _next(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise invalid_parameter("Match")
        self._pos += 1
        return token

    def _expect(self, kind: str, value: str) -> None:
        if self._next() != (kind, value):
            raise invalid_parameter("Match")


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise invalid_parameter("Match")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def field_value(record: Any, attribute: str) -> object:
    """A record's value of a Match field: one of its metadata (by the model's field name), or an attribute."""
    return record.metadata.get(attribute) if attribute in MUTABLE_NAMES else getattr(record, attribute)


def _membership(attribute: str, kind: FieldKind, values: list[str]) -> Predicate:
    if kind is FieldKind.EXACT:
        wanted = set(values)
        return lambda r: (v := field_value(r, attribute)) is not None and str(v) in wanted
    if kind is FieldKind.FUZZY:
        needles = [v.lower() for v in values]
        return lambda r: any(n in str(field_value(r, attribute) or "").lower() for n in needles)
    raise invalid_parameter("Match")  # range fields take only ranges


def _range(attribute: str, kind: FieldKind, bounds: tuple[str, bool, str, bool]) -> Predicate:
    if kind not in (FieldKind.TIME_RANGE, FieldKind.NUMBER_RANGE):
        raise invalid_parameter("Match")
    low_text, low_closed, high_text, high_closed = bounds
    convert = _epoch if kind is FieldKind.TIME_RANGE else _number
    low = convert(low_text) if low_text else None
    high = convert(high_text) if high_text else None

    def within(record: Any) -> bool:
        value = float(getattr(record, attribute))  # times and sizes: record attributes
        if low is not None and (value < low or (value == low and not low_closed)):
            return False
        return not (high is not None and (value > high or (value == high and not high_closed)))

    return within


def _epoch(text: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        raise invalid_parameter("Match") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise invalid_parameter("Match") from None
