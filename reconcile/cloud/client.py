"""The cloud session: signed, paced, retrying RPC calls to MPS and VOD over httpx.

    async with CloudSession(ClientSettings.from_env()) as session:
        vod = session.client("cn-shanghai")          # a RegionClient: reconcile.cloud.api.MediaApi
        result = await vod.register_media(request)
    print(session.stats.of("RegisterMedia").calls)

A session owns what its region clients share: one connection pool per endpoint, the pacers (one per
access key and action, so concurrent tasks and regions of one account never exceed its limits
together; each learns from throttling answers how much of the account's limit other clients leave it),
the concurrency bound, the credentials and the call statistics.

Each attempt of a call: resolve credentials (lazily, at the first attempt) → wait for the action's pace
and a concurrency slot → sign afresh (new nonce and timestamp) → send → decode into a body or an error of
`reconcile.cloud.errors`. tenacity retries what `reconcile.cloud.retry` allows. Every attempt is logged
at DEBUG on `reconcile.cloud`: action, request id, attempt, status or error code, latency; never a
secret (server messages are scrubbed of the secret and the STS token before they reach a log or an error).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState

from reconcile import __version__
from reconcile.cloud.clock import Clock, SystemClock
from reconcile.cloud.credentials import Credentials, CredentialsProvider, default_credentials
from reconcile.cloud.endpoints import check_region, default_host, is_loopback
from reconcile.cloud.errors import (
    ApiError,
    CloudError,
    NothingListeningError,
    RequestNotSent,
    ServerError,
    ThrottledError,
    TransportError,
)
from reconcile.cloud.limits import MTS_VERSION, VOD_VERSION
from reconcile.cloud.models import ActionStats, CallStats
from reconcile.cloud.pacing import ActionPacing, Pacer, RateSources, SendGate
from reconcile.cloud.region_client import RegionClient, Settle
from reconcile.cloud.responses import REQUEST_ID_HEADER, decode
from reconcile.cloud.retry import RetryPolicy, retry_after_seconds
from reconcile.cloud.settings import ClientSettings
from reconcile.cloud.wire import SignedRequest, fresh_nonce, host_of, redact, sign_v1, sign_v3, utc_timestamp

log = logging.getLogger("reconcile.cloud")

API_VERSIONS = {"mts": MTS_VERSION, "vod": VOD_VERSION}
# Decides whether a call's final error was its own earlier attempt's effect: the body to succeed with, or None.
USER_AGENT = f"reconcile/{__version__}"


class HideQueryStrings(logging.Filter):
    """httpx logs each request's full URL at INFO; a V1 URL carries the STS token, so its query is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(arg, httpx.URL) for arg in record.args):
            record.args = tuple(arg.copy_with(query=None) if isinstance(arg, httpx.URL) else arg for arg in record.args)
        return True


def hide_query_strings_in_httpx_logs() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, HideQueryStrings) for f in httpx_log.filters):
        httpx_log.addFilter(HideQueryStrings())


class CloudSession:
    """An async context manager; `client(region)` gives the API of one region. See the module docstring."""

    def __init__(
        self,
        settings: ClientSettings,
        credentials: CredentialsProvider | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        *,
        nonce: Callable[[], str] = fresh_nonce,
        timestamp: Callable[[], str] = utc_timestamp,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.stats = CallStats()
        self._credentials = credentials if credentials is not None else default_credentials()
        self._transport = transport
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._nonce = nonce
        self._timestamp = timestamp
        self._rng = rng if rng is not None else random.Random()
        self._sign = sign_v3 if settings.signature_version == "v3" else sign_v1
        self._pacer = Pacer(self._clock, self._rng)
        self._concurrency = asyncio.Semaphore(settings.max_concurrency)
        self._gate = SendGate()
        self._pools: dict[str, httpx.AsyncClient] = {}
        self._regions: dict[str, RegionClient] = {}
        hide_query_strings_in_httpx_logs()

    async def __aenter__(self) -> CloudSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()

    def stop_new_requests(self) -> None:
        """Send nothing more: every call not yet on the wire (waiting for its pacing turn, a concurrency slot
        or its next retry) raises `RequestNotSent` instead; requests already sent complete normally. For a
        call whose earlier attempt was sent, the error of that attempt is raised instead (it may have acted)."""
        self._gate.close()

    def client(self, region: str) -> RegionClient:
        """The MPS and VOD API of `region` (one instance per region, sharing this session's pools and pacing)."""
        check_region(region)
        if region not in self._regions:
            self._regions[region] = RegionClient(self, region)
        return self._regions[region]

    def use_rate_sources(self, sources: RateSources) -> None:
        """Pace each (access key, action) used from now on at the rate `sources` makes for it (e.g. a share
        reserved through a shared state backend) instead of a rate learnt from this process's throttling alone."""
        self._pacer.sources = sources

    def pacing(self) -> list[ActionPacing]:
        """How each action used so far is paced: its limit, share, ceiling, current and lowest rate, and the
        throttled answers it saw (for the apply summary)."""
        return [
            pacer.report(self.settings.qps_limit(action), self.settings.qps_share_of(action))
            for action, pacer in sorted(self._pacer.actions().items())
        ]

    @property
    def pooled_endpoints(self) -> tuple[str, ...]:
        """The endpoints this session holds a connection pool for (one each, shared by all regions)."""
        return tuple(self._pools)

    def endpoint(self, product: str, region: str) -> str:
        """The base URL calls of `product` in `region` go to."""
        return self.settings.endpoint_override(product) or f"https://{default_host(product, region)}"

    # --- one call --------------------------------------------------------------------------------------

    async def call(
        self,
        product: str,
        region: str,
        action: str,
        params: dict[str, str],
        *,
        settle: Settle | None = None,
    ) -> dict[str, Any]:
        """Make one API call, with retries; the decoded JSON body, or the error of its last attempt.

        `settle` is asked about a final error when an earlier attempt may have been carried out although
        its answer was lost: it returns the body to succeed with (the error was that attempt's own effect),
        or None to fail.
        """
        return await self.exchange(_RpcExchange(self, product, region, action, params), settle=settle)

    async def exchange(self, exchange: Exchange, *, settle: Settle | None = None) -> dict[str, Any]:
        """`call` for any signed HTTP exchange (the OSS client's): the same credentials, pacing, concurrency
        bound, retries, statistics, logging and stop gate; `exchange` signs each attempt and decodes its answer."""
        started = self._clock.monotonic()
        action = exchange.action
        stats = self.stats.of(action)
        attempt = _Attempt(exchange, stats)
        try:
            try:
                return await self._attempts(attempt, started)
            except RequestNotSent:
                if not attempt.failures:
                    stats.errors += 1
                    raise
                # Stopped between retries: an earlier attempt went out, and its error is what happened.
                raise attempt.failures[-1] from None
        except RequestNotSent:
            raise
        except CloudError as exc:
            exc.attempts = attempt.number
            exc.earlier_attempt_may_have_succeeded = any(_ambiguous(f) for f in attempt.failures if f is not exc)
            if settle is not None and exc.earlier_attempt_may_have_succeeded:
                try:
                    settled = await settle(exc)
                except CloudError as check_failed:  # the original error is the one to report
                    log.info("%s: could not tell whether [%s] was this call's own doing: %s", action, exc, check_failed)
                    settled = None
                if settled is not None:
                    log.info("%s: %s answers an earlier attempt that was carried out; the call succeeded", action, exc)
                    return settled
            stats.errors += 1
            raise

    async def _attempts(self, attempt: _Attempt, started: float) -> dict[str, Any]:
        """Attempts until one succeeds or the retry policy gives up; the last one's body or error.

        Almost every call succeeds at once, so the first attempt goes without tenacity's per-call machinery
        (~15 us and a dozen objects in reference cycles, 5,000 times in a 100,000-media refresh). Only when it
        fails does tenacity take over, starting from that failure: the same decisions, waits, logs and attempt
        numbers as when it ran them all."""
        try:
            return await self._attempt(attempt)
        except CloudError as failure:
            return await self._retry(attempt, failure, started)

    async def _retry(self, attempt: _Attempt, first_failure: CloudError, started: float) -> dict[str, Any]:
        """tenacity's loop, fed the first attempt's failure as its own first attempt."""
        action = attempt.action
        policy = RetryPolicy(
            clock=self._clock,
            started=started,
            max_attempts=self.settings.max_attempts,
            max_seconds=self.settings.max_retry_seconds,
            rng=self._rng,
        )
        retrying = AsyncRetrying(
            stop=policy.stop,
            wait=policy.wait,
            retry=policy.should_retry,
            sleep=lambda seconds: self._gate.wait(self._clock.sleep(seconds), action),
            before_sleep=_log_retry(action, self.settings.max_attempts),
            reraise=True,
        )
        replayed = False

        async def attempt_after_the_first(attempt: _Attempt) -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                raise first_failure
            return await self._attempt(attempt)

        return await retrying(attempt_after_the_first, attempt)

    async def _attempt(self, attempt: _Attempt) -> dict[str, Any]:
        attempt.number += 1
        credentials = self._credentials.get()
        exchange = attempt.exchange
        endpoint = exchange.endpoint
        rate = self.settings.pacing_rate(attempt.action)
        window = self.settings.qps_limit(attempt.action)
        pacer = self._pacer.for_action(credentials.access_key_id, attempt.action, rate, window)
        sent = await pacer.turn(self._concurrency, self._gate, attempt.action)
        try:
            attempt.stats.calls += 1
            if attempt.number > 1:
                attempt.stats.retries += 1
            request = exchange.sign(credentials)
            started = self._clock.monotonic()
            try:
                response = await self._send(endpoint, request, attempt.action, credentials)
            except TransportError as exc:
                attempt.record_failure(exc)
                self._log_attempt(attempt, started, None, f"({_reason(exc)})", None)
                raise
        finally:
            self._concurrency.release()
            pacer.answered()
        try:
            body = exchange.decode(response, credentials.secrets())
        except ApiError as exc:
            attempt.record_failure(exc)
            self._log_attempt(attempt, started, response.status_code, exc.code, exc.request_id)
            if isinstance(exc, ThrottledError):
                pacer.throttled(sent, retry_after_seconds(exc), exc.code)
            raise
        except TransportError as exc:
            attempt.record_failure(exc)
            outcome = f"not an API response ({_reason(exc)})"
            self._log_attempt(attempt, started, response.status_code, outcome, exchange.request_id(response))
            raise
        self._log_attempt(attempt, started, response.status_code, "OK", str(body["RequestId"]))
        return body

    async def _send(
        self, endpoint: str, request: SignedRequest, action: str, credentials: Credentials
    ) -> httpx.Response:
        host = host_of(endpoint)
        try:
            return await self._pool(endpoint).request(
                request.method, request.url, headers=request.headers, content=request.content
            )
        except httpx.ConnectTimeout:
            reason, reached = f"timed out after {self.settings.timeout:g} s connecting to {host}", False
        except httpx.TimeoutException as exc:
            reason, reached = (
                f"timed out after {self.settings.timeout:g} s talking to {host} ({type(exc).__name__})",
                True,
            )
        except httpx.ConnectError as exc:
            if is_loopback(urlsplit(endpoint).hostname or "") and _refused(exc):
                raise NothingListeningError(
                    f"nothing is listening at {endpoint} (start the emulator with `reconcile emulator`, or fix "
                    "--endpoint / RECONCILE_ENDPOINT): connection refused",
                    action=action,
                    may_have_reached_server=False,
                ) from None
            reason, reached = f"cannot connect to {host}: {str(exc) or type(exc).__name__}", False
        except httpx.TransportError as exc:  # reset, server disconnected without a response, protocol errors
            reason, reached = f"connection to {host} failed: {str(exc) or type(exc).__name__}", True
        raise TransportError(redact(reason, credentials.secrets()), action=action, may_have_reached_server=reached)

    def _pool(self, endpoint: str) -> httpx.AsyncClient:
        pool = self._pools.get(endpoint)
        if pool is None:
            size = self.settings.max_concurrency
            pool = self._pools[endpoint] = httpx.AsyncClient(
                base_url=endpoint,
                transport=self._transport,
                timeout=httpx.Timeout(self.settings.timeout),
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                headers={"user-agent": USER_AGENT, "accept": "application/json"},
                follow_redirects=False,
            )
        return pool

    def _log_attempt(
        self, attempt: _Attempt, started: float, status: int | None, outcome: str, request_id: str | None
    ) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s attempt %d: %s %s, request id %s, %.1f ms",
                attempt.action,
                attempt.region,
                attempt.number,
                f"HTTP {status}" if status is not None else "no response",
                outcome,
                request_id or "-",
                (self._clock.monotonic() - started) * 1000,
            )


class Exchange(Protocol):
    """One call's wire form: where it goes, how each attempt is signed, how an answer is decoded."""

    @property
    def action(self) -> str: ...  # paced, counted and logged under this name

    @property
    def region(self) -> str: ...

    @property
    def endpoint(self) -> str: ...  # the base URL (its connection pool)

    def sign(self, credentials: Credentials) -> SignedRequest: ...  # afresh for every attempt

    def decode(self, response: httpx.Response, secrets: tuple[str, ...]) -> dict[str, Any]: ...  # or raise

    def request_id(self, response: httpx.Response) -> str | None: ...


class _RpcExchange:
    """An MPS or VOD RPC call: V3 or V1 signed, a JSON answer (`reconcile.cloud.responses`)."""

    def __init__(self, session: CloudSession, product: str, region: str, action: str, params: dict[str, str]) -> None:
        self._session = session
        self.product = product
        self.region = region
        self.action = action
        self.params = params
        self.endpoint = session.endpoint(product, region)

    def sign(self, credentials: Credentials) -> SignedRequest:
        session = self._session
        return session._sign(
            self.endpoint,
            self.action,
            API_VERSIONS[self.product],
            self.params,
            credentials,
            nonce=session._nonce(),
            timestamp=session._timestamp(),
        )

    def decode(self, response: httpx.Response, secrets: tuple[str, ...]) -> dict[str, Any]:
        return decode(self.action, response.status_code, response.headers, response.content, secrets)

    def request_id(self, response: httpx.Response) -> str | None:
        return str(response.headers.get(REQUEST_ID_HEADER) or "") or None


class _Attempt:
    """What the attempts of one call share: its exchange, its counters, what failed before."""

    def __init__(self, exchange: Exchange, stats: ActionStats) -> None:
        self.exchange = exchange
        self.action = exchange.action
        self.region = exchange.region
        self.stats = stats
        self.number = 0
        self.failures: list[CloudError] = []

    def record_failure(self, error: CloudError) -> None:
        self.failures.append(error)
        if isinstance(error, ThrottledError):
            self.stats.throttled += 1


def _reason(error: TransportError) -> str:
    return str(error).removeprefix(f"{error.action}: ")


def _ambiguous(error: BaseException) -> bool:
    """Whether the service may have acted on a request that failed this way (a 5xx, or a lost response)."""
    if isinstance(error, ServerError):
        return True
    return isinstance(error, TransportError) and error.may_have_reached_server


def _log_retry(action: str, max_attempts: int) -> Callable[[RetryCallState], None]:
    def log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        log.info(
            "%s: retrying in %.2f s (attempt %d of at most %d failed: %s)",
            action,
            state.upcoming_sleep,
            state.attempt_number,
            max_attempts,
            error,
        )

    return log_retry


def _refused(exc: httpx.ConnectError) -> bool:
    """httpcore wraps the OS error; a refused connection says so in its cause chain or its text."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "refused" in str(exc).lower()
