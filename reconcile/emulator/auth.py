"""Request authentication exactly as the gateway does it (API.md section 3), using the client's own
signing code (`reconcile.cloud.signing`) so the two can never drift apart.

Order of checks: required pieces present -> access key known -> signature -> timestamp within the window
-> nonce unused (recorded only once everything else passed, so a rejected request does not burn its nonce).
"""

from __future__ import annotations

import calendar
import time
from collections import deque
from collections.abc import Mapping

from reconcile.cloud.signing import (
    V1_METHOD,
    V1_VERSION,
    constant_time_equal,
    parse_v3_authorization,
    sha256_hex,
    v1_signature,
    v1_string_to_sign,
    v3_canonical_request,
    v3_signature,
    v3_string_to_sign,
)
from reconcile.emulator.clock import EmulatorClock
from reconcile.emulator.exceptions import ServiceError, invalid_parameter, missing_parameter
from reconcile.emulator.wire import WireRequest

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DEFAULT_WINDOW_SECONDS = 15 * 60


class NonceRegistry:
    """Nonces seen per AccessKeyId, remembered for the timestamp window (a request older than that is
    rejected for its timestamp anyway)."""

    def __init__(self, clock: EmulatorClock, ttl: float) -> None:
        self._clock = clock
        self._ttl = ttl
        self._seen: dict[tuple[str, str], float] = {}
        self._expiry: deque[tuple[float, tuple[str, str]]] = deque()

    def use(self, key_id: str, nonce: str) -> bool:
        """Record the nonce; False if it was already used."""
        now = self._clock.monotonic()
        while self._expiry and self._expiry[0][0] <= now:
            _, entry = self._expiry.popleft()
            if self._seen.get(entry, now + 1) <= now:
                del self._seen[entry]
        entry = (key_id, nonce)
        if entry in self._seen:
            return False
        self._seen[entry] = now + self._ttl
        self._expiry.append((now + self._ttl, entry))
        return True


class Authenticator:
    def __init__(
        self, access_keys: Mapping[str, str], clock: EmulatorClock, window_seconds: float = DEFAULT_WINDOW_SECONDS
    ) -> None:
        self._access_keys = dict(access_keys)
        self._clock = clock
        self._window = window_seconds
        self._nonces = NonceRegistry(clock, window_seconds)

    def verify(self, request: WireRequest, params: Mapping[str, str]) -> str:
        """Authenticate a request; returns its AccessKeyId (the account it is throttled under)."""
        authorization = request.header("authorization")
        if authorization is not None:
            return self._verify_v3(request, authorization)
        return self._verify_v1(request.method, params)

    # --- V1: HMAC-SHA1 over the sorted parameters ------------------------------------------------

    def _verify_v1(self, method: str, params: Mapping[str, str]) -> str:
        key_id = _required(params, "AccessKeyId")
        signature = _required(params, "Signature")
        if _required(params, "SignatureMethod") != V1_METHOD:
            raise invalid_parameter("SignatureMethod")
        if _required(params, "SignatureVersion") != V1_VERSION:
            raise invalid_parameter("SignatureVersion")
        timestamp = self._parse_timestamp(_required(params, "Timestamp"))
        nonce = _required(params, "SignatureNonce")
        secret = self._secret(key_id)
        string_to_sign = v1_string_to_sign(method, params)
        if not constant_time_equal(signature, v1_signature(secret, string_to_sign)):
            raise ServiceError("SignatureDoesNotMatch", string_to_sign=string_to_sign)
        self._check_fresh(timestamp, key_id, nonce)
        return key_id

    # --- V3: ACS3-HMAC-SHA256 over the canonical request, headers as the client's SignedHeaders ------

    def _verify_v3(self, request: WireRequest, authorization: str) -> str:
        parsed = parse_v3_authorization(authorization)
        if parsed is None:
            raise ServiceError(
                "IncompleteSignature",
                detail="Authorization must be ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<h1;h2>,Signature=<hex>.",
            )
        key_id, signed_headers, signature = parsed
        unsigned = sorted(
            name
            for name in request.headers
            if (name.startswith("x-acs-") or name in ("host", "content-type")) and name not in signed_headers
        )
        if unsigned:
            detail = "SignedHeaders must include host, content-type and every x-acs-* header sent; missing: "
            raise ServiceError("IncompleteSignature", detail=f"{detail}{';'.join(unsigned)}.")
        timestamp = self._parse_timestamp(_required_header(request, "x-acs-date"))
        nonce = _required_header(request, "x-acs-signature-nonce")
        claimed_payload_hash = _required_header(request, "x-acs-content-sha256")
        secret = self._secret(key_id)
        payload_hash = sha256_hex(request.body)
        canonical = v3_canonical_request(
            request.method, request.path, request.query, request.headers, signed_headers, claimed_payload_hash
        )
        string_to_sign = v3_string_to_sign(canonical)
        if not constant_time_equal(signature, v3_signature(secret, string_to_sign)):
            raise ServiceError("SignatureDoesNotMatch", string_to_sign=string_to_sign)
        if claimed_payload_hash != payload_hash:
            # The signature covers the claimed hash, not the body that arrived: answer with what the
            # server signs for the body it received.
            received = v3_canonical_request(
                request.method, request.path, request.query, request.headers, signed_headers, payload_hash
            )
            raise ServiceError("SignatureDoesNotMatch", string_to_sign=v3_string_to_sign(received))
        self._check_fresh(timestamp, key_id, nonce)
        return key_id

    # --- shared ------------------------------------------------------------------------------------

    def _secret(self, key_id: str) -> str:
        secret = self._access_keys.get(key_id)
        if secret is None:
            raise ServiceError("InvalidAccessKeyId.NotFound")
        return secret

    @staticmethod
    def _parse_timestamp(value: str) -> float:
        try:
            return float(calendar.timegm(time.strptime(value, TIMESTAMP_FORMAT)))
        except ValueError:
            raise ServiceError("InvalidTimeStamp.Format") from None

    def _check_fresh(self, timestamp: float, key_id: str, nonce: str) -> None:
        if abs(self._clock.time() - timestamp) > self._window:
            raise ServiceError("InvalidTimeStamp.Expired")
        if not self._nonces.use(key_id, nonce):
            raise ServiceError("SignatureNonceUsed")


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise missing_parameter(name)
    return value


def _required_header(request: WireRequest, name: str) -> str:
    value = request.header(name)
    if not value:
        raise missing_parameter(name)
    return value
