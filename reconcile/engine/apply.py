"""Execute a Plan: exactly its calls, phase by phase, as fast as the account's QPS allows, committing as it goes.

- Phases run in order (replacements' unbinds, then binds / registers / updates, then prune deletions).
  Within a phase every action has its own pool of workers, so MPS and VOD work proceed together and each
  action keeps enough calls in flight for the client's pacer to run it at its QPS ceiling. The client
  paces and retries; apply adds no pacing of its own.
- After every successful call its state changes are appended to the store's journal (fsync'd) before the
  call is reported done; at the end the journal is folded into one snapshot (one serial bump). A kill -9
  at any moment loses nothing, and every call is safe to make again (see `execute`).
- A failed call fails its resources and the rest go on. An authentication failure, a state write failure
  or a stop request (Ctrl-C) stops new calls from starting; calls in flight finish and are recorded. A call
  the client refuses to send because it was stopped (`RequestNotSent`: the CLI stops the session on Ctrl-C,
  and `stop_sending` does on an abort, so calls still waiting for their pacing turn never go out) is recorded
  as not attempted.
- A state that cannot be written any more (a shared state's database connection lost mid-apply) keeps what
  was recorded before; the result says so and how to resume, and the final snapshot is not attempted.
- A store whose lock is a lease (OSS: `LeasedLock`) tells the apply when the lease can no longer be renewed,
  before it runs out: the apply aborts then, like on a state write failure, and sends nothing more, so that it
  never sends calls while another runner may hold the lock.

The caller holds the state lock for the whole apply (`with store.lock("apply"): ...`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from reconcile.cloud.api import ApiForRegion
from reconcile.cloud.credentials import CredentialsError
from reconcile.cloud.errors import AuthenticationError, CloudError, RequestNotSent
from reconcile.cloud.limits import qps_limit
from reconcile.engine.execute import CallOutcome, CallRefused, execute_call, file_url_of, state_only_record
from reconcile.engine.execute_result import (
    ApplyResult,
    ResourceFailure,
    ResourceOutcome,
    ResourceResult,
)
from reconcile.engine.plan import Plan, PlannedCall, ResourceChange
from reconcile.engine.progress import ApplyHooks, BatchDone, BatchFailed, BatchStarted, NoHooks
from reconcile.state.store import JournalRecord, StateError, StateStore

log = logging.getLogger(__name__)

# Calls kept in flight per action, as seconds of that action's QPS: enough to run at the QPS ceiling while
# each call takes up to this long (pacing waits excluded: the client's pacer spaces the sends).
IN_FLIGHT_SECONDS = 2.0


@runtime_checkable
class LeasedLock(Protocol):
    """A store whose lock is a lease its holder renews (OssStateStore)."""

    def watch_lease(self, on_lost: Callable[[], None] | None) -> None:
        """Call `on_lost`, from any thread, once the lease cannot be renewed in time; None: stop watching."""
        ...


class PlanNotApplicable(Exception):
    """The plan has errors (e.g. a bucket bound as an output bucket) or refers to resources it does not describe."""


@dataclass(slots=True)
class _Status:
    outcome: ResourceOutcome = "not_attempted"
    message: str | None = None
    remote_id: str | None = None
    half_done: bool = False  # a replacement whose unbind succeeded but whose bind has not (yet)


def workers_for(
    action: str,
    calls: int,
    in_flight_seconds: float = IN_FLIGHT_SECONDS,
    limit: Callable[[str], float] = qps_limit,
) -> int:
    """How many calls of `action` apply keeps in flight: QPS x seconds, at least 1, at most the calls there are."""
    return max(1, min(calls, math.ceil(limit(action) * in_flight_seconds)))


async def apply_plan(
    plan: Plan,
    api_for_region: ApiForRegion,
    store: StateStore,
    *,
    hooks: ApplyHooks | None = None,
    stop: asyncio.Event | None = None,
    in_flight_seconds: float = IN_FLIGHT_SECONDS,
    qps: Callable[[str], float] = qps_limit,
    clock: Callable[[], float] = time.monotonic,
    stop_sending: Callable[[], None] | None = None,
) -> ApplyResult:
    """Make exactly `plan.calls`, record every success in `store`, and report through `hooks`.

    `stop`, when set, stops new calls from starting (the CLI sets it on Ctrl-C). `qps` is the account's limit
    per action as the client is configured (e.g. `ClientSettings.qps_limit`); it sizes the calls kept in flight.
    `stop_sending` is called once when the apply aborts (authentication failure, state write failure): the CLI
    passes `CloudSession.stop_new_requests`, so calls waiting for their pacing turn are not sent.
    Raises PlanNotApplicable before making any call when the plan cannot be applied.
    """
    run = _ApplyRun(plan, api_for_region, store, hooks or NoHooks(), stop or asyncio.Event(), clock, stop_sending)
    return await run.execute(lambda action, calls: workers_for(action, calls, in_flight_seconds, qps))


class _ApplyRun:
    def __init__(
        self,
        plan: Plan,
        api_for_region: ApiForRegion,
        store: StateStore,
        hooks: ApplyHooks,
        stop: asyncio.Event,
        clock: Callable[[], float],
        stop_sending: Callable[[], None] | None = None,
    ) -> None:
        if plan.errors:
            problems = "; ".join(f"{e.location}: {e.message}" if e.location else e.message for e in plan.errors)
            raise PlanNotApplicable(f"the plan has errors and cannot be applied: {problems}")
        by_address = {change.address: change for change in plan.changes}
        unknown = sorted({a for call in plan.calls for a in call.addresses if a not in by_address})
        if unknown:
            raise PlanNotApplicable(f"the plan's calls name resources it does not describe: {', '.join(unknown)}")
        self.plan = plan
        self.api_for_region = api_for_region
        self.store = store
        self.hooks = hooks
        self.stop = stop
        self.clock = clock
        self.changes: dict[str, ResourceChange] = {a: by_address[a] for call in plan.calls for a in call.addresses}
        self.status: dict[str, _Status] = {a: _Status() for a in self.changes}
        self.calls_made: Counter[str] = Counter()
        self.verification_calls = 0
        self.failures: list[ResourceFailure] = []
        self.aborted: str | None = None
        self.journal_lock = asyncio.Lock()
        self.state_writes = 0  # journal appends and the final snapshot: each a new serial
        self.stopped_early = False
        self.stop_sending = stop_sending
        self.state_lost = False  # a state write failed: nothing more can be recorded
        self.last_serial: int | None = None  # the serial of the last batch recorded

    async def execute(self, workers: Callable[[str, int], int]) -> ApplyResult:
        started = self.clock()
        indexed = list(enumerate(self.plan.calls))
        serial: int | None = None
        leased = self.store if isinstance(self.store, LeasedLock) else None
        if leased is not None:
            loop = asyncio.get_running_loop()
            leased.watch_lease(lambda: _call_soon_threadsafe(loop, self._lease_lost))
        try:
            await self._commit([state_only_record(change) for change in self.plan.state_only_changes])
            for phase in sorted({call.phase for call in self.plan.calls}):
                await self._run_phase([(i, c) for i, c in indexed if c.phase == phase], workers)
        finally:
            # Fold the journal into one snapshot, also when interrupted: the journal alone is already durable.
            if leased is not None:
                leased.watch_lease(None)
            if self.state_writes and not self.state_lost:
                serial = self._fold_journal()
            elif self.state_lost:
                serial = self.last_serial  # the last batch recorded before the state could not be written
        result = self._result(self.clock() - started, serial)
        self.hooks.finished(result)
        return result

    async def _run_phase(self, calls: Sequence[tuple[int, PlannedCall]], workers: Callable[[str, int], int]) -> None:
        by_action: dict[str, list[tuple[int, PlannedCall]]] = defaultdict(list)
        for item in calls:
            by_action[item[1].action].append(item)
        tasks: list[asyncio.Task[None]] = []
        for action, items in by_action.items():
            queue: asyncio.Queue[tuple[int, PlannedCall]] = asyncio.Queue()
            for item in items:
                queue.put_nowait(item)
            tasks += [asyncio.create_task(self._worker(queue)) for _ in range(workers(action, len(items)))]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def _worker(self, queue: asyncio.Queue[tuple[int, PlannedCall]]) -> None:
        while not queue.empty():
            index, call = queue.get_nowait()
            if self.stop.is_set() or self.aborted is not None:
                self.stopped_early = True
                self._not_attempted(call, self.aborted or "not attempted: the apply was stopped")
                continue
            blocked = [a for a in call.addresses if self.status[a].outcome == "failed"]
            if blocked:
                self._not_attempted(call, f"not attempted: an earlier call for {blocked[0]} failed")
                continue
            await self._make_call(index, call)

    async def _make_call(self, index: int, call: PlannedCall) -> None:
        self.hooks.batch_started(BatchStarted(index, call))
        started = self.clock()
        self.calls_made[call.action] += 1
        try:
            outcome = await execute_call(call, self.changes, self.api_for_region(call.region))
        except RequestNotSent:  # the client was stopped (Ctrl-C) before this call went on the wire
            self.calls_made[call.action] -= 1
            self.stopped_early = True
            self._not_attempted(call, "not attempted: the apply was stopped")
            return
        except (CloudError, CallRefused, ValueError) as exc:
            if isinstance(exc, AuthenticationError | CredentialsError):
                self._abort(f"stopped after an authentication failure: {exc}")
            self._call_failed(index, call, str(exc), self.clock() - started)
            return
        try:
            await self._commit(outcome.records)
        except StateError as exc:
            self.state_lost = True
            self._abort(
                f"stopped: the state could not be written: {exc}. Every batch recorded before is kept in the state; "
                "run `reconcile apply` again (from any runner) to finish the rest: calls made but not recorded are "
                "adopted, not repeated"
            )
            message = f"applied, but the state could not record it ({exc}); the next apply will adopt it"
            self._call_failed(index, call, message, self.clock() - started)
            return
        self._call_done(index, call, outcome, self.clock() - started)

    def _abort(self, reason: str) -> None:
        """Start no new call, and send none still waiting for its turn (first reason wins)."""
        if self.aborted is None:
            self.aborted = reason
            if self.stop_sending is not None:
                self.stop_sending()

    def _lease_lost(self) -> None:
        self.state_lost = True
        self._abort(
            f"stopped: the lock on state {self.store.location} could not be renewed before its lease ran out, so "
            "another runner may take the lock over: no new call was sent. Every batch recorded before is kept in the "
            "state; run `reconcile apply` again (from any runner) to finish the rest: calls made but not recorded "
            "are adopted, not repeated"
        )

    async def _commit(self, records: Sequence[JournalRecord]) -> None:
        if not records:
            return
        async with self.journal_lock:
            # fsync off the event loop, so other calls keep flowing while the journal is written.
            self.last_serial = await asyncio.to_thread(self.store.append, records)
            self.state_writes += 1

    def _fold_journal(self) -> int | None:
        """One snapshot for the whole apply. Only tidying: when it fails the journal already holds every batch."""
        try:
            doc = self.store.read()
            if doc is None:
                return None
            serial = self.store.write(doc).serial
        except StateError as exc:
            log.warning("could not fold the apply's journal into one state snapshot (it stays valid as it is): %s", exc)
            return self.last_serial
        self.state_writes += 1
        return serial

    def _call_done(self, index: int, call: PlannedCall, outcome: CallOutcome, elapsed: float) -> None:
        self.verification_calls += outcome.verification_calls
        adopted = set(outcome.adopted)
        for address in outcome.done:
            status = self.status[address]
            status.outcome = "adopted" if address in adopted else "done"
            status.message = outcome.note
            status.remote_id = outcome.remote_ids.get(address, self.changes[address].remote_id)
            status.half_done = False
        if call.replace:
            for address in call.addresses:
                self.status[address].half_done = True
        self._record_failures(outcome.failed)
        self.hooks.batch_done(BatchDone(index, call, elapsed, outcome.adopted, outcome.failed, outcome.note))

    def _call_failed(self, index: int, call: PlannedCall, error: str, elapsed: float) -> None:
        failures = tuple(
            ResourceFailure(a, error, self.changes[a].location, file_url_of(self.changes[a])) for a in call.addresses
        )
        self._record_failures(failures)
        self.hooks.batch_failed(BatchFailed(index, call, elapsed, error, failures))

    def _record_failures(self, failures: Sequence[ResourceFailure]) -> None:
        for failure in failures:
            status = self.status[failure.address]
            if status.half_done:
                failure = replace(
                    failure,
                    message=f"{failure.message} (its old binding was removed for the replacement: "
                    "the bucket is not bound now; run `reconcile apply` again)",
                )
            status.outcome = "failed"
            status.message = failure.message
            self.failures.append(failure)

    def _not_attempted(self, call: PlannedCall, reason: str) -> None:
        for address in call.addresses:
            status = self.status[address]
            if status.half_done:
                # A replacement stopped between its unbind and its bind: the bucket is unbound now.
                status.outcome = "failed"
                status.message = f"unbound but not bound again ({reason}); run `reconcile apply` again"
                self.failures.append(ResourceFailure(address, status.message, self.changes[address].location))
            elif status.outcome != "failed":
                status.message = reason

    def _result(self, elapsed: float, serial: int | None) -> ApplyResult:
        resources = tuple(
            ResourceResult(
                address=address,
                action=change.action,
                outcome=self.status[address].outcome,
                message=self.status[address].message,
                location=change.location,
                file_url=file_url_of(change),
                remote_id=self.status[address].remote_id,
            )
            for address, change in sorted(self.changes.items())
        )
        return ApplyResult(
            resources=resources,
            calls_predicted=self.plan.call_counts(),
            state_updates=self.state_writes,
            state_only_changes=len(self.plan.state_only_changes),
            calls_made={
                action: self.calls_made[action] for action in self.plan.call_counts() if self.calls_made[action]
            },
            verification_calls=self.verification_calls,
            elapsed=elapsed,
            serial=serial,
            aborted=self.aborted or ("stopped on request" if self.stopped_early else None),
            stopped_on_request=self.stopped_early and self.aborted is None,
            failures=tuple(self.failures),
        )


def _call_soon_threadsafe(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Run `callback` on `loop` (the apply's), from the store's thread; nothing once that loop is closed."""
    with contextlib.suppress(RuntimeError):  # the loop is closed: the apply is over
        loop.call_soon_threadsafe(callback)
