"""OSS V4 request signatures (OSS4-HMAC-SHA256), shared by the client (to sign) and the emulator (to verify).

The algorithm follows Alibaba Cloud's "Include a V4 signature in the Authorization header" and the
official SDK's signer (alibabacloud_oss_v2/signer/v4.py); docs/oss.md lists the sources.

    canonical request = METHOD \\n quote("/<bucket>/<key>", safe="/") \\n canonical query \\n
                        canonical headers \\n additional header names \\n x-oss-content-sha256
    string to sign    = OSS4-HMAC-SHA256 \\n <yyyymmddThhmmssZ> \\n <scope> \\n hex(sha256(canonical request))
    scope             = <yyyymmdd>/<region>/oss/aliyun_v4_request
    signing key       = HMAC chain over "aliyun_v4" + secret: date, region, "oss", "aliyun_v4_request"

The canonical URI always names the bucket, whether the request went path-style or virtual-hosted. The
canonical query is the request's query string as sent (pairs sorted, already encoded), so both sides
must hand over the raw string; `encode_query` writes one the way the SDK does.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from reconcile.cloud.signing import constant_time_equal

ALGORITHM = "OSS4-HMAC-SHA256"
PRODUCT = "oss"
TERMINATOR = "aliyun_v4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"  # x-oss-date

# Signed whatever AdditionalHeaders says.
DEFAULT_SIGNED = ("content-type", "content-md5")

_AUTHORIZATION = re.compile(
    r"^OSS4-HMAC-SHA256\s+Credential=(?P<key_id>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]*)/(?P<product>[^/,\s]+)"
    r"/(?P<terminator>[^,\s]+)\s*"
    r"(?:,\s*AdditionalHeaders=(?P<additional>[^,\s]*)\s*)?"
    r",\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*$"
)


@dataclass(frozen=True, slots=True)
class V4Authorization:
    """The parts of an `Authorization: OSS4-HMAC-SHA256 ...` header."""

    access_key_id: str
    date: str  # yyyymmdd
    region: str
    product: str
    terminator: str
    additional_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.product}/{self.terminator}"


def encode_query(params: Mapping[str, str]) -> str:
    """The query string as the SDK writes it (`urlencode(..., quote_via=quote)`): `/` stays, an empty
    value is `name=`."""
    return "&".join(f"{quote(name)}={quote(value)}" for name, value in params.items())


def canonical_uri(bucket: str | None, key: str | None) -> str:
    uri = "/"
    if bucket is not None:
        uri += f"{bucket}/"
    if key is not None:
        uri += key
    return quote(uri, safe="/")


def canonical_query(raw_query: str) -> str:
    """The raw query's `name=value` pairs sorted; a pair with an empty value is the bare name."""
    if not raw_query:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in raw_query.split("&"))
    return "&".join(f"{name}={value}" if value else name for name, value in pairs)


def signed_headers(headers: Mapping[str, str], additional: Iterable[str]) -> list[tuple[str, str]]:
    """The headers the signature covers, lowercase and sorted: every x-oss-*, content-type, content-md5 and
    the additional ones."""
    extra = set(additional)
    chosen = [
        (name.lower(), value)
        for name, value in headers.items()
        if name.lower().startswith("x-oss-") or name.lower() in DEFAULT_SIGNED or name.lower() in extra
    ]
    return sorted(chosen)


def canonical_request(
    method: str,
    bucket: str | None,
    key: str | None,
    raw_query: str,
    headers: Mapping[str, str],
    additional: Iterable[str] = (),
) -> str:
    additional = sorted(additional)
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in signed_headers(headers, additional))
    payload = next((v for k, v in headers.items() if k.lower() == "x-oss-content-sha256"), UNSIGNED_PAYLOAD)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(bucket, key),
            canonical_query(raw_query),
            canonical_headers,
            ";".join(additional),
            payload,
        ]
    )


def scope(date: str, region: str) -> str:
    return f"{date}/{region}/{PRODUCT}/{TERMINATOR}"


def string_to_sign(timestamp: str, request_scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{request_scope}\n{digest}"


def signature(secret: str, date: str, region: str, text_to_sign: str, product: str = PRODUCT) -> str:
    key = ("aliyun_v4" + secret).encode("utf-8")
    for part in (date, region, product, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, text_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization(access_key_id: str, request_scope: str, additional: Iterable[str], sig: str) -> str:
    names = ";".join(sorted(additional))
    extra = f",AdditionalHeaders={names}" if names else ""
    return f"{ALGORITHM} Credential={access_key_id}/{request_scope}{extra},Signature={sig}"


def parse_authorization(value: str) -> V4Authorization | None:
    match = _AUTHORIZATION.match(value.strip())
    if match is None:
        return None
    additional = tuple(name.lower() for name in (match["additional"] or "").split(";") if name)
    return V4Authorization(
        access_key_id=match["key_id"],
        date=match["date"],
        region=match["region"],
        product=match["product"],
        terminator=match["terminator"],
        additional_headers=additional,
        signature=match["signature"].lower(),
    )


def sign_headers(
    method: str,
    bucket: str | None,
    key: str | None,
    raw_query: str,
    headers: dict[str, str],
    *,
    access_key_id: str,
    secret: str,
    region: str,
    timestamp: str,
    security_token: str | None = None,
) -> str:
    """Add x-oss-date, x-oss-content-sha256 (and the STS token) to `headers` and return the Authorization
    value for them; the string to sign is not returned (it is not a secret, but nothing needs it)."""
    headers["x-oss-date"] = timestamp
    headers["x-oss-content-sha256"] = UNSIGNED_PAYLOAD
    if security_token:
        headers["x-oss-security-token"] = security_token
    request_scope = scope(timestamp[:8], region)
    canonical = canonical_request(method, bucket, key, raw_query, headers)
    sig = signature(secret, timestamp[:8], region, string_to_sign(timestamp, request_scope, canonical))
    return authorization(access_key_id, request_scope, (), sig)


def verify(expected_signature: str, sig: str) -> bool:
    return constant_time_equal(expected_signature, sig)
