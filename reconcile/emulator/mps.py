"""The MPS media-bucket backend (Mts 2014-06-18): bind and unbind input/output buckets, list bindings.

Rules (API.md section 4): a bucket is bound at most once, whatever its type, so binding it again as input
or output fails with `Bucket.AlreadyBind`; unbinding a bucket that is not bound with that type fails with
`InvalidParameter.ResourceNotFound` (404); names must match the bucket-name rule. ListAllMediaBucket pages
in bind order with an opaque `NextPageToken` that stays valid when buckets are unbound between pages.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict, dataclass
from typing import Any, Literal

from reconcile.cloud.limits import BUCKET_NAME_RE, LIST_BUCKETS_PAGE_DEFAULT, LIST_BUCKETS_PAGE_MAX
from reconcile.emulator.exceptions import ServiceError, invalid_parameter, missing_parameter

BucketType = Literal["Input", "Output"]
_TOKEN_PREFIX = "mediabucket:"


@dataclass(slots=True)
class BucketBinding:
    bucket: str
    type: BucketType
    referer: str | None
    sequence: int  # bind order; page tokens point into it


@dataclass(frozen=True, slots=True)
class BucketPage:
    buckets: list[BucketBinding]
    next_page_token: str | None  # None on the last page


class MpsBackend:
    def __init__(self) -> None:
        self._bindings: dict[str, BucketBinding] = {}
        self._sequence = 0
        self.revision = 0

    # --- API verbs ---------------------------------------------------------------------------------

    def bind_input_bucket(self, bucket: str, referer: str | None = None) -> None:
        self._bind(bucket, "Input", referer)

    def unbind_input_bucket(self, bucket: str, role_arn: str | None = None) -> None:
        """`role_arn` names the role MPS would use for delegated access; the emulator has no RAM to check it against."""
        self._unbind(bucket, "Input")

    def bind_output_bucket(self, bucket: str) -> None:
        self._bind(bucket, "Output", None)

    def unbind_output_bucket(self, bucket: str) -> None:
        self._unbind(bucket, "Output")

    def list_all_media_bucket(
        self, next_page_token: str | None = None, maximum_page_size: int = LIST_BUCKETS_PAGE_DEFAULT
    ) -> BucketPage:
        if not 1 <= maximum_page_size <= LIST_BUCKETS_PAGE_MAX:
            raise invalid_parameter("MaximumPageSize")
        start = 0 if next_page_token is None else _decode_token(next_page_token)
        ordered = sorted((b for b in self._bindings.values() if b.sequence >= start), key=lambda b: b.sequence)
        page = ordered[:maximum_page_size]
        token = _encode_token(ordered[maximum_page_size].sequence) if len(ordered) > maximum_page_size else None
        return BucketPage(buckets=page, next_page_token=token)

    # --- state -------------------------------------------------------------------------------------

    def bindings(self) -> list[BucketBinding]:
        return sorted(self._bindings.values(), key=lambda b: b.sequence)

    def clear(self) -> None:
        self._bindings.clear()
        self.revision += 1

    def to_state(self) -> dict[str, Any]:
        return {"sequence": self._sequence, "bindings": [asdict(b) for b in self.bindings()]}

    def restore(self, state: dict[str, Any]) -> None:
        self._bindings = {b["bucket"]: BucketBinding(**b) for b in state.get("bindings", [])}
        self._sequence = int(state.get("sequence", len(self._bindings)))
        self.revision += 1

    # --- rules -------------------------------------------------------------------------------------

    def _bind(self, bucket: str, type_: BucketType, referer: str | None) -> None:
        _check_bucket_name(bucket)
        if bucket in self._bindings:
            raise ServiceError("Bucket.AlreadyBind", name=bucket)
        self._sequence += 1
        self._bindings[bucket] = BucketBinding(bucket=bucket, type=type_, referer=referer, sequence=self._sequence)
        self.revision += 1

    def _unbind(self, bucket: str, type_: BucketType) -> None:
        _check_bucket_name(bucket)
        binding = self._bindings.get(bucket)
        if binding is None or binding.type != type_:
            raise ServiceError("InvalidParameter.ResourceNotFound", name=bucket)
        del self._bindings[bucket]
        self.revision += 1


def _check_bucket_name(bucket: str) -> None:
    if not bucket:
        raise missing_parameter("Bucket")
    if BUCKET_NAME_RE.fullmatch(bucket) is None:
        raise ServiceError("InvalidParameter.BucketNameInvalid")


def _encode_token(sequence: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{sequence}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_parameter("NextPageToken") from None
    prefix, _, number = text.partition(_TOKEN_PREFIX)
    if prefix or not number.isdigit():
        raise invalid_parameter("NextPageToken")
    return int(number)
