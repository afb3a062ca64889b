"""From an HTTP response to a JSON body or an exception of the `reconcile.cloud.errors` tree.

Success is a 2xx JSON object with a `RequestId`. An error is a JSON envelope with a `Code` (API.md
section 6), classified by `errors.classify`. Anything else (an HTML page from a proxy, a truncated body,
JSON without the API's shape) did not come from the API: `TransportError`, which is retried.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconcile.cloud.errors import TransportError, classify
from reconcile.cloud.wire import redact

RETRY_AFTER_HEADER = "x-acs-retry-after"
REQUEST_ID_HEADER = "x-acs-request-id"
SNIPPET = 120  # characters of a foreign body quoted in the error


def retry_after_ms(headers: Mapping[str, str]) -> int | None:
    """A positive integer `x-acs-retry-after` (milliseconds), else None."""
    value = headers.get(RETRY_AFTER_HEADER, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def decode(
    action: str,
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    secrets: tuple[str, ...],
) -> dict[str, Any]:
    """The JSON body of a successful call, or raise the error it carries. Server text is scrubbed of secrets."""
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        snippet = redact(content[:SNIPPET].decode("utf-8", "replace"), secrets)
        kind = headers.get("content-type") or "no content type"
        raise TransportError(
            f"HTTP {status} with a body that is not the API's JSON ({kind}): {snippet!r}", action=action
        )
    request_id = body.get("RequestId") or headers.get(REQUEST_ID_HEADER)
    if 200 <= status < 300:
        if not isinstance(request_id, str) or not request_id:
            raise TransportError(f"HTTP {status} JSON without a RequestId: not an API response", action=action)
        return body
    code = body.get("Code")
    if not isinstance(code, str) or not code:
        raise TransportError(f"HTTP {status} JSON without an error Code: not an API response", action=action)
    message = redact(str(body.get("Message") or ""), secrets)
    error_class = classify(code, status)
    raise error_class(
        code,
        message,
        request_id=str(request_id) if request_id else None,
        status=status,
        action=action,
        retry_after_ms=retry_after_ms(headers),
    )
