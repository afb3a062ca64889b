"""One signed RPC request on the wire: what is sent where, for V3 (default) and V1 signatures.

Both versions POST to `/` with the operation's parameters in an `application/x-www-form-urlencoded`
body (sorted, as the SDK's `to_form` writes it), so long JSON parameters never meet URL length limits:

- V3: empty query; `x-acs-action` / `x-acs-version` / `x-acs-date` / `x-acs-signature-nonce` /
  `x-acs-content-sha256` headers (and `x-acs-security-token` + `x-acs-accesskey-id` with STS), all of
  them plus `host` and `content-type` signed; `Authorization: ACS3-HMAC-SHA256 ...`.
- V1: the common parameters (and `SecurityToken` with STS) in the query, `Signature` last; the signature
  covers query and body parameters together (API.md section 3.1, vector V1-d).

The pure `sign_v3` / `sign_v1` take the nonce and timestamp as arguments, so the API.md vectors and
the official SDK's utilities can check them exactly; `fresh_nonce` / `utc_timestamp` give new ones for
every attempt.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote_plus, urlsplit

from reconcile.cloud import signing
from reconcile.cloud.credentials import Credentials

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
V1_FORMAT = "json"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """Everything httpx needs to send one attempt."""

    method: str
    url: str  # base endpoint + "/" + query string
    headers: dict[str, str]
    content: bytes


def fresh_nonce() -> str:
    """32 hex characters, unique per attempt (the SDKs send an MD5-like hex string or a UUID)."""
    return uuid.uuid4().hex


def utc_timestamp() -> str:
    """`YYYY-MM-DDThh:mm:ssZ` now, as `Timestamp` (V1) and `x-acs-date` (V3) want it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def form_body(params: Mapping[str, str]) -> bytes:
    """Sorted form encoding, as the SDK's `Utils.to_form` writes it (space as `+`)."""
    encode = signing.form_encode
    return "&".join(f"{encode(name)}={encode(value)}" for name, value in sorted(params.items())).encode()


def host_of(endpoint: str) -> str:
    """The Host header httpx sends for `endpoint` (the port only when it is not the scheme's default)."""
    parts = urlsplit(endpoint)
    default_port = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return host if parts.port in (None, default_port) else f"{host}:{parts.port}"


def sign_v3(
    endpoint: str,
    action: str,
    version: str,
    params: Mapping[str, str],
    credentials: Credentials,
    *,
    nonce: str,
    timestamp: str,
) -> SignedRequest:
    body = form_body(params) if params else b""
    headers = {
        "host": host_of(endpoint),
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": timestamp,
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": signing.sha256_hex(body),
    }
    if body:
        headers["content-type"] = FORM_CONTENT_TYPE
    if credentials.security_token:
        headers["x-acs-security-token"] = credentials.security_token
        headers["x-acs-accesskey-id"] = credentials.access_key_id
    signed = signing.signed_header_names(headers)
    canonical = signing.v3_canonical_request("POST", "/", {}, headers, signed, headers["x-acs-content-sha256"])
    signature = signing.v3_signature(credentials.access_key_secret, signing.v3_string_to_sign(canonical))
    headers["authorization"] = signing.v3_authorization(credentials.access_key_id, signed, signature)
    return SignedRequest("POST", f"{endpoint}/", headers, body)


def sign_v1(
    endpoint: str,
    action: str,
    version: str,
    params: Mapping[str, str],
    credentials: Credentials,
    *,
    nonce: str,
    timestamp: str,
) -> SignedRequest:
    query = {
        "AccessKeyId": credentials.access_key_id,
        "Action": action,
        "Format": V1_FORMAT,
        "SignatureMethod": signing.V1_METHOD,
        "SignatureNonce": nonce,
        "SignatureVersion": signing.V1_VERSION,
        "Timestamp": timestamp,
        "Version": version,
    }
    if credentials.security_token:
        query["SecurityToken"] = credentials.security_token
    clash = sorted(set(query) & set(params))
    if clash:
        raise ValueError(f"{action}: parameters {clash} collide with V1 common parameters")
    string_to_sign = signing.v1_string_to_sign("POST", {**query, **params})
    query["Signature"] = signing.v1_signature(credentials.access_key_secret, string_to_sign)
    query_string = "&".join(f"{signing.percent_encode(k)}={signing.percent_encode(v)}" for k, v in query.items())
    body = form_body(params) if params else b""
    headers = {"host": host_of(endpoint)}
    if body:
        headers["content-type"] = FORM_CONTENT_TYPE
    return SignedRequest("POST", f"{endpoint}/?{query_string}", headers, body)


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret replaced by `***`, also in the percent-encoded forms a server may echo.

    A V1 `SignatureDoesNotMatch` message quotes the server's string to sign, which contains the STS
    token encoded twice; every form is scrubbed before a message reaches an exception or a log.
    """
    for secret in secrets:
        if not secret:
            continue
        once = signing.percent_encode(secret)
        forms = {secret, once, signing.percent_encode(once), quote_plus(secret), quote_plus(once)}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "***")
    return text
