"""Apply progress, three ways: a live rich display on a TTY, plain periodic lines in logs, JSON events for CI.

Each implements `reconcile.engine.progress.ApplyHooks`. In logs, failures are printed the moment they happen,
with the manifest location and file of every resource concerned; on a TTY the live display counts them, and
the summary (from `render.apply_result`) lists each once, after the bars.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn
from rich.text import Text

from reconcile.cloud.models import CallStats
from reconcile.cloud.pacing import ActionPacing
from reconcile.engine.execute_result import ApplyResult
from reconcile.engine.plan import Plan
from reconcile.engine.progress import BatchDone, BatchFailed, BatchStarted
from reconcile.render.apply_result import batch_done_json, batch_failed_json, batch_started_json, summary_json

PLAIN_INTERVAL = 2.0  # seconds between plain progress lines


def failure_lines(event: BatchDone | BatchFailed) -> list[str]:
    """What the user reads when resources fail: the call's error, then each resource with where it is declared."""
    if isinstance(event, BatchFailed):
        resources = f"{len(event.failed)} resource{'' if len(event.failed) == 1 else 's'}"
        lines = [f"error: {event.call.action} failed for {resources}: {event.error}"]
        lines.extend(f"  {_resource_where(f.address, f.location, f.file_url)}" for f in event.failed)
        return lines
    return [f"error: {f.describe()}" for f in event.failed]


def _resource_where(address: str, location: object | None, file_url: str | None) -> str:
    where = f"{location}: " if location else ""
    file = f" ({file_url})" if file_url else ""
    return f"{where}{address}{file}"


@dataclass(slots=True)
class ActionTally:
    """Calls of one action: how many are planned, finished (either way), failed, and when the first started."""

    total: int
    finished: int = 0
    failed: int = 0
    first_started: float | None = None

    def rate(self, now: float) -> float | None:
        if self.first_started is None or self.finished == 0:
            return None
        elapsed = now - self.first_started
        return self.finished / elapsed if elapsed > 0 else None

    def describe(self, now: float) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        if self.finished >= self.total:
            return f"{self.finished}/{self.total} calls (done{failed})"
        rate = self.rate(now)
        if rate is None:
            return f"{self.finished}/{self.total} calls{failed}"
        eta = (self.total - self.finished) / rate
        return f"{self.finished}/{self.total} calls ({rate:.1f}/s, ETA {eta:.0f}s{failed})"


def tallies_of(plan: Plan) -> dict[str, ActionTally]:
    return {action: ActionTally(total=n) for action, n in plan.call_counts().items()}


class PlainProgress:
    """For logs (no TTY): a line with every action's progress every `interval` seconds, and one at the end."""

    def __init__(
        self,
        plan: Plan,
        out: TextIO,
        *,
        interval: float = PLAIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tallies = tallies_of(plan)
        self.out = out
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.last_line = self.started

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def line(self) -> str:
        now = self.clock()
        parts = [f"{action} {tally.describe(now)}" for action, tally in self.tallies.items()]
        return f"[{now - self.started:5.1f}s] " + "; ".join(parts)

    def tick(self) -> None:
        """Print a progress line if one is due; the CLI calls this on a timer as well as on every event."""
        if self.clock() - self.last_line >= self.interval:
            self.last_line = self.clock()
            self._print(self.line())

    def batch_started(self, event: BatchStarted) -> None:
        tally = self.tallies[event.call.action]
        if tally.first_started is None:
            tally.first_started = self.clock()

    def batch_done(self, event: BatchDone) -> None:
        self.tallies[event.call.action].finished += 1
        for line in failure_lines(event) if event.failed else []:
            self._print(line)
        self.tick()

    def batch_failed(self, event: BatchFailed) -> None:
        tally = self.tallies[event.call.action]
        tally.finished += 1
        tally.failed += 1
        for line in failure_lines(event):
            self._print(line)
        self.tick()

    def finished(self, result: ApplyResult) -> None:
        del result
        self._print(self.line())


class RateColumn(ProgressColumn):
    """Calls per second of one action's task."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:5.1f}/s", style="progress.data.speed")


class EtaColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        if task.finished:
            return Text("done", style="progress.elapsed")
        remaining = task.time_remaining
        return Text("ETA --" if remaining is None else f"ETA {remaining:4.0f}s", style="progress.remaining")


class LiveProgress:
    """On a TTY: one live bar per action (done/total calls, rate, ETA, resources failed). Failures are not
    printed here: the summary after the bars lists each one, and a terminal shows both at once."""

    def __init__(self, plan: Plan, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            EtaColumn(),
            TextColumn("{task.fields[failed]}", style="red"),
            console=console,
            transient=False,
        )
        self.tasks = {
            action: self.progress.add_task(action, total=n, start=False, failed="")
            for action, n in plan.call_counts().items()
        }
        self.failed: dict[str, int] = dict.fromkeys(self.tasks, 0)
        self.started: set[str] = set()

    def __enter__(self) -> LiveProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def batch_started(self, event: BatchStarted) -> None:
        action = event.call.action
        if action not in self.started:
            self.started.add(action)
            self.progress.start_task(self.tasks[action])

    def batch_done(self, event: BatchDone) -> None:
        self._advance(event.call.action, len(event.failed))

    def batch_failed(self, event: BatchFailed) -> None:
        self._advance(event.call.action, len(event.failed))

    def _advance(self, action: str, failed: int) -> None:
        self.failed[action] += failed
        shown = f"{self.failed[action]} failed" if self.failed[action] else ""
        self.progress.update(self.tasks[action], advance=1, failed=shown)

    def finished(self, result: ApplyResult) -> None:
        del result
        self.progress.refresh()


class JsonEvents:
    """`--json`: one JSON object per line on `out` for every batch event, then the summary."""

    def __init__(
        self,
        out: TextIO,
        stats: CallStats | None = None,
        state_location: str | None = None,
        pacing: Callable[[], Sequence[ActionPacing]] = tuple,
    ) -> None:
        self.out = out
        self.stats = stats
        self.state_location = state_location
        self.pacing = pacing  # read when the apply finishes: the rates at the end

    def emit(self, obj: dict[str, Any]) -> None:
        print(json.dumps(obj, ensure_ascii=False, separators=(",", ":")), file=self.out, flush=True)

    def batch_started(self, event: BatchStarted) -> None:
        self.emit(batch_started_json(event))

    def batch_done(self, event: BatchDone) -> None:
        self.emit(batch_done_json(event))

    def batch_failed(self, event: BatchFailed) -> None:
        self.emit(batch_failed_json(event))

    def finished(self, result: ApplyResult) -> None:
        self.emit(summary_json(result, self.stats, self.state_location, self.pacing()))


async def tick_every(progress: PlainProgress, interval: float) -> None:
    """Keep plain progress lines coming while calls are slow; cancelled when the apply ends."""
    while True:
        await asyncio.sleep(interval)
        progress.tick()
