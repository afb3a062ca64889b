"""What an apply did: per resource, per call and in total. Data only; `render.apply_result` draws it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from reconcile.engine.plan import ChangeAction
from reconcile.manifest.desired import SourceLocation

# done          the planned change is in the account and in the state
# adopted       RegisterMedia answered NewRegister=false: the file was registered already (e.g. by an
#               apply that was killed before it could record it); its MediaId is now in the state
# failed        the call failed after the client's retries, or the API refused this resource
# not_attempted never sent: an earlier failure it depends on, or the apply was stopped
ResourceOutcome = Literal["done", "adopted", "failed", "not_attempted"]


@dataclass(frozen=True, slots=True)
class ResourceFailure:
    """Why one resource was not applied, with what the user needs to find it."""

    address: str
    message: str
    location: SourceLocation | None = None  # where the manifest declares it
    file_url: str | None = None  # for media: the OSS file

    def describe(self) -> str:
        where = f"{self.location}: " if self.location else ""
        file = f" ({self.file_url})" if self.file_url else ""
        return f"{where}{self.address}{file}: {self.message}"


@dataclass(frozen=True, slots=True)
class ResourceResult:
    address: str
    action: ChangeAction
    outcome: ResourceOutcome
    message: str | None = None  # failure reason, or a note such as "already bound (verified)"
    location: SourceLocation | None = None
    file_url: str | None = None
    remote_id: str | None = None  # MediaId once registered


@dataclass(frozen=True, slots=True)
class ApplyResult:
    resources: tuple[ResourceResult, ...]  # every resource the plan changes, sorted by address
    calls_predicted: dict[str, int]  # API calls per action, from the plan
    calls_made: dict[str, int]  # planned calls actually sent per action (client retries not counted)
    verification_calls: int = 0  # ListAllMediaBucket calls made to verify a Bucket.AlreadyBind
    # Writes the apply made to the state, each a new serial: one journal append per call that changed it (and
    # one for all the state-only changes), then the final snapshot. Under the lock, the serial moved by this much.
    state_updates: int = 0
    state_only_changes: int = 0  # the plan's changes recorded without a call (adoptions, moves, forgotten entries)
    elapsed: float = 0.0  # seconds
    serial: int | None = None  # state serial after the final snapshot; None when nothing was written
    aborted: str | None = None  # why the apply stopped early, if it did
    stopped_on_request: bool = False  # the caller's stop event (Ctrl-C) left calls unmade
    failures: tuple[ResourceFailure, ...] = field(default=())  # in the order they happened

    def count(self, outcome: ResourceOutcome) -> int:
        return sum(1 for r in self.resources if r.outcome == outcome)

    @property
    def outcome_counts(self) -> dict[ResourceOutcome, int]:
        counts = Counter(r.outcome for r in self.resources)
        return {o: counts.get(o, 0) for o in ("done", "adopted", "failed", "not_attempted")}

    @property
    def ok(self) -> bool:
        return self.aborted is None and all(r.outcome in ("done", "adopted") for r in self.resources)

    @property
    def calls_match(self) -> bool:
        """Every predicted call was made, and no other."""
        return self.calls_made == self.calls_predicted
