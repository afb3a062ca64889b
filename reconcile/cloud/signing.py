"""Request signatures for Alibaba Cloud RPC APIs, shared by the client (to sign) and the emulator (to verify).

V1 is HMAC-SHA1 over the sorted parameters (`SignatureVersion=1.0`); V3 is ACS3-HMAC-SHA256 over a
canonical request whose headers are exactly those named in `SignedHeaders`. Both follow
`shared/reference/API.md` section 3 and its test vectors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

V3_ALGORITHM = "ACS3-HMAC-SHA256"
V1_METHOD = "HMAC-SHA1"
V1_VERSION = "1.0"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

HeaderValue = str | Iterable[str]


# ASCII outside the unreserved set, and each such character's escape. For ASCII text one regex pass over the
# characters to escape gives what `quote` gives, several times faster on the long comma-joined id lists
# of every GetVideoInfos (`quote` maps every byte through Python when any one needs escaping).
_RESERVED_ASCII = re.compile(r"[^A-Za-z0-9_.~-]")
_PERCENT_ESCAPES = {chr(code): f"%{code:02X}" for code in range(128)}
_FORM_ESCAPES = _PERCENT_ESCAPES | {" ": "+"}


def _percent_escape(match: re.Match[str]) -> str:
    return _PERCENT_ESCAPES[match.group()]


def _form_escape(match: re.Match[str]) -> str:
    return _FORM_ESCAPES[match.group()]


def percent_encode(value: str) -> str:
    """RFC 3986 encoding of UTF-8 bytes: only `A-Z a-z 0-9 - _ . ~` stay; space is `%20`, `*` is `%2A`."""
    if value.isascii():
        return _RESERVED_ASCII.sub(_percent_escape, value)
    return quote(value, safe="-_.~")


def form_encode(value: str) -> str:
    """`application/x-www-form-urlencoded` encoding, as `quote_plus` writes it: `percent_encode`, but space is `+`."""
    if value.isascii():
        return _RESERVED_ASCII.sub(_form_escape, value)
    return quote_plus(value)


def canonical_query(params: Mapping[str, str]) -> str:
    """`enc(name)=enc(value)` pairs sorted by name (byte order of the encoded name), joined by `&`."""
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


# --- V1: HMAC-SHA1 -------------------------------------------------------------------------------


# A canonical query holds only unreserved characters and `%`, `=`, `&` (its names and values are already
# encoded), so encoding it a second time only touches those three: the same result as `percent_encode`,
# without a general encoder's per-byte work on a long string.
_ENCODE_CANONICAL_QUERY = str.maketrans({"%": "%25", "&": "%26", "=": "%3D"})


def v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """Every parameter except `Signature` is signed, including empty and unknown ones."""
    signed = {k: v for k, v in params.items() if k != "Signature"}
    return f"{method.upper()}&%2F&{canonical_query(signed).translate(_ENCODE_CANONICAL_QUERY)}"


def v1_signature(secret: str, string_to_sign: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# --- V3: ACS3-HMAC-SHA256 ------------------------------------------------------------------------


def sha256_hex(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def canonical_headers(headers: Mapping[str, HeaderValue], signed_headers: Iterable[str]) -> str:
    """One `name:value\\n` line per signed header; repeated headers are sorted and joined with `,`.

    `headers` may use any case for its names; a value may be a string or a list of the values of a
    header that was sent more than once.
    """
    grouped: dict[str, list[str]] = {}
    for name, value in headers.items():
        values = [value] if isinstance(value, str) else list(value)
        grouped.setdefault(name.lower(), []).extend(v.strip() for v in values)
    lines = []
    for name in signed_headers:
        values = sorted(grouped.get(name, []))
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def signed_header_names(headers: Iterable[str]) -> list[str]:
    return sorted({h.lower() for h in headers})


def v3_canonical_request(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, HeaderValue],
    signed_headers: list[str],
    hashed_payload: str,
) -> str:
    return "\n".join(
        [
            method.upper(),
            path or "/",
            canonical_query(query),
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            hashed_payload,
        ]
    )


def v3_string_to_sign(canonical_request: str) -> str:
    return f"{V3_ALGORITHM}\n{sha256_hex(canonical_request.encode())}"


def v3_signature(secret: str, string_to_sign: str) -> str:
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def v3_authorization(access_key_id: str, signed_headers: list[str], signature: str) -> str:
    return f"{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={';'.join(signed_headers)},Signature={signature}"


def parse_v3_authorization(value: str) -> tuple[str, list[str], str] | None:
    """`(access_key_id, signed_headers, signature)` from an Authorization header, or None if malformed."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != V3_ALGORITHM:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            return None
        fields[key] = val
    try:
        return fields["Credential"], [h for h in fields["SignedHeaders"].split(";") if h], fields["Signature"]
    except KeyError:
        return None


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
