"""Coordinated pacing through a PostgreSQL state: runners of one account reserve their share of each limit.

Adaptive pacing (cloud/pacing.py) finds out about other runners of an account only when the service throttles.
When the state lives in PostgreSQL there is something to coordinate through: each running apply or plan
registers itself, per (account, action) it calls, in the table `reconcile_pacing` of the state's schema
(created on first use), and renews that registration every `HEARTBEAT` seconds; a registration not renewed
within `EXPIRY` seconds (a kill -9'd runner, a lost connection) no longer counts. Each runner paces an action
at its ceiling (limit x --qps-share x the safety factor) divided by the number of live registrations for that
account and action, so two runners take half each from their first call, without throttling to find out.

The account is the first 16 bytes of BLAKE2b of the AccessKey ID: the ID itself is never written. Expiry is
judged by the server's clock (`now()`), so the runners' clocks need not agree.

Cost: one UPSERT and one SELECT per action used, per heartbeat (1 s), per runner, on a connection and thread
of its own; none per API call. The pacer reads a number the heartbeat thread left (`SharedRate.rate`), and
the rate stays adaptive underneath: a throttle (another client of the account that does not register, such
as the team's own services) still cuts it. When the database cannot be reached, the last share is kept and
adaptive pacing goes on alone; the state's own reads and writes report the problem.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import uuid
from typing import Any

import psycopg

from reconcile.cloud.pacing import AdaptiveRate, RateCut
from reconcile.state.location import PostgresLocation
from reconcile.state.postgres import _Database, lock_key

log = logging.getLogger(__name__)

HEARTBEAT = 1.0  # seconds between renewals of each registration
EXPIRY = 3.0  # seconds a registration counts without being renewed

_DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.reconcile_pacing (
    runner text NOT NULL,
    account text NOT NULL,
    action text NOT NULL,
    expires timestamptz NOT NULL,
    PRIMARY KEY (account, action, runner)
);
"""
_RENEW = """
INSERT INTO {schema}.reconcile_pacing (runner, account, action, expires)
VALUES (%s, %s, %s, now() + make_interval(secs => %s))
ON CONFLICT (account, action, runner) DO UPDATE SET expires = EXCLUDED.expires
"""
_COUNT = "SELECT count(*) FROM {schema}.reconcile_pacing WHERE account = %s AND action = %s AND expires > now()"


def account_key(access_key_id: str) -> str:
    """What the table records for an account: a hash of its AccessKey ID, never the ID."""
    return hashlib.blake2b(f"reconcile-account\0{access_key_id}".encode(), digest_size=16).hexdigest()


class SharedRate(AdaptiveRate):
    """An `AdaptiveRate` whose ceiling is this runner's share of the account's: the heartbeat thread leaves the
    number of live runners in `runners`, and the pacer's next `rate` call (on the loop) applies it. No I/O."""

    def __init__(self, ceiling: float, rng: random.Random, *, window: float | None = None) -> None:
        super().__init__(ceiling, rng, window=window)
        self.full = ceiling  # the ceiling alone: limit x share x safety factor
        self.runners = 1  # written by the heartbeat thread (a plain int: atomic)
        self._applied = 1

    def _apply(self) -> None:
        runners = self.runners
        if runners != self._applied:
            self._applied = runners
            log.info("%d runners share this account's limit: pacing at most %.1f calls/s", runners, self.full / runners)
            self.set_ceiling(self.full / runners)

    def rate(self, now: float) -> float:
        self._apply()
        return super().rate(now)

    def throttled(self, sent: float, now: float, retry_after: float | None) -> RateCut | None:
        self._apply()
        return super().throttled(sent, now, retry_after)


class SharedPacing:
    """The registrations of one runner, renewed by a thread of its own (`start`/`close`, or `with`). Its
    `sources` method is what `CloudSession.use_rate_sources` takes."""

    def __init__(self, location: PostgresLocation, *, heartbeat: float = HEARTBEAT, expiry: float = EXPIRY) -> None:
        self._db = _Database(location, location.display)
        self._location = location
        self.runner = uuid.uuid4().hex
        self._heartbeat = heartbeat
        self._expiry = expiry
        self._rates: dict[tuple[str, str], SharedRate] = {}
        self._mutex = threading.Lock()  # guards _rates between the loop (adds) and the thread (reads)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = False
        self._failing = False
        self.queries = 0  # statements sent (the cost, for tests and benchmarks)

    def sources(
        self, access_key_id: str, action: str, ceiling: float, rng: random.Random, *, window: float | None = None
    ) -> AdaptiveRate:
        """The rate source of one (access key, action), one per runner: registered on the next heartbeat, which
        comes at once."""
        key = (account_key(access_key_id), action)
        with self._mutex:
            rate = self._rates.get(key)
            if rate is None:
                rate = self._rates[key] = SharedRate(ceiling, rng, window=window)
        self._wake.set()
        return rate

    def refresh(self) -> None:
        """One heartbeat: renew each registration and count the live ones (one UPSERT and one SELECT each)."""
        with self._mutex:
            rates = list(self._rates.items())
        if not rates:
            return
        try:
            conn = self._db.connect()
            self._ensure_table(conn)
            for (account, action), rate in rates:
                conn.execute(self._db.q(_RENEW), [self.runner, account, action, self._expiry])
                row = conn.execute(self._db.q(_COUNT), [account, action]).fetchone()
                self.queries += 2
                rate.runners = max(1, int(row[0]) if row else 1)
        except Exception as exc:  # never let the heartbeat end the apply
            if not self._failing:
                log.warning(
                    "coordinated pacing through %s failed (%s); pacing adaptively until it recovers",
                    self._location.display,
                    self._db.scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__),
                )
            self._failing = True
            self._db.close()
            self._ready = False
        else:
            self._failing = False

    def _ensure_table(self, conn: psycopg.Connection[Any]) -> None:
        if self._ready:
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(self._location.schema, "\0pacing")])
            conn.execute(self._db.q(_DDL))
            # Registrations of runners that ended without deregistering (kill -9) are only dead weight.
            conn.execute(self._db.q("DELETE FROM {schema}.reconcile_pacing WHERE expires < now() - interval '1 hour'"))
        self.queries += 3
        self._ready = True

    def start(self) -> SharedPacing:
        self._thread = threading.Thread(target=self._run, name="reconcile-pacing", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.refresh()
            self._wake.wait(self._heartbeat)

    def close(self) -> None:
        """Stop renewing and withdraw this runner's registrations, so the others take its share at once."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._ready:
            try:
                conn = self._db.connect()
                conn.execute(self._db.q("DELETE FROM {schema}.reconcile_pacing WHERE runner = %s"), [self.runner])
            except psycopg.Error:
                pass  # the registrations expire by themselves
        self._db.close()

    def __enter__(self) -> SharedPacing:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
