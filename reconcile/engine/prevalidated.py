"""Build frozen pydantic models from values that are already valid, without validating or copying them.

A converged 100,000-media plan holds 100,000 no-op `ResourceChange`s. Validating each one costs several
microseconds, mostly copying its `before` and `after` dicts, which the diff built a moment earlier from
validated manifests and state. `Prevalidated(Model)(fields)` gives an instance equal to `Model(**fields)`,
with the same dumps, for a fraction of the cost: what pydantic's `model_construct` does for trusted data,
minus its per-field alias and default lookups. Only for values valid by construction; anything from
outside (a file, a response, a user) goes through validation.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_set_attribute = object.__setattr__  # frozen models refuse their own __setattr__


class Prevalidated(Generic[M]):
    """A builder of `model` instances from already-valid values of every field (see the module docstring)."""

    def __init__(self, model: type[M]) -> None:
        config = model.model_config
        if not config.get("frozen") or config.get("extra") == "allow" or model.__private_attributes__:
            raise TypeError(f"{model.__name__} is not frozen, or has private or extra attributes: validate it")
        self.model = model
        self.field_names = tuple(model.model_fields)
        # One set for every instance (a set per instance would be a third of its memory): a frozen model never
        # adds to it, and model_copy copies it before it does.
        self._fields_set = set(self.field_names)

    def __call__(self, fields: dict[str, Any]) -> M:
        """The instance holding the values of `fields` (not copied): every field, in declaration order, which
        is the order validation fills `__dict__` in, so dumps list them alike. All count as explicitly set.

        The values are set one by one rather than handing over `fields` as the instance's `__dict__`: then
        every instance of the model shares one table of the field names (CPython's key-sharing instance
        dicts), and holds only its values: a 14-field change takes about 200 bytes instead of 650."""
        if tuple(fields) != self.field_names:
            raise TypeError(f"{self.model.__name__} needs every field in this order: {', '.join(self.field_names)}")
        instance = self.model.__new__(self.model)
        for name, value in fields.items():
            _set_attribute(instance, name, value)
        _set_attribute(instance, "__pydantic_fields_set__", self._fields_set)
        _set_attribute(instance, "__pydantic_extra__", None)
        _set_attribute(instance, "__pydantic_private__", None)
        return instance
