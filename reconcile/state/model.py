"""The versioned state document (format `STATE_FORMAT_VERSION`).

One entry per managed resource: its address, kind, identity (bucket name or OSS object), region,
remote id (MediaId for media) and the attributes last applied. `serial` increases on every write;
`lineage` is created once, with the state, and never changes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_serializer, model_validator

from reconcile.model.media import Attributes, BucketAttributes, MediaAttributes, attributes_json

STATE_FORMAT_VERSION = 1

_set_attribute = object.__setattr__  # frozen models refuse their own __setattr__

ResourceKind = Literal["input_bucket", "media"]


def _attributes_kind(value: Any) -> str:
    """Which class validates an attributes value: a media's has a file_url (its kind is checked after)."""
    return (
        "media" if isinstance(value, MediaAttributes) or (isinstance(value, dict) and "file_url" in value) else "bucket"
    )


# Attributes as pydantic validates them (natively, from a state's or a saved plan's JSON) and dumps them.
TypedAttributes = Annotated[
    Annotated[MediaAttributes, Tag("media")] | Annotated[BucketAttributes, Tag("bucket")],
    Discriminator(_attributes_kind),
]


class ResourceState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str
    kind: ResourceKind
    identity: str  # bucket name, or "<oss-bucket>/<object-key>" for media
    region: str
    remote_id: str | None = None  # MediaId for media; None for buckets
    # The last applied, as declared: a bucket's by default (a media's must be given).
    attributes: TypedAttributes = Field(default_factory=BucketAttributes, validate_default=True)
    prevent_destroy: bool = False

    @model_validator(mode="after")
    def _attributes_of_its_kind(self) -> ResourceState:
        check_kind(self.kind, self.attributes)
        return self

    @field_serializer("attributes")
    def _attributes_json(self, attributes: Attributes) -> dict[str, Any]:
        return attributes_json(attributes)


def check_kind(kind: str, attributes: Attributes | None) -> None:
    """Refuses attributes of another kind of resource than `kind` (pydantic validates each field alone)."""
    if attributes is not None and isinstance(attributes, MediaAttributes) != (kind == "media"):
        what = "a media's (file_url, title, ...)" if kind == "media" else "an input bucket's (referer)"
        raise ValueError(f"the attributes of kind {kind} must be {what}")


class StateDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = STATE_FORMAT_VERSION
    lineage: str  # uuid4, created with the state; "" in a document not written yet
    serial: int = Field(default=0, ge=0)
    resources: list[ResourceState] = Field(default_factory=list)  # sorted by address when read from a store

    @classmethod
    def empty(cls) -> StateDocument:
        """A state not written yet: the store assigns its lineage on the first write."""
        return cls(lineage="")

    def by_identity(self, kind: ResourceKind) -> dict[str, ResourceState]:
        return {r.identity: r for r in self.resources if r.kind == kind}


class SharedFieldsSets:
    """Gives resources with the same explicitly-set fields one shared set of their names.

    Validation gives each model its own `__pydantic_fields_set__`: at 7 names, a 728-byte set, 40% of a
    media's memory once parsed. Frozen models never add to it, and pydantic copies it before a model_copy
    changes it, so one set per distinct value is equivalent. Applied to each resource as soon as it is
    validated, the freed set is the next one's memory (freed later, it stays in the process: 35 MB at 50,000)."""

    def __init__(self) -> None:
        self._shared: dict[frozenset[str], set[str]] = {}

    def __call__(self, resource: ResourceState) -> ResourceState:
        """`resource` with the shared set; its values moved to a key-sharing instance dict (CPython keeps one
        table of the field names for all of them: 120 bytes a resource instead of 272)."""
        names = resource.__pydantic_fields_set__
        compact = ResourceState.__new__(ResourceState)
        for name, value in resource.__dict__.items():
            _set_attribute(compact, name, value)
        _set_attribute(compact, "__pydantic_fields_set__", self._shared.setdefault(frozenset(names), names))
        _set_attribute(compact, "__pydantic_extra__", None)
        _set_attribute(compact, "__pydantic_private__", None)
        return compact


def share_fields_sets(resources: list[ResourceState]) -> None:
    """`SharedFieldsSets` over resources validated already, in place."""
    share = SharedFieldsSets()
    resources[:] = [share(resource) for resource in resources]
