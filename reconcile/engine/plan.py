"""The Plan: frozen data, no behaviour. The planner builds it; apply executes it; renderers draw it.

A Plan says, for every resource, what will happen and why (`ResourceChange`), and exactly which API
calls apply will make, already batched (`PlannedCall`). Apply makes those calls and no others, so
"calls made == calls predicted" holds by construction.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from reconcile.manifest.desired import SourceLocation
from reconcile.model.media import Attributes, attributes_json
from reconcile.state.model import ResourceKind, TypedAttributes, check_kind

# docs/plan-json.md: 1.1 targets, health; 1.2 reason_code; 1.3 source.state_location; 1.4 changed_in_manifests,
# changed_outside, and `before` holding the fields set
PLAN_FORMAT_VERSION = "1.4"

# What happens to one resource.
#   bind / register  → created (register adopts an already-registered file: NewRegister=false)
#   update           → changed in place (UpdateVideoInfos, only the changed fields)
#   replace          → unbind then bind (an input bucket whose referer changed)
#   unbind / delete  → destroyed (only with --prune; DeleteVideo also deletes the source file)
#   orphan           → removed from the manifests but kept (no --prune, or prevent_destroy): no call
#   no-op            → converged: no call
ChangeAction = Literal["bind", "register", "update", "replace", "unbind", "delete", "orphan", "no-op"]

# Terraform-style action lists for the JSON view.
ACTION_LIST: dict[ChangeAction, tuple[str, ...]] = {
    "bind": ("create",),
    "register": ("create",),
    "update": ("update",),
    "replace": ("delete", "create"),
    "unbind": ("delete",),
    "delete": ("delete",),
    "orphan": ("no-op",),
    "no-op": ("no-op",),
}


class ActionReason(StrEnum):
    """Why a resource change is planned, as a closed set of codes for programs to switch on (Terraform's
    ActionReason is the model). The views word each one, with its particulars (reconcile.render.reasons)."""

    NOT_IN_STATE = "not_in_state"  # bind / register: reconcile has no record of it (register adopts a file)
    GONE_OUTSIDE = "gone_outside"  # bind / register again: unbound or deleted outside reconcile since the last apply
    CHANGED = "changed"  # update: fields differ, changed in the manifests, outside reconcile, or both
    REFERER_CHANGED = "referer_changed"  # replace: the declared referer changed; MPS cannot change it in place
    REFERER_DIFFERS = "referer_differs"  # replace: bound outside reconcile with another referer than declared
    ADOPTED = "adopted"  # no-op, state put: already bound as declared, recorded in state
    STATE_OUTDATED = "state_outdated"  # no-op, state put: the state's record brought up to date
    MOVED = "moved"  # no-op, state put: the manifest `name` changed; the state address follows
    ORPHANED = "orphaned"  # orphan: removed from the manifests, kept without --prune
    PROTECTED = "protected"  # orphan: removed from the manifests, kept by prevent_destroy (even with --prune)
    PRUNED = "pruned"  # unbind / delete: removed from the manifests, and --prune
    ALREADY_GONE = "already_gone"  # no-op, state remove: pruned, but already gone from the account


ApiAction = Literal["BindInputBucket", "UnbindInputBucket", "RegisterMedia", "UpdateVideoInfos", "DeleteVideo"]

# Apply runs the calls in this order of phases; calls within a phase run concurrently, paced per action.
# Replacements unbind (phase 0) before they bind (phase 1); prune deletions come last.
CALL_PHASE: dict[ApiAction, int] = {
    "UnbindInputBucket": 0,  # replacements only; pruned buckets are unbound in the last phase
    "BindInputBucket": 1,
    "RegisterMedia": 1,
    "UpdateVideoInfos": 1,
    "DeleteVideo": 2,
}


class ResourceChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    kind: ResourceKind
    identity: str  # bucket name, or "<oss-bucket>/<object-key>"
    region: str
    action: ChangeAction
    before: TypedAttributes | None = None  # live (or state, with --refresh=false) attributes; None if absent
    after: TypedAttributes | None = None  # desired attributes; None when destroyed
    changed: tuple[str, ...] = ()  # the attributes that differ, e.g. ("title", "tags")
    changed_in_manifests: tuple[str, ...] = ()  # of `changed`: declared differently since the last apply
    changed_outside: tuple[str, ...] = ()  # of `changed`: changed in the account since the last apply
    reason_code: ActionReason | None = None  # why (the views word it: reconcile.render.reasons); None: converged
    remote_id: str | None = None  # MediaId, when known
    location: SourceLocation | None = None  # where the manifest declares it (None for orphans/prunes)
    prevent_destroy: bool = False
    # The state address this resource had when its manifest `name` changed: apply rewrites the address
    # (a move, never an API call). None when the address is unchanged or the resource is new.
    moved_from: str | None = None
    # A state-only change on a "no-op" entry, made by apply without any API call:
    #   "put"    → record `after` (with `remote_id`) in state: an existing binding adopted, an address
    #              moved, or prevent_destroy / last-applied attributes brought up to date
    #   "remove" → drop the entry from state: pruned, but already gone from the account
    state_only: Literal["put", "remove"] | None = None

    @model_validator(mode="after")
    def _attributes_of_its_kind(self) -> ResourceChange:
        check_kind(self.kind, self.before)
        check_kind(self.kind, self.after)
        return self

    @field_serializer("before", "after")
    def _attributes_json(self, attributes: Attributes | None) -> dict[str, Any] | None:
        return None if attributes is None else attributes_json(attributes)


class PlannedCall(BaseModel):
    """One API call apply will make: its action, region, the resources it covers and its top-level params."""

    model_config = ConfigDict(frozen=True)

    action: ApiAction
    region: str
    addresses: tuple[str, ...]  # the resources in this call, in request order
    # RegisterMedia groups: same storage location, template group, workflow and user data.
    storage_location: str | None = None
    template_group_id: str | None = None
    workflow_id: str | None = None
    user_data: str | None = None

    @property
    def phase(self) -> int:
        if self.action == "UnbindInputBucket" and not self.replace:
            return 2
        return CALL_PHASE[self.action]

    # True for the unbind half of a replacement (runs before the binds).
    replace: bool = False

    @property
    def register_settings(self) -> tuple[str | None, str | None, str | None, str | None]:
        """RegisterMedia's group parameters: the files of one call share them (None for other actions)."""
        return (self.storage_location, self.template_group_id, self.workflow_id, self.user_data)

    @property
    def group(self) -> tuple[str, str, bool, str | None, str | None, str | None, str | None]:
        """What the calls of one batch share: the calls of a group differ only in their resources."""
        return (self.action, self.region, self.replace, *self.register_settings)


class PlanWarning(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str | None
    message: str
    location: SourceLocation | None = None


class UnmanagedBucket(BaseModel):
    """An input bucket bound in the account that no manifest declares and the state does not own."""

    model_config = ConfigDict(frozen=True)
    region: str
    bucket: str
    referer: str | None = None


class UnhealthyMedia(BaseModel):
    """A managed media VOD reports in a failed Status (reconcile.engine.health): reported, never acted on."""

    model_config = ConfigDict(frozen=True)
    address: str
    remote_id: str
    status: str
    meaning: str  # what the status means, in words
    location: SourceLocation | None = None  # where the manifests declare it


class PlanSource(BaseModel):
    """What the plan was made against; a saved plan is refused when any of it moved."""

    model_config = ConfigDict(frozen=True)

    manifest_paths: tuple[str, ...] = ()  # as given on the command line
    manifest_digest: str = ""  # DesiredState.digest
    state_lineage: str | None = None  # None: planned on empty state (first plan)
    state_serial: int | None = None
    state_location: str | None = None  # 1.3: where the empty state was read, for a plan made on empty state
    live_digest: str | None = None  # sha256 of the refreshed live resources; None with --refresh=false
    refreshed: bool = True
    prune: bool = False
    targets: tuple[str, ...] = ()  # --target patterns: a partial plan (reconcile.engine.targeting); () is all


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    format_version: str = PLAN_FORMAT_VERSION
    changes: tuple[ResourceChange, ...] = ()  # sorted by address; includes no-op and orphan entries
    calls: tuple[PlannedCall, ...] = ()  # in execution order: by phase, then action, then region, then first address
    warnings: tuple[PlanWarning, ...] = ()
    errors: tuple[PlanWarning, ...] = ()  # conflicts that make the plan unappliable (e.g. bucket bound as output)
    unmanaged: tuple[UnmanagedBucket, ...] = ()
    unhealthy: tuple[UnhealthyMedia, ...] = ()  # managed media in a failed Status, by address
    source: PlanSource = Field(default_factory=PlanSource)
    created: str = ""  # UTC ISO 8601

    @property
    def has_changes(self) -> bool:
        return bool(self.calls)

    @property
    def state_only_changes(self) -> tuple[ResourceChange, ...]:
        """Entries apply records in (or drops from) state without any API call."""
        return tuple(c for c in self.changes if c.state_only is not None)

    @property
    def needs_apply(self) -> bool:
        """True when apply would do anything: make a call or update the state."""
        return self.has_changes or any(c.state_only is not None for c in self.changes)

    @property
    def partial(self) -> bool:
        """Made with --target: it covers only the matching resources."""
        return bool(self.source.targets)

    def count(self, action: ChangeAction) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def call_counts(self) -> dict[str, int]:
        """API calls per action, e.g. {"RegisterMedia": 12, "BindInputBucket": 2}, in first-seen order."""
        return dict(Counter(call.action for call in self.calls))
