"""When and how long to wait before another attempt (API.md section 6, "Recommended client policy").

Retried: throttling (`Throttling*`), any 5xx (`ServiceUnavailable` in either spelling, `InternalError`,
`DeleteVideoFailed`, ...) and transport failures, with exponential backoff and jitter, bounded by a
number of attempts and by total time. A server's `x-acs-retry-after` (milliseconds, capped at 120 s)
replaces the computed backoff. `SignatureNonceUsed` gets one more attempt with a fresh nonce, since the
request was rejected before processing. Everything else fails at once.

tenacity runs the loop; the pieces here make it read time from the session's `Clock`, so retries run
in virtual time in tests, and draw jitter from an injectable random source.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tenacity import RetryCallState

from reconcile.cloud.clock import Clock
from reconcile.cloud.errors import ApiError, CloudError, NothingListeningError, is_retryable

INITIAL_BACKOFF = 0.5  # seconds before the second attempt (before jitter)
MAX_BACKOFF = 20.0  # the exponential backoff stops growing here
RETRY_AFTER_CAP_MS = 120_000  # the official SDK caps x-acs-retry-after at two minutes
NONCE_USED = "SignatureNonceUsed"
NOTHING_LISTENING_ATTEMPTS = 2  # a refused loopback port: once more, in case the emulator was still starting


def backoff_seconds(attempt: int, rng: random.Random) -> float:
    """ "Equal jitter" after the `attempt`-th failure: half the exponential step fixed, half random.

    Never near zero (so a throttled burst does not come straight back), yet spread out so concurrent
    callers that failed together do not retry together.
    """
    step: float = min(MAX_BACKOFF, INITIAL_BACKOFF * 2.0 ** (attempt - 1))
    return step / 2 + rng.uniform(0, step / 2)


def retry_after_seconds(error: BaseException | None) -> float | None:
    """The server's own hint, when it gave one."""
    if isinstance(error, ApiError) and error.retry_after_ms is not None and error.retry_after_ms > 0:
        return min(error.retry_after_ms, RETRY_AFTER_CAP_MS) / 1000
    return None


@dataclass
class RetryPolicy:
    """One call's retry decisions; a fresh instance per call (it remembers the one nonce retry)."""

    clock: Clock
    started: float
    max_attempts: int
    max_seconds: float
    rng: random.Random
    nonce_retried: bool = False

    def should_retry(self, state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome is not None else None
        if not isinstance(error, CloudError):
            return False
        if is_retryable(error):
            return True
        if isinstance(error, ApiError) and error.code == NONCE_USED and not self.nonce_retried:
            self.nonce_retried = True
            return True
        return False

    def wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        hinted = retry_after_seconds(error)
        if hinted is not None:
            return hinted
        if isinstance(error, ApiError) and error.code == NONCE_USED:
            return 0.0  # a fresh nonce is all it needs
        return backoff_seconds(state.attempt_number, self.rng)

    def stop(self, state: RetryCallState) -> bool:
        """Stop after `max_attempts`, or when the next attempt would start after `max_seconds`."""
        if state.attempt_number >= self.max_attempts:
            return True
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, NothingListeningError) and state.attempt_number >= NOTHING_LISTENING_ATTEMPTS:
            return True
        elapsed = self.clock.monotonic() - self.started
        return elapsed + state.upcoming_sleep > self.max_seconds
