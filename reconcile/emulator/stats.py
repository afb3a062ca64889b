"""Per-action counters for the control API (`GET /_emulator/stats`).

Every request to the API lands in exactly one outcome: `successes`, `errors` (answered by the service's
rules: bad parameters, signatures, unknown resources), `throttled`, or `faults` (an injected error or a
drop; `dropped` counts the drops among them). `delayed` counts requests that met an injected latency.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

Outcome = Literal["successes", "errors", "throttled", "faults"]
NO_ACTION = "(none)"  # requests that named no action


@dataclass(slots=True)
class ActionCounters:
    calls: int = 0
    successes: int = 0
    errors: int = 0
    throttled: int = 0
    faults: int = 0
    dropped: int = 0
    delayed: int = 0


class EmulatorStats:
    def __init__(self) -> None:
        self._actions: dict[str, ActionCounters] = {}

    def of(self, action: str | None) -> ActionCounters:
        key = action or NO_ACTION
        counters = self._actions.get(key)
        if counters is None:
            counters = self._actions[key] = ActionCounters()
        return counters

    def record(self, action: str | None, outcome: Outcome, *, dropped: bool = False, delayed: bool = False) -> None:
        counters = self.of(action)
        counters.calls += 1
        setattr(counters, outcome, getattr(counters, outcome) + 1)
        counters.dropped += dropped
        counters.delayed += delayed

    def reset(self) -> None:
        self._actions.clear()

    def to_dict(self) -> dict[str, Any]:
        totals = ActionCounters()
        for counters in self._actions.values():
            for f in fields(ActionCounters):
                setattr(totals, f.name, getattr(totals, f.name) + getattr(counters, f.name))
        return {
            "actions": {name: asdict(c) for name, c in sorted(self._actions.items())},
            "totals": asdict(totals),
        }
