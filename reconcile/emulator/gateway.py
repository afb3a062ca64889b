"""The API gateway in front of the backends: route, authenticate, throttle, inject faults, dispatch, and
answer in the services' envelopes.

    request -> route (Action/Version or x-acs-action/x-acs-version) -> authenticate (V1 or V3)
            -> throttle (per account and action) -> fault rule -> backend verb -> JSON or error envelope

Errors carry RequestId, HostId, Code, Message and Recommend; throttling errors also carry
`x-acs-retry-after` (milliseconds) unless disabled. Every request is counted in `stats`, and logged at
DEBUG (`reconcile emulator --log-level debug`): action, AccessKeyId, status and code, latency. Never a
secret, a signature, a token or an error message (SignatureDoesNotMatch's holds the string to sign).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

from reconcile.cloud.limits import product_of
from reconcile.cloud.signing import parse_v3_authorization
from reconcile.emulator.auth import Authenticator
from reconcile.emulator.backend import EmulatorBackend
from reconcile.emulator.clock import EmulatorClock
from reconcile.emulator.exceptions import ServiceError, missing_parameter
from reconcile.emulator.faults import FaultInjector, FaultRule, FaultRules
from reconcile.emulator.responses import HANDLERS, PRODUCTS, Handler, Params
from reconcile.emulator.stats import EmulatorStats
from reconcile.emulator.throttle import SlidingWindowThrottle
from reconcile.emulator.wire import WireRequest, WireResponse

RECOMMEND_URL = "https://next.api.aliyun.com/troubleshoot?q={code}&product={product}"
PRODUCT_NAMES = {"mts": "Mts", "vod": "vod"}
THROTTLING_CODES = {"mts": "Throttling", "vod": "Throttling.User"}

log = logging.getLogger("reconcile.emulator")


class Gateway:
    def __init__(
        self,
        backend: EmulatorBackend,
        clock: EmulatorClock,
        *,
        access_keys: Mapping[str, str],
        qps_scale: float = 1.0,
        faults: FaultRules | None = None,
        seed: int | None = None,
        timestamp_window_seconds: float = 900.0,
        retry_after_header: bool = True,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.auth = Authenticator(access_keys, clock, timestamp_window_seconds)
        self.throttle = SlidingWindowThrottle(clock, qps_scale)
        self.faults = FaultInjector(faults, seed=seed)
        self.stats = EmulatorStats()
        self.retry_after_header = retry_after_header

    async def handle(self, request: WireRequest) -> WireResponse:
        started = time.perf_counter()
        params = request.params()
        response = await self._answer(request, params)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s", request_line(request, params, response, time.perf_counter() - started))
        return response

    async def _answer(self, request: WireRequest, params: dict[str, str]) -> WireResponse:
        request_id = self.backend.ids.request_id()
        v3 = request.header("authorization") is not None
        action = (request.header("x-acs-action") if v3 else None) or params.get("Action")
        version = (request.header("x-acs-version") if v3 else None) or params.get("Version")
        rule: FaultRule | None = None
        try:
            handler = self._route(action, version)
            assert action is not None
            account = self.auth.verify(request, params)
            wait = self.throttle.acquire(account, action)
            if wait is not None:
                self.stats.record(action, "throttled")
                return self._error(request, request_id, action, self._throttling_error(action, wait))
            rule = self.faults.pick(action)
            if rule is not None and rule.latency_ms:
                await self.clock.sleep(rule.latency_ms / 1000)
            if rule is not None and rule.error is not None:
                self.stats.record(action, "faults", delayed=bool(rule.latency_ms))
                injected = ServiceError(rule.error.code, status=rule.error.status, message=rule.error.message)
                return self._error(request, request_id, action, injected)
            body = handler(self.backend, Params(params))
        except ServiceError as error:
            if rule is not None and rule.drop_after_commit:
                return self._drop(action, rule)
            self.stats.record(action, "errors", delayed=bool(rule and rule.latency_ms))
            return self._error(request, request_id, action, error)
        if rule is not None and rule.drop_after_commit:
            return self._drop(action, rule)
        self.stats.record(action, "successes", delayed=bool(rule and rule.latency_ms))
        return WireResponse.json(200, {"RequestId": request_id, **body}, [("x-acs-request-id", request_id)])

    def _route(self, action: str | None, version: str | None) -> Handler:
        if not action:
            raise missing_parameter("Action")
        if not version:
            raise missing_parameter("Version")
        if version not in PRODUCTS:
            raise ServiceError("InvalidVersion", version=version)
        handler = HANDLERS.get((version, action))
        if handler is None:
            raise ServiceError("InvalidAction.NotFound")
        return handler

    def _throttling_error(self, action: str, wait_seconds: float) -> ServiceError:
        error = ServiceError(THROTTLING_CODES[product_of(action)])
        if self.retry_after_header:
            error.retry_after_ms = max(1, math.ceil(wait_seconds * 1000))
        return error

    def _drop(self, action: str | None, rule: FaultRule) -> WireResponse:
        self.stats.record(action, "faults", dropped=True, delayed=bool(rule.latency_ms))
        return WireResponse(status=0, body=b"", drop=True)

    def _error(self, request: WireRequest, request_id: str, action: str | None, error: ServiceError) -> WireResponse:
        product = product_of(action) if action else "vod"
        payload = {
            "RequestId": request_id,
            "HostId": request.header("host") or f"{product}.aliyuncs.com",
            "Code": error.code,
            "Message": error.message,
            "Recommend": RECOMMEND_URL.format(code=error.code, product=PRODUCT_NAMES[product]),
        }
        headers = [("x-acs-request-id", request_id)]
        if error.retry_after_ms is not None:
            headers.append(("x-acs-retry-after", str(error.retry_after_ms)))
        response = WireResponse.json(error.status, payload, headers)
        response.error_code = error.code
        return response


def request_line(request: WireRequest, params: Mapping[str, str], response: WireResponse, seconds: float) -> str:
    """`RegisterMedia by LTAI5t...: 200 in 1.4 ms`; an error adds its code, a drop says so. The AccessKeyId is
    the one the request claims (also when its signature is wrong); nothing else from the request is shown."""
    v3 = request.header("authorization") is not None
    action = (request.header("x-acs-action") if v3 else None) or params.get("Action") or "(no action)"
    key_id = _claimed_access_key_id(request, params) or "(no key)"
    if response.drop:
        outcome = "connection dropped after the change was made"
    else:
        outcome = f"{response.status} {response.error_code}" if response.error_code else str(response.status)
    return f"{action} by {key_id}: {outcome} in {seconds * 1000:.1f} ms"


def _claimed_access_key_id(request: WireRequest, params: Mapping[str, str]) -> str | None:
    authorization = request.header("authorization")
    if authorization is None:
        return params.get("AccessKeyId")
    parsed = parse_v3_authorization(authorization)
    return parsed[0] if parsed is not None else None
