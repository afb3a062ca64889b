"""The media and bucket resources, defined once: their fields, each field's wire name and role, and one rule
for comparing them.

Every layer uses these classes: the manifests' desired state, the plan's `before` and `after`, the state's
last-applied attributes, the client's requests and answers (`reconcile.cloud.models` extends
`MediaMetadata`) and the emulator's records. Adding a media field is adding it here (its name, type, wire
name and role) and to the manifest language (`reconcile.manifest.fields`); everything else iterates the
tables below.

`None` means "not set": in desired state and `after`, a field the manifests do not declare (reconcile neither
sends nor diffs it); in an answer, a field VOD does not hold. JSON views leave `None` fields out.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, ClassVar, TypeAlias


class Role(enum.Enum):
    IDENTITY = "identity"  # names the resource; never changes (a new value is another resource)
    MUTABLE = "mutable"  # changed in place by UpdateVideoInfos and read back by GetVideoInfos
    REGISTRATION = "registration"  # sent only with RegisterMedia: later changes have no effect on a registered file
    BINDING = "binding"  # sent with BindInputBucket: MPS changes it only by unbinding and binding again


class ValueKind(enum.Enum):
    TEXT = "text"  # a string; VOD reports an empty one as absent, so None and "" compare equal
    REQUIRED_TEXT = "required text"  # a string every resource has (a media's title)
    INTEGER = "integer"
    TEXT_LIST = "text list"  # a tuple of strings, compared as a set; comma-joined on the wire
    JSON_TEXT = "json text"  # canonical JSON text (sorted keys, compact), compared as text


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field: its name (Python, manifest, state and plan JSON), its wire name, its role and its kind."""

    name: str
    wire: str
    role: Role
    kind: ValueKind


def _field(wire: str, role: Role, kind: ValueKind) -> Any:
    return dataclasses.field(default=None, metadata={"spec": (wire, role, kind)})


TEXT, INTEGER, TEXT_LIST = ValueKind.TEXT, ValueKind.INTEGER, ValueKind.TEXT_LIST


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaMetadata:
    """The fields of a media that UpdateVideoInfos changes in place and GetVideoInfos reads back."""

    title: str | None = _field("Title", Role.MUTABLE, ValueKind.REQUIRED_TEXT)
    description: str | None = _field("Description", Role.MUTABLE, TEXT)
    tags: tuple[str, ...] | None = _field("Tags", Role.MUTABLE, TEXT_LIST)
    cover_url: str | None = _field("CoverURL", Role.MUTABLE, TEXT)
    cate_id: int | None = _field("CateId", Role.MUTABLE, INTEGER)


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaAttributes(MediaMetadata):
    """A media as the manifests declare it and the state records it: the OSS file, its metadata and the
    settings it is registered with (RegisterMedia's top-level parameters)."""

    file_url: str = dataclasses.field(metadata={"spec": ("FileURL", Role.IDENTITY, ValueKind.REQUIRED_TEXT)})
    template_group_id: str | None = _field("TemplateGroupId", Role.REGISTRATION, TEXT)
    workflow_id: str | None = _field("WorkflowId", Role.REGISTRATION, TEXT)
    user_data: str | None = _field("UserData", Role.REGISTRATION, ValueKind.JSON_TEXT)

    # Read by pydantic when a state or a saved plan is validated (natively, in one pass): no other keys.
    __pydantic_config__: ClassVar[dict[str, str]] = {"extra": "forbid"}

    @property
    def registration(self) -> tuple[str | None, str | None, str | None]:
        """The registration settings, in REGISTRATION_FIELDS order: files sharing them share a RegisterMedia."""
        return _registration(self)

    def registered_as(self, other: MediaAttributes) -> MediaAttributes:
        """These attributes with `other`'s registration settings (a registered file keeps its own)."""
        settings: dict[str, Any] = dict(zip(REGISTRATION_NAMES, _registration(other), strict=True))
        return dataclasses.replace(self, **settings)


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketAttributes:
    """An input bucket's binding as the manifests declare it and the state records it."""

    referer: str | None = _field("Referer", Role.BINDING, TEXT)

    __pydantic_config__: ClassVar[dict[str, str]] = {"extra": "forbid"}


Attributes: TypeAlias = MediaAttributes | BucketAttributes


def _specs(cls: type, role: Role | None = None) -> tuple[FieldSpec, ...]:
    """The fields `cls` declares (with `_field`), in declaration order; those of `role` when given."""
    found = (FieldSpec(f.name, *f.metadata["spec"]) for f in dataclasses.fields(cls) if "spec" in f.metadata)
    return tuple(spec for spec in found if role is None or spec.role is role)


MUTABLE_FIELDS = _specs(MediaMetadata)
REGISTRATION_FIELDS = _specs(MediaAttributes, Role.REGISTRATION)
# A media's fields in their canonical order (plan JSON, state, manifests): the file, then the rest as declared.
MEDIA_FIELDS = (*_specs(MediaAttributes, Role.IDENTITY), *MUTABLE_FIELDS, *REGISTRATION_FIELDS)
BUCKET_FIELDS = _specs(BucketAttributes)

MUTABLE_NAMES = tuple(spec.name for spec in MUTABLE_FIELDS)
REGISTRATION_NAMES = tuple(spec.name for spec in REGISTRATION_FIELDS)
MEDIA_NAMES = tuple(spec.name for spec in MEDIA_FIELDS)

_registration = attrgetter(*REGISTRATION_NAMES)
metadata_values = attrgetter(*MUTABLE_NAMES)  # the metadata values of any MediaMetadata, as one tuple
media_values = attrgetter(*MEDIA_NAMES)  # a media's values in MEDIA_FIELDS order, as one tuple


def fields_of(attributes: Attributes) -> tuple[FieldSpec, ...]:
    return MEDIA_FIELDS if isinstance(attributes, MediaAttributes) else BUCKET_FIELDS


def metadata_of(item: MediaMetadata) -> dict[str, Any]:
    """The metadata `item` sets, by field name (a request's fields, or a copy into another class)."""
    return {name: value for name, value in zip(MUTABLE_NAMES, metadata_values(item), strict=True) if value is not None}


def comparable(spec: FieldSpec, value: Any) -> Any:
    """`value` normalised for equality: VOD reports an empty text as absent, and tags are a set."""
    if spec.kind is ValueKind.TEXT_LIST:
        return frozenset(value or ())
    if spec.kind is ValueKind.TEXT:
        return value or ""
    return value


def declared_specs(declared: Attributes, specs: tuple[FieldSpec, ...]) -> Iterator[FieldSpec]:
    """The fields among `specs` that `declared` sets (the ones reconcile manages)."""
    return (spec for spec in specs if getattr(declared, spec.name) is not None)


def changed_fields(current: Any, declared: Attributes, specs: tuple[FieldSpec, ...]) -> tuple[str, ...]:
    """The names of the fields among `specs` that `declared` sets and `current` holds differently, compared as
    `comparable` compares them, in `specs` order. `current` is any object with those fields (attributes, a
    VideoInfo, a MediaBucket)."""
    return tuple(
        spec.name
        for spec in declared_specs(declared, specs)
        if comparable(spec, getattr(current, spec.name, None)) != comparable(spec, getattr(declared, spec.name))
    )


def metadata_matches(live: MediaMetadata, declared: MediaMetadata) -> bool:
    """Whether `live` holds every mutable field `declared` sets: `changed_fields(live, declared,
    MUTABLE_FIELDS)` is empty. The diff asks it of every converged media, so the common case (equal values)
    is decided without normalising."""
    declared_values, live_values = metadata_values(declared), metadata_values(live)
    if declared_values == live_values:
        return True
    for spec, mine, theirs in zip(MUTABLE_FIELDS, declared_values, live_values, strict=True):
        if mine is not None and mine != theirs and comparable(spec, mine) != comparable(spec, theirs):
            return False
    return True


def json_value(spec: FieldSpec, value: Any) -> Any:
    """A field's value as JSON holds it: tags as a list."""
    return list(value) if spec.kind is ValueKind.TEXT_LIST and value is not None else value


def shown(attributes: Attributes | None) -> dict[str, Any]:
    """`attributes_json`, and no fields for none (a change that creates or destroys the resource)."""
    return {} if attributes is None else attributes_json(attributes)


def attributes_json(attributes: Attributes) -> dict[str, Any]:
    """The JSON object of `attributes` (state, plan JSON): the fields set, in canonical order; tags a list."""
    out: dict[str, Any] = {}
    for spec in fields_of(attributes):
        value = getattr(attributes, spec.name)
        if value is not None:
            out[spec.name] = json_value(spec, value)
    return out
