"""Drift: what changed in the account outside reconcile, measured against the state (the last apply).

A refresh-only comparison: every managed resource's live form against its last-applied attributes. The
manifests play no part in what counts as drift; when given, they only say whether each drifted resource is
still declared (then the next `plan` shows how it would be put back).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from reconcile.engine.attributes import live_bucket_attributes
from reconcile.engine.diff import declared_identities
from reconcile.engine.health import unhealthy_media
from reconcile.engine.live import LiveState
from reconcile.engine.plan import UnhealthyMedia
from reconcile.manifest.desired import DesiredState
from reconcile.model.media import BUCKET_FIELDS, MUTABLE_FIELDS, FieldSpec, changed_fields, json_value
from reconcile.state.model import ResourceKind, ResourceState, StateDocument

DriftKind = Literal["changed", "deleted", "unbound", "bound_as_output"]


class AttributeDrift(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    recorded: Any  # last applied, as the state holds it
    live: Any  # what the account holds now


class Drift(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    kind: ResourceKind
    identity: str
    region: str
    drift: DriftKind
    remote_id: str | None = None
    attributes: tuple[AttributeDrift, ...] = ()  # for "changed"
    declared: bool | None = None  # still declared by the manifests; None when no manifests were given


class DriftReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    drifts: tuple[Drift, ...] = ()  # sorted by address
    checked: int = 0  # managed resources compared
    state_lineage: str | None = None
    state_serial: int | None = None
    unhealthy: tuple[UnhealthyMedia, ...] = ()  # managed media VOD reports in a failed status (issue 16)

    @property
    def has_drift(self) -> bool:
        return bool(self.drifts)

    @property
    def needs_attention(self) -> bool:
        """Drift, or an unhealthy media: `reconcile drift` exits 2."""
        return self.has_drift or bool(self.unhealthy)


def detect_drift(state: StateDocument | None, live: LiveState, desired: DesiredState | None = None) -> DriftReport:
    """Compare every managed resource with the live account. `live` must come from a refresh of this state."""
    declared = declared_identities(desired) if desired is not None else None
    drifts: list[Drift] = []
    resources = state.resources if state else []
    for resource in resources:
        found = _bucket_drift(resource, live) if resource.kind == "input_bucket" else _media_drift(resource, live)
        if found is not None:
            is_declared = None if declared is None else (resource.kind, resource.identity) in declared
            drifts.append(found.model_copy(update={"declared": is_declared}))
    return DriftReport(
        drifts=tuple(sorted(drifts, key=lambda d: (d.address, d.identity))),
        checked=len(resources),
        state_lineage=state.lineage if state else None,
        state_serial=state.serial if state else None,
        unhealthy=unhealthy_media(state, live, desired),
    )


def _bucket_drift(resource: ResourceState, live: LiveState) -> Drift | None:
    binding = live.binding(resource.region, resource.identity)
    if binding is None:
        return _drift(resource, "unbound")
    if binding.type != "Input":
        return _drift(resource, "bound_as_output")
    return _attribute_drift(resource, live_bucket_attributes(binding), BUCKET_FIELDS)


def _media_drift(resource: ResourceState, live: LiveState) -> Drift | None:
    video = live.media.get(resource.remote_id or "")
    if video is None:
        return _drift(resource, "deleted")
    return _attribute_drift(resource, video, MUTABLE_FIELDS)


def _attribute_drift(resource: ResourceState, current: object, specs: tuple[FieldSpec, ...]) -> Drift | None:
    """`resource`'s drift: the fields among `specs` its last-applied attributes set that `current` (a live
    binding's attributes, or a video as GetVideoInfos reads it) holds otherwise."""
    changed = set(changed_fields(current, resource.attributes, specs))
    if not changed:
        return None
    attributes = tuple(
        AttributeDrift(
            name=spec.name,
            recorded=json_value(spec, getattr(resource.attributes, spec.name)),
            live=json_value(spec, getattr(current, spec.name)),
        )
        for spec in specs
        if spec.name in changed
    )
    return _drift(resource, "changed", attributes)


def _drift(resource: ResourceState, kind: DriftKind, attributes: tuple[AttributeDrift, ...] = ()) -> Drift:
    return Drift(
        address=resource.address,
        kind=resource.kind,
        identity=resource.identity,
        region=resource.region,
        drift=kind,
        remote_id=resource.remote_id,
        attributes=attributes,
    )
