"""An HTTP request and response as the gateway sees them, independent of the server that carries them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from reconcile.cloud.wire import FORM_CONTENT_TYPE

JSON_CONTENT_TYPE = "application/json;charset=utf-8"


@dataclass(slots=True)
class WireRequest:
    method: str
    path: str  # the request target's path, as sent (V3 signs it)
    query: dict[str, str]
    headers: dict[str, list[str]]  # lowercase names; a header sent twice keeps both values
    body: bytes = b""
    client_host: str | None = None

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        query_string: bytes,
        raw_headers: list[tuple[bytes, bytes]],
        body: bytes,
        client_host: str | None,
    ) -> WireRequest:
        headers: dict[str, list[str]] = {}
        for name, value in raw_headers:
            headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        query = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, encoding="utf-8"))
        return cls(method.upper(), path or "/", query, headers, body, client_host)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None

    def form(self) -> dict[str, str]:
        """The decoded form body, when there is one."""
        content_type = self.header("content-type") or ""
        if not self.body or not content_type.lower().startswith(FORM_CONTENT_TYPE):
            return {}
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def params(self) -> dict[str, str]:
        """Query and form parameters merged; a name in both takes the query's value."""
        form = self.form()
        return {**form, **self.query} if form else dict(self.query)


@dataclass(slots=True)
class WireResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False  # close the connection without sending anything (the change is already applied)
    error_code: str | None = None  # the error envelope's Code, for the request log

    @classmethod
    def json(cls, status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> WireResponse:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return cls(status, body, [("content-type", JSON_CONTENT_TYPE), *(headers or [])])
