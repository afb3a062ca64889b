"""How apply reports progress: hooks called by the engine, implemented by the CLI (the engine never prints).

Terraform's design: the engine calls `batch_started` / `batch_done` / `batch_failed` for every planned
call and `finished` once, in the event loop's thread; implementations must not block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from reconcile.engine.execute_result import ApplyResult, ResourceFailure
from reconcile.engine.plan import PlannedCall


@dataclass(frozen=True, slots=True)
class BatchStarted:
    index: int  # position of the call in plan.calls
    call: PlannedCall


@dataclass(frozen=True, slots=True)
class BatchDone:
    """The call succeeded. Some of its resources may still have failed (RegisterMedia's FailedFileURLs)."""

    index: int
    call: PlannedCall
    elapsed: float  # seconds, including the client's pacing waits and retries
    adopted: tuple[str, ...] = ()  # addresses registered before (NewRegister=false)
    failed: tuple[ResourceFailure, ...] = ()
    note: str | None = None  # e.g. "already bound (verified)"


@dataclass(frozen=True, slots=True)
class BatchFailed:
    """The call failed (after the client's retries): none of its resources were applied."""

    index: int
    call: PlannedCall
    elapsed: float
    error: str
    failed: tuple[ResourceFailure, ...]


class ApplyHooks(Protocol):
    def batch_started(self, event: BatchStarted) -> None: ...

    def batch_done(self, event: BatchDone) -> None: ...

    def batch_failed(self, event: BatchFailed) -> None: ...

    def finished(self, result: ApplyResult) -> None: ...


class NoHooks:
    """Hooks that ignore everything: for callers that only want the ApplyResult."""

    def batch_started(self, event: BatchStarted) -> None:
        del event

    def batch_done(self, event: BatchDone) -> None:
        del event

    def batch_failed(self, event: BatchFailed) -> None:
        del event

    def finished(self, result: ApplyResult) -> None:
        del result
