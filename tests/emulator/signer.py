"""Test-side request signing over `reconcile.cloud.signing`: what any client of the emulator sends."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Mapping
from urllib.parse import urlencode

import httpx

from reconcile.cloud.limits import MTS_VERSION, VOD_VERSION, product_of
from reconcile.cloud.signing import (
    sha256_hex,
    signed_header_names,
    v1_signature,
    v1_string_to_sign,
    v3_authorization,
    v3_canonical_request,
    v3_signature,
    v3_string_to_sign,
)

KEY_ID = "emulator"
SECRET = "emulator-secret"
HOST = "vod.cn-shanghai.aliyuncs.com"
_nonces = itertools.count()


def version_of(action: str) -> str:
    return MTS_VERSION if product_of(action) == "mts" else VOD_VERSION


def timestamp(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def fresh_nonce() -> str:
    return hashlib.md5(f"nonce-{next(_nonces)}".encode()).hexdigest()


def v3_request(
    action: str,
    params: Mapping[str, str],
    *,
    now: float,
    key_id: str = KEY_ID,
    secret: str = SECRET,
    nonce: str | None = None,
    form: bool = False,
    version: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
    body_override: bytes | None = None,
) -> httpx.Request:
    """A V3 (ACS3-HMAC-SHA256) POST: parameters in the query like the SDK, or in a form body."""
    body = urlencode(dict(params)).encode() if form else b""
    query = {} if form else dict(params)
    headers = {
        "host": HOST,
        "x-acs-action": action,
        "x-acs-version": version or version_of(action),
        "x-acs-date": timestamp(now),
        "x-acs-signature-nonce": nonce or fresh_nonce(),
        "x-acs-content-sha256": sha256_hex(body),
        "accept": "application/json",
        **(extra_headers or {}),
    }
    if form:
        headers["content-type"] = "application/x-www-form-urlencoded"
    signed = signed_header_names(headers)
    canonical = v3_canonical_request("POST", "/", query, headers, signed, headers["x-acs-content-sha256"])
    signature = v3_signature(secret, v3_string_to_sign(canonical))
    headers["authorization"] = v3_authorization(key_id, signed, signature)
    return httpx.Request(
        "POST", httpx.URL(f"http://{HOST}/", params=query), headers=headers, content=body_override or body
    )


def v1_params(
    action: str,
    params: Mapping[str, str],
    *,
    now: float,
    method: str = "GET",
    key_id: str = KEY_ID,
    secret: str = SECRET,
    nonce: str | None = None,
    version: str | None = None,
) -> dict[str, str]:
    """All V1 (HMAC-SHA1) parameters of a request, Signature included."""
    signed = {
        "Action": action,
        "Version": version or version_of(action),
        "Format": "JSON",
        "AccessKeyId": key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or fresh_nonce(),
        "Timestamp": timestamp(now),
        **params,
    }
    signed["Signature"] = v1_signature(secret, v1_string_to_sign(method, signed))
    return signed


def v1_query_request(action: str, params: Mapping[str, str], *, now: float, **kwargs: str) -> httpx.Request:
    all_params = v1_params(action, params, now=now, method="GET", **kwargs)
    return httpx.Request("GET", httpx.URL(f"http://{HOST}/", params=all_params))


def v1_form_request(action: str, params: Mapping[str, str], *, now: float, **kwargs: str) -> httpx.Request:
    """V1 POST like the legacy SDK: common parameters and Signature in the query, the rest in a form body."""
    all_params = v1_params(action, params, now=now, method="POST", **kwargs)
    query = {k: v for k, v in all_params.items() if k not in params}
    return httpx.Request(
        "POST",
        httpx.URL(f"http://{HOST}/", params=query),
        headers={"content-type": "application/x-www-form-urlencoded"},
        content=urlencode(dict(params)).encode(),
    )
