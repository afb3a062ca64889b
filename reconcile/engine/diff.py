"""The diff: a pure function from (desired state, state, live state, options) to resource changes.

Resources are matched by identity (bucket name, OSS object), never by address: renaming a manifest entry
moves its state address and makes no call. Attributes are compared over the fields the manifest declares
only, by the model's rule (`reconcile.model.media.comparable`); a converged media is decided by one equality
of its declared and recorded attributes, so a converged 100,000-resource account diffs in well under a second.

Rules (issue 5, "Diff"):
- input bucket: not bound → bind; bound as input with another referer → replace (unbind + bind);
  bound as an output bucket → plan error; bound input buckets nobody declares or owns → unmanaged.
- media: not in state, or gone → register (adopting a file already registered); changed mutable field →
  update (only those fields); changed registration-only field → warning, no call.
- removed from the manifests but in state → orphan (warning, no call); with prune → unbind / delete,
  unless prevent_destroy (remembered by the state) protects it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from operator import attrgetter
from typing import Any, NamedTuple

from reconcile.engine.attributes import (
    bucket_attributes,
    bucket_of,
    live_bucket_attributes,
    live_media_attributes,
    media_of,
)
from reconcile.engine.live import LiveState
from reconcile.engine.plan import ActionReason, ChangeAction, PlanWarning, ResourceChange, UnmanagedBucket
from reconcile.engine.prevalidated import Prevalidated
from reconcile.manifest.desired import DesiredBucket, DesiredMedia, DesiredState, SourceLocation, media_address
from reconcile.model.media import (
    BUCKET_FIELDS,
    MUTABLE_FIELDS,
    REGISTRATION_NAMES,
    Attributes,
    FieldSpec,
    MediaAttributes,
    changed_fields,
    comparable,
    metadata_matches,
)
from reconcile.state.model import ResourceKind, ResourceState, StateDocument


class DiffResult(NamedTuple):
    changes: tuple[ResourceChange, ...]  # sorted by address; includes no-op and orphan entries
    warnings: tuple[PlanWarning, ...]
    errors: tuple[PlanWarning, ...]
    unmanaged: tuple[UnmanagedBucket, ...]


def plan_changes(
    desired: DesiredState, state: StateDocument | None, live: LiveState | None, *, prune: bool
) -> DiffResult:
    """Every resource change that converges the account on `desired`. `live` None means "plan from state"."""
    diff = _Diff(state, live)
    for bucket in desired.buckets:
        diff.bucket(bucket)
    for media in desired.media:
        diff.media(media)
    if state and diff.matched < len(state.resources):  # else every managed resource is still declared
        declared = declared_identities(desired)
        addresses = {b.address for b in desired.buckets} | {m.address for m in desired.media}
        for resource in state.resources:
            if (resource.kind, resource.identity) not in declared:
                diff.removed(resource, prune=prune, address_taken=resource.address in addresses)
    unmanaged = _unmanaged(live, {b.bucket for b in desired.buckets}, diff.state_buckets) if live else ()
    return DiffResult(
        changes=tuple(sorted(diff.changes, key=attrgetter("address", "identity"))),
        warnings=_sorted(diff.warnings),
        errors=_sorted(diff.errors),
        unmanaged=unmanaged,
    )


def declared_identities(desired: DesiredState) -> set[tuple[str, str]]:
    """(kind, identity) of every resource the manifests declare."""
    return {("input_bucket", b.bucket) for b in desired.buckets} | {("media", m.identity) for m in desired.media}


class _Diff:
    """Accumulates changes, warnings and errors while walking desired state and then the leftover state."""

    def __init__(self, state: StateDocument | None, live: LiveState | None) -> None:
        self.live = live
        self.state_buckets = state.by_identity("input_bucket") if state else {}
        self.state_media = state.by_identity("media") if state else {}
        self.matched = 0  # declared resources found in state (each a different state entry: identities are unique)
        self.changes: list[ResourceChange] = []
        self.warnings: list[PlanWarning] = []
        self.errors: list[PlanWarning] = []

    def add(self, change: ResourceChange) -> None:
        self.changes.append(change)

    def error(self, address: str, message: str, location: SourceLocation | None = None) -> None:
        self.errors.append(PlanWarning(address=address, message=message, location=location))

    def warn(self, address: str, message: str, location: SourceLocation | None = None) -> None:
        self.warnings.append(PlanWarning(address=address, message=message, location=location))

    def same_region(self, managed: ResourceState | None, identity: str, declared: DesiredBucket | DesiredMedia) -> bool:
        """Counts a declared resource the state manages; False, with the plan error, when it moved regions."""
        if managed is None:
            return True
        self.matched += 1
        if managed.region == declared.region:
            return True
        self.error(declared.address, _region_moved(identity, managed.region, declared.region), declared.location)
        return False

    # Declared input buckets

    def bucket(self, bucket: DesiredBucket) -> None:
        managed = self.state_buckets.get(bucket.bucket)
        if not self.same_region(managed, bucket.bucket, bucket):
            return
        after = bucket_attributes(bucket)
        change = partial(_declared(bucket, "input_bucket", bucket.bucket), after=after)
        if self.live is not None:
            binding = self.live.binding(bucket.region, bucket.bucket)
            if binding is None:
                self.add(
                    change(
                        action="bind",
                        reason_code=ActionReason.NOT_IN_STATE if managed is None else ActionReason.GONE_OUTSIDE,
                    )
                )
                return
            if binding.type != "Input":
                self.error(
                    bucket.address,
                    f"bucket {bucket.bucket!r} is bound to MPS in {bucket.region} as an {binding.type.lower()} "
                    "bucket; reconcile never unbinds it implicitly. Unbind the output bucket yourself "
                    "(UnbindOutputBucket) or remove this entry from the manifest",
                    bucket.location,
                )
                return
            current = live_bucket_attributes(binding)
        elif managed is None:
            self.add(change(action="bind", reason_code=ActionReason.NOT_IN_STATE))
            return
        else:
            current = bucket_of(managed.attributes)
        if changed_fields(current, after, BUCKET_FIELDS):
            self.replace_bucket(bucket, change, current, owned=managed is not None)
        elif managed is None:
            self.add(change(action="no-op", before=current, state_only="put", reason_code=ActionReason.ADOPTED))
        elif _state_outdated(managed, bucket.address, after, bucket.prevent_destroy):
            code = ActionReason.STATE_OUTDATED
            self.add(change(action="no-op", before=current, state_only="put", reason_code=code))
        else:
            self.add(change(action="no-op", before=current))

    def replace_bucket(
        self, bucket: DesiredBucket, change: Callable[..., ResourceChange], current: Attributes, owned: bool
    ) -> None:
        if bucket.prevent_destroy:
            was, wanted = bucket_of(current).referer or "", bucket.referer or ""
            self.error(
                bucket.address,
                f"the referer must change from {was!r} to {wanted!r}, which MPS does only by unbinding and binding "
                "the bucket again (a replacement), but prevent_destroy is set: revert the referer, or set "
                "prevent_destroy: false to allow the replacement",
                bucket.location,
            )
            return
        code = ActionReason.REFERER_CHANGED if owned else ActionReason.REFERER_DIFFERS
        self.add(change(action="replace", before=current, changed=("referer",), reason_code=code))

    # Declared media

    def media(self, media: DesiredMedia) -> None:
        managed = self.state_media.get(media.identity)
        if not self.same_region(managed, media.identity, media):
            return
        after = media.attributes
        if managed is None or not managed.remote_id:
            self.add_media(media, "register", after=after, reason_code=ActionReason.NOT_IN_STATE)
            return
        remote_id = managed.remote_id
        recorded = media_of(managed.attributes)
        video = self.live.media.get(remote_id) if self.live is not None else None
        if self.live is not None and video is None:
            self.add_media(media, "register", after=after, reason_code=ActionReason.GONE_OUTSIDE)
            return
        if (
            (recorded is after or recorded == after)  # one object when the manifests declare what was applied
            and managed.address == media.address
            and managed.prevent_destroy == media.prevent_destroy
            and (video is None or metadata_matches(video, after))
        ):  # converged, the common case at scale: nothing below would find a difference
            after = recorded  # equal, and already held by the state: no second copy per media
            self.changes.append(
                _prevalidated_change(
                    {
                        "address": media.address,
                        "kind": "media",
                        "identity": media.identity,
                        "region": media.region,
                        "action": "no-op",
                        "before": after,
                        "after": after,
                        "changed": (),
                        "changed_in_manifests": (),
                        "changed_outside": (),
                        "reason_code": None,
                        "remote_id": remote_id,
                        "location": media.location,
                        "prevent_destroy": media.prevent_destroy,
                        "moved_from": None,
                        "state_only": None,
                    }
                )
            )
            return
        current = live_media_attributes(video, recorded) if video is not None else recorded
        if recorded.registration != after.registration:
            after = self.keep_registration(media, recorded, after)
        moved = managed.address if managed.address != media.address else None
        changed = changed_fields(current, after, MUTABLE_FIELDS)
        if changed:
            in_manifests, outside = _origins(changed, recorded, current, after)
            self.add_media(media, "update", remote_id=remote_id, before=current, after=after, changed=changed,
                           changed_in_manifests=in_manifests, changed_outside=outside,
                           reason_code=ActionReason.CHANGED, moved_from=moved)  # fmt: skip
        elif moved or recorded != after or managed.prevent_destroy != media.prevent_destroy:
            self.add_media(media, "no-op", remote_id=remote_id, before=after, after=after,
                           reason_code=ActionReason.MOVED if moved else ActionReason.STATE_OUTDATED,
                           moved_from=moved, state_only="put")  # fmt: skip
        else:
            self.add_media(media, "no-op", remote_id=remote_id, before=after, after=after)

    def add_media(self, media: DesiredMedia, action: ChangeAction, **fields: Any) -> None:
        self.add(_declared(media, "media", media.identity)(action=action, **fields))

    def keep_registration(
        self, media: DesiredMedia, recorded: MediaAttributes, after: MediaAttributes
    ) -> MediaAttributes:
        """Registration settings cannot change once registered: warn, and keep the registered ones in `after`."""
        for name, registered, wanted in zip(REGISTRATION_NAMES, recorded.registration, after.registration, strict=True):
            if registered != wanted:
                self.warn(media.address, _registration_only(name, registered, wanted), media.location)
        return after.registered_as(recorded)

    # Managed resources no manifest declares any more

    def removed(self, resource: ResourceState, *, prune: bool, address_taken: bool = False) -> None:
        """A managed resource no manifest declares. When its address now names another file (an entry whose
        file_url changed), it is tracked under its identity address instead, so every address stays unique."""
        noun = "unbind it from MPS" if resource.kind == "input_bucket" else "delete it AND ITS SOURCE FILE IN OSS"
        address = media_address(None, resource.identity) if address_taken else resource.address
        moved = resource.address if address_taken else None
        change = partial(
            ResourceChange,
            address=address,
            moved_from=moved,
            kind=resource.kind,
            identity=resource.identity,
            region=resource.region,
            remote_id=resource.remote_id,
            before=self.removed_before(resource),
            prevent_destroy=resource.prevent_destroy,
        )
        if not prune or resource.prevent_destroy:
            if not prune and resource.prevent_destroy:
                reason = (
                    "removed from the manifests: kept in state, no call (orphaned). prevent_destroy, remembered in "
                    f"state, protects it: --prune keeps it too. To let reconcile {noun}, declare it again with "
                    "prevent_destroy: false and apply, then remove it and plan with --prune"
                )
            elif not prune:
                reason = f"removed from the manifests: kept in state, no call (orphaned); plan with --prune to {noun}"
            else:
                reason = (
                    "removed from the manifests, but prevent_destroy protects it even with --prune: kept, no call. "
                    "To let reconcile remove it, declare it again with prevent_destroy: false and apply first"
                )
            if moved:
                reason += f" (its address {moved} now names another file)"
            self.warn(address, reason)
            self.add(
                change(
                    after=resource.attributes if moved else None,
                    state_only="put" if moved else None,
                    action="orphan",
                    reason_code=ActionReason.PROTECTED if resource.prevent_destroy else ActionReason.ORPHANED,
                )
            )
            return
        if self.already_gone(resource):
            self.add(change(action="no-op", state_only="remove", reason_code=ActionReason.ALREADY_GONE))
        elif resource.kind == "input_bucket":
            self.add(change(action="unbind", reason_code=ActionReason.PRUNED))
        else:
            self.add(change(action="delete", reason_code=ActionReason.PRUNED))

    def removed_before(self, resource: ResourceState) -> Attributes:
        if self.live is not None and resource.kind == "input_bucket":
            binding = self.live.binding(resource.region, resource.identity)
            if binding is not None and binding.type == "Input":
                return live_bucket_attributes(binding)
        video = self.live.media.get(resource.remote_id or "") if self.live is not None else None
        if video is not None:
            return live_media_attributes(video, media_of(resource.attributes))
        return resource.attributes

    def already_gone(self, resource: ResourceState) -> bool:
        if resource.kind == "media" and not resource.remote_id:
            return True
        if self.live is None:
            return False
        if resource.kind == "input_bucket":
            binding = self.live.binding(resource.region, resource.identity)
            return binding is None or binding.type != "Input"
        return resource.remote_id not in self.live.media


def _origins(
    changed: Iterable[str], recorded: MediaAttributes, current: MediaAttributes, wanted: MediaAttributes
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Of the changed fields: those changed in the manifests (desired != last applied, or not managed before),
    and those changed outside reconcile (live != last applied). A field may be in both."""
    specs = {spec.name: spec for spec in MUTABLE_FIELDS}
    in_manifests: list[str] = []
    outside: list[str] = []
    for name in changed:
        spec = specs[name]
        managed = getattr(recorded, name) is not None
        recorded_value = _comparable(spec, recorded)
        if not managed or _comparable(spec, wanted) != recorded_value:
            in_manifests.append(name)
        if managed and _comparable(spec, current) != recorded_value:
            outside.append(name)
    return tuple(in_manifests), tuple(outside)


def _comparable(spec: FieldSpec, attributes: MediaAttributes) -> Any:
    return comparable(spec, getattr(attributes, spec.name))


def _declared(
    resource: DesiredBucket | DesiredMedia, kind: ResourceKind, identity: str
) -> Callable[..., ResourceChange]:
    """The change of a declared resource, given the rest of its fields."""
    return partial(
        ResourceChange,
        address=resource.address,
        kind=kind,
        identity=identity,
        region=resource.region,
        location=resource.location,
        prevent_destroy=resource.prevent_destroy,
    )


def _unmanaged(live: LiveState, declared: set[str], managed: dict[str, ResourceState]) -> tuple[UnmanagedBucket, ...]:
    return tuple(
        UnmanagedBucket(region=region, bucket=binding.bucket, referer=binding.referer)
        for region in sorted(live.buckets)
        for binding in sorted(live.buckets[region].values(), key=lambda b: b.bucket)
        if binding.type == "Input" and binding.bucket not in declared and binding.bucket not in managed
    )


def _state_outdated(managed: ResourceState, address: str, after: Attributes, prevent_destroy: bool) -> bool:
    return managed.address != address or managed.attributes != after or managed.prevent_destroy != prevent_destroy


# A converged media's change is built from values valid by construction (validated manifests and state).
_prevalidated_change = Prevalidated(ResourceChange)


def _sorted(items: list[PlanWarning]) -> tuple[PlanWarning, ...]:
    return tuple(sorted(items, key=lambda w: (w.address or "", w.message)))


def _region_moved(identity: str, was: str, now: str) -> str:
    return (
        f"{identity!r} is managed in {was} but now declared in {now}; reconcile cannot move it between regions. "
        f"Declare it in {was} again, or remove it from the manifests, apply with --prune, then declare it in {now}"
    )


def _registration_only(name: str, registered: Any, wanted: Any) -> str:
    return (
        f"{name} changed from {_show(registered)} to {_show(wanted)}, but it only applies when a file is "
        f"registered: no call is made and the registered file keeps {_show(registered)}"
    )


def _show(value: Any) -> str:
    return "(not set)" if value is None else repr(value)
