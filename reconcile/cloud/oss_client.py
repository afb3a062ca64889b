"""The OSS object API over a `CloudSession`: V4-signed, paced, retried and counted like the MPS and VOD calls.

    oss = OssClient(session, endpoint=oss_endpoint(settings))
    info = await oss.head_object("media-in", "cn-shanghai", "raw/ep3.mp4")     # None when not there
    page = await oss.list_objects_v2("media-in", "cn-shanghai", prefix="raw/")

In the cloud a bucket is addressed virtual-hosted, `https://<bucket>.oss-<region>.aliyuncs.com/<key>`; with
an endpoint override (RECONCILE_OSS_ENDPOINT, else RECONCILE_ENDPOINT / --endpoint: the emulator) path-style,
`<endpoint>/<bucket>/<key>`. Errors are the `reconcile.cloud.errors` tree: NoSuchKey and NoSuchBucket are
NotFoundError, AccessDenied is ForbiddenError, FileAlreadyExists is ConflictError.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import httpx

from reconcile.cloud import oss_signing
from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import Credentials
from reconcile.cloud.endpoints import EndpointError, normalize_endpoint
from reconcile.cloud.errors import ConflictError, NotFoundError, TransportError, classify
from reconcile.cloud.oss_wire import (
    ERROR_HEADER,
    FORBID_OVERWRITE_HEADER,
    LIST_MAX_KEYS,
    REQUEST_ID_HEADER,
    oss_host,
    parse_error,
)
from reconcile.cloud.responses import SNIPPET
from reconcile.cloud.settings import InvalidSettingsError
from reconcile.cloud.wire import SignedRequest, redact

ENV_OSS_ENDPOINT = "RECONCILE_OSS_ENDPOINT"


def oss_endpoint(env: Mapping[str, str], general: str | None) -> str | None:
    """The endpoint every OSS call goes to path-style: RECONCILE_OSS_ENDPOINT, else the general override
    (`--endpoint` / RECONCILE_ENDPOINT); None for each bucket's own endpoint."""
    value = env.get(ENV_OSS_ENDPOINT, "").strip()
    if not value:
        return general
    try:
        return normalize_endpoint(value, ENV_OSS_ENDPOINT)
    except EndpointError as exc:
        raise InvalidSettingsError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str


@dataclass(frozen=True, slots=True)
class ObjectData:
    body: bytes
    etag: str
    last_modified: float | None  # server clock, seconds since the epoch (Last-Modified)
    served_at: float | None  # server clock when it answered (Date): its age is served_at - last_modified


@dataclass(frozen=True, slots=True)
class ObjectPage:
    objects: tuple[ObjectInfo, ...]
    common_prefixes: tuple[str, ...]
    next_token: str | None  # None on the last page


class OssExchange:
    """One OSS request (`reconcile.cloud.client.Exchange`): signed afresh on every attempt."""

    def __init__(
        self,
        *,
        action: str,
        region: str,
        method: str,
        bucket: str,
        key: str | None,
        endpoint_override: str | None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        timestamp: Callable[[], str],
    ) -> None:
        self.action = action
        self.region = region
        self.method = method
        self.bucket = bucket
        self.key = key
        self.query = oss_signing.encode_query(query or {})
        self.headers = dict(headers or {})
        self.body = body
        self._timestamp = timestamp
        if endpoint_override is not None:
            self.endpoint = endpoint_override
            path = f"/{bucket}/{quote(key) if key is not None else ''}"
        else:
            self.endpoint = f"https://{oss_host(bucket, region)}"
            path = f"/{quote(key) if key is not None else ''}"
        self.url = f"{self.endpoint}{path}{'?' + self.query if self.query else ''}"

    def sign(self, credentials: Credentials) -> SignedRequest:
        headers = dict(self.headers)
        headers["authorization"] = oss_signing.sign_headers(
            self.method,
            self.bucket,
            self.key,
            self.query,
            headers,
            access_key_id=credentials.access_key_id,
            secret=credentials.access_key_secret,
            region=self.region,
            timestamp=self._timestamp(),
            security_token=credentials.security_token,
        )
        return SignedRequest(self.method, self.url, headers, self.body)

    def decode(self, response: httpx.Response, secrets: tuple[str, ...]) -> dict[str, Any]:
        request_id = self.request_id(response)
        if 200 <= response.status_code < 300:
            return {"RequestId": request_id or "", "headers": response.headers, "body": response.content}
        fields = parse_error(response.content, response.headers.get(ERROR_HEADER))
        if fields is None:
            snippet = redact(response.content[:SNIPPET].decode("utf-8", "replace"), secrets)
            kind = response.headers.get("content-type") or "no content type"
            raise TransportError(
                f"HTTP {response.status_code} that is not an OSS answer ({kind}): {snippet!r}", action=self.action
            )
        error_class = ConflictError if response.status_code == 409 else classify(fields.code, response.status_code)
        raise error_class(
            fields.code,
            redact(fields.message, secrets),
            request_id=fields.request_id or request_id,
            status=response.status_code,
            action=self.action,
        )

    def request_id(self, response: httpx.Response) -> str | None:
        return response.headers.get(REQUEST_ID_HEADER) or None


def _oss_timestamp() -> str:
    return dt.datetime.now(dt.UTC).strftime(oss_signing.DATE_FORMAT)


class OssClient:
    """The OSS operations reconcile uses, over one session (see the module docstring)."""

    def __init__(
        self, session: CloudSession, *, endpoint: str | None, timestamp: Callable[[], str] = _oss_timestamp
    ) -> None:
        self._session = session
        self._endpoint = endpoint
        self._timestamp = timestamp

    def _exchange(self, action: str, region: str, method: str, bucket: str, key: str | None, **kw: Any) -> OssExchange:
        return OssExchange(
            action=action,
            region=region,
            method=method,
            bucket=bucket,
            key=key,
            endpoint_override=self._endpoint,
            timestamp=self._timestamp,
            **kw,
        )

    async def _unless_no_such_key(self, exchange: OssExchange) -> dict[str, Any] | None:
        """The answer, or None for NoSuchKey (NoSuchBucket and the rest are raised)."""
        try:
            return await self._session.exchange(exchange)
        except NotFoundError as exc:
            if exc.code == "NoSuchKey":
                return None
            raise

    async def head_object(self, bucket: str, region: str, key: str) -> ObjectInfo | None:
        """The object's size and ETag, or None when it does not exist (NoSuchKey). NoSuchBucket is raised."""
        answer = await self._unless_no_such_key(self._exchange("HeadObject", region, "HEAD", bucket, key))
        if answer is None:
            return None
        headers = answer["headers"]
        return ObjectInfo(key, int(headers.get("content-length") or 0), headers.get("etag", ""))

    async def list_objects_v2(
        self,
        bucket: str,
        region: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        max_keys: int = LIST_MAX_KEYS,
        continuation_token: str | None = None,
    ) -> ObjectPage:
        query = {"list-type": "2", "encoding-type": "url", "max-keys": str(max_keys), "prefix": prefix}
        if delimiter:
            query["delimiter"] = delimiter
        if continuation_token:
            query["continuation-token"] = continuation_token
        answer = await self._session.exchange(self._exchange("ListObjectsV2", region, "GET", bucket, None, query=query))
        return _parse_listing(answer["body"])

    async def put_object(
        self, bucket: str, region: str, key: str, body: bytes, *, forbid_overwrite: bool = False
    ) -> str:
        """Write the object; its ETag. With `forbid_overwrite`, ConflictError (FileAlreadyExists) when it exists."""
        headers = {"content-type": "application/octet-stream"}
        if forbid_overwrite:
            headers[FORBID_OVERWRITE_HEADER] = "true"
        answer = await self._session.exchange(
            self._exchange("PutObject", region, "PUT", bucket, key, headers=headers, body=body)
        )
        return str(answer["headers"].get("etag", ""))

    async def get_object(self, bucket: str, region: str, key: str) -> ObjectData | None:
        """The object's bytes, ETag and times, or None when it does not exist (NoSuchKey)."""
        answer = await self._unless_no_such_key(self._exchange("GetObject", region, "GET", bucket, key))
        if answer is None:
            return None
        headers = answer["headers"]
        return ObjectData(
            bytes(answer["body"]),
            headers.get("etag", ""),
            _http_time(headers.get("last-modified")),
            _http_time(headers.get("date")),
        )

    async def delete_object(self, bucket: str, region: str, key: str) -> None:
        await self._session.exchange(self._exchange("DeleteObject", region, "DELETE", bucket, key))


def _http_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def _parse_listing(body: bytes) -> ObjectPage:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise TransportError("a ListObjectsV2 answer that is not XML", action="ListObjectsV2") from None
    encoded = root.findtext("EncodingType") == "url"

    def text(value: str | None) -> str:
        return unquote(value or "") if encoded else (value or "")

    objects = tuple(
        ObjectInfo(text(item.findtext("Key")), int(item.findtext("Size") or 0), item.findtext("ETag") or "")
        for item in root.iter("Contents")
    )
    prefixes = tuple(text(item.findtext("Prefix")) for item in root.iter("CommonPrefixes"))
    truncated = (root.findtext("IsTruncated") or "false").lower() == "true"
    token = root.findtext("NextContinuationToken") if truncated else None
    return ObjectPage(objects, prefixes, token or None)


__all__ = ["ObjectData", "ObjectInfo", "ObjectPage", "OssClient", "OssExchange", "oss_endpoint"]
