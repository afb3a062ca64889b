"""OSS V4 signature verification with the client's own signing code (`reconcile.cloud.oss_signing`).

Order of checks: an Authorization header at all -> V4 and well formed -> access key known -> x-oss-date
present and within the window -> payload hash claim acceptable -> signature. A V1 (`OSS ak:sig`) or a
query-string (presigned) signature is refused with AccessDenied naming what the emulator verifies.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping

from reconcile.cloud import oss_signing
from reconcile.cloud.signing import sha256_hex
from reconcile.emulator.clock import EmulatorClock
from reconcile.emulator.objects import OssError
from reconcile.emulator.wire import WireRequest


class OssAuthenticator:
    def __init__(self, access_keys: Mapping[str, str], clock: EmulatorClock, window_seconds: float) -> None:
        self._access_keys = dict(access_keys)
        self._clock = clock
        self._window = window_seconds

    def verify(self, request: WireRequest, raw_query: str, bucket: str | None, key: str | None) -> tuple[str, str]:
        """Authenticate; returns the AccessKeyId and the region the request was signed for."""
        header = request.header("authorization")
        if not header:
            raise OssError("AccessDenied", "AccessDenied: anonymous access is not allowed; sign the request (V4).")
        parsed = oss_signing.parse_authorization(header)
        if parsed is None:
            raise OssError(
                "AccessDenied",
                "The emulator verifies OSS V4 signatures only: Authorization: OSS4-HMAC-SHA256 Credential=<id>/"
                "<yyyymmdd>/<region>/oss/aliyun_v4_request[,AdditionalHeaders=<h1;h2>],Signature=<hex>.",
            )
        secret = self._access_keys.get(parsed.access_key_id)
        if secret is None:
            raise OssError("InvalidAccessKeyId", OSSAccessKeyId=parsed.access_key_id)
        timestamp = request.header("x-oss-date") or ""
        signed_at = _parse_date(timestamp)
        if signed_at is None or timestamp[:8] != parsed.date:
            raise OssError("AccessDenied", "x-oss-date must be yyyymmddThhmmssZ on the Credential scope's date.")
        if abs(self._clock.time() - signed_at) > self._window:
            raise OssError("RequestTimeTooSkewed", RequestTime=timestamp)
        claimed = request.header("x-oss-content-sha256")
        if claimed not in (oss_signing.UNSIGNED_PAYLOAD, sha256_hex(request.body)):
            raise OssError("InvalidArgument", "The value of the x-oss-content-sha256 header is invalid.")
        headers = {name: ",".join(values) for name, values in request.headers.items()}
        canonical = oss_signing.canonical_request(
            request.method, bucket, key, raw_query, headers, parsed.additional_headers
        )
        string_to_sign = oss_signing.string_to_sign(timestamp, parsed.scope, canonical)
        expected = oss_signing.signature(secret, parsed.date, parsed.region, string_to_sign, parsed.product)
        if not oss_signing.verify(expected, parsed.signature):
            raise OssError("SignatureDoesNotMatch", StringToSign=string_to_sign, CanonicalRequest=canonical)
        return parsed.access_key_id, parsed.region


def _parse_date(value: str) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(value, oss_signing.DATE_FORMAT)))
    except ValueError:
        return None
