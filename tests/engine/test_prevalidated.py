"""Prevalidated: models built without validation are indistinguishable from validated ones."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from reconcile.engine.plan import ResourceChange
from reconcile.engine.prevalidated import Prevalidated
from reconcile.manifest.desired import SourceLocation
from reconcile.model.media import MediaAttributes

FIELDS = {
    "address": 'media["media/a.mp4"]',
    "kind": "media",
    "identity": "media/a.mp4",
    "region": "cn-shanghai",
    "action": "no-op",
    "before": MediaAttributes(file_url="https://media.oss-cn-shanghai.aliyuncs.com/a.mp4", title="A", tags=("x",)),
    "after": MediaAttributes(file_url="https://media.oss-cn-shanghai.aliyuncs.com/a.mp4", title="A", tags=("x",)),
    "changed": (),
    "changed_in_manifests": (),
    "changed_outside": (),
    "reason_code": None,
    "remote_id": "v1",
    "location": SourceLocation(path="manifests/prod.yaml", line=10, col=7),
    "prevent_destroy": True,
    "moved_from": None,
    "state_only": None,
}


def test_an_instance_equals_the_validated_one_and_dumps_alike():
    built = Prevalidated(ResourceChange)(dict(FIELDS))
    validated = ResourceChange(**FIELDS)
    assert built == validated
    assert built.model_dump() == validated.model_dump()
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == set(FIELDS)


def test_values_are_held_as_given_not_copied():
    after = {"title": "A"}
    built = Prevalidated(ResourceChange)(FIELDS | {"before": after, "after": after})
    assert built.after is after
    assert built.before is after


class Spot(BaseModel):
    model_config = ConfigDict(frozen=True)
    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


def test_the_instance_stays_frozen():
    built = Prevalidated(Spot)({"path": "manifests/prod.yaml", "line": 1, "col": 1})
    with pytest.raises(ValueError, match="frozen"):
        built.line = 2  # type: ignore[misc]
    assert str(built) == "manifests/prod.yaml:1:1"


def test_fields_out_of_order_missing_or_unknown_are_refused():
    build = Prevalidated(Spot)
    message = "Spot needs every field in this order: path, line, col"
    with pytest.raises(TypeError, match=message):
        build({"line": 1, "path": "a.yaml", "col": 1})
    with pytest.raises(TypeError, match=message):
        build({"path": "a.yaml", "line": 1})
    with pytest.raises(TypeError, match=message):
        build({"path": "a.yaml", "line": 1, "col": 1, "extra": 2})


def test_models_that_validation_must_build_are_refused():
    class Mutable(BaseModel):
        name: str

    class Open(BaseModel):
        model_config = ConfigDict(frozen=True, extra="allow")
        name: str

    for model in (Mutable, Open):
        with pytest.raises(TypeError, match=f"{model.__name__} is not frozen, or has private or extra attributes"):
            Prevalidated(model)
