"""Fault injection, LocalStack-chaos style: per action, a probability of an injected error, added latency,
or "drop after commit" (the change is applied, then the connection closes with no response).

    {"rules": [{"action": "RegisterMedia", "probability": 0.1, "error": {"status": 503, "code": "ServiceUnavailable"}},
               {"action": "*", "probability": 0.02, "drop_after_commit": true},
               {"action": "*", "latency_ms": 50}]}

A request meets the first rule that fires: rules are tried in order, each matching rule fires with its
probability, and the first that fires is the only one applied. Faults apply to requests that passed
authentication and throttling. An injected error replaces processing (nothing changes); latency delays
processing; a drop processes the request and then closes the connection.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from reconcile.cloud.errors import CATALOGUE
from reconcile.cloud.limits import MTS_ACTIONS, VOD_ACTIONS
from reconcile.cloud.oss_wire import OSS_ACTIONS

KNOWN_ACTIONS = MTS_ACTIONS | VOD_ACTIONS | OSS_ACTIONS
LATENCY_MAX_MS = 600_000
_RULE_KEYS = frozenset({"action", "probability", "error", "drop_after_commit", "latency_ms"})
_ERROR_KEYS = frozenset({"status", "code", "message"})


class FaultSpecError(ValueError):
    """A fault specification that cannot be used; the message names the offending rule and field."""


@dataclass(frozen=True, slots=True)
class InjectedError:
    status: int
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class FaultRule:
    action: str = "*"
    probability: float = 1.0
    error: InjectedError | None = None
    drop_after_commit: bool = False
    latency_ms: float = 0.0

    def applies_to(self, action: str) -> bool:
        return self.action in ("*", action)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"action": self.action, "probability": self.probability}
        if self.error is not None:
            data["error"] = self.error.to_dict()
        if self.drop_after_commit:
            data["drop_after_commit"] = True
        if self.latency_ms:
            data["latency_ms"] = self.latency_ms
        return data


@dataclass(frozen=True, slots=True)
class FaultRules:
    rules: tuple[FaultRule, ...] = field(default_factory=tuple)

    @classmethod
    def from_json(cls, text: str) -> FaultRules:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FaultSpecError(f"faults: not valid JSON: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> FaultRules:
        if not isinstance(data, dict) or set(data) - {"rules"}:
            raise FaultSpecError('faults: expected an object {"rules": [...]}')
        rules = data.get("rules", [])
        if not isinstance(rules, list):
            raise FaultSpecError("faults: rules must be a list")
        return cls(tuple(_parse_rule(raw, f"rules[{i}]") for i, raw in enumerate(rules)))

    def to_dict(self) -> dict[str, Any]:
        return {"rules": [rule.to_dict() for rule in self.rules]}


class FaultInjector:
    """Holds the current rules (replaceable at run time) and decides which rule, if any, a request meets."""

    def __init__(self, rules: FaultRules | None = None, *, seed: int | None = None) -> None:
        self.rules = rules or FaultRules()
        self._random = random.Random(seed)

    def pick(self, action: str) -> FaultRule | None:
        for rule in self.rules.rules:
            if rule.applies_to(action) and (rule.probability >= 1.0 or self._random.random() < rule.probability):
                return rule
        return None


def _parse_rule(raw: Any, where: str) -> FaultRule:
    if not isinstance(raw, dict):
        raise FaultSpecError(f"faults: {where} must be an object")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        known = ", ".join(sorted(_RULE_KEYS))
        raise FaultSpecError(f"faults: {where} has unknown field {unknown[0]!r} (known: {known})")
    action = raw.get("action", "*")
    if action != "*" and action not in KNOWN_ACTIONS:
        raise FaultSpecError(f"faults: {where}.action {action!r} is not an emulated action; use one of them or '*'")
    probability = raw.get("probability", 1.0)
    if isinstance(probability, bool) or not isinstance(probability, int | float) or not 0 <= probability <= 1:
        raise FaultSpecError(f"faults: {where}.probability must be a number from 0 to 1, not {probability!r}")
    latency = raw.get("latency_ms", 0)
    if isinstance(latency, bool) or not isinstance(latency, int | float) or not 0 <= latency <= LATENCY_MAX_MS:
        raise FaultSpecError(f"faults: {where}.latency_ms must be a number from 0 to {LATENCY_MAX_MS}, not {latency!r}")
    drop = raw.get("drop_after_commit", False)
    if not isinstance(drop, bool):
        raise FaultSpecError(f"faults: {where}.drop_after_commit must be true or false")
    error = _parse_error(raw["error"], f"{where}.error") if "error" in raw else None
    if error is not None and drop:
        raise FaultSpecError(f"faults: {where} cannot both inject an error and drop after commit")
    if error is None and not drop and not latency:
        raise FaultSpecError(f"faults: {where} does nothing: give error, drop_after_commit or latency_ms")
    return FaultRule(str(action), float(probability), error, drop, float(latency))


def _parse_error(raw: Any, where: str) -> InjectedError:
    if not isinstance(raw, dict) or set(raw) - _ERROR_KEYS:
        raise FaultSpecError(f'faults: {where} must be an object {{"status": ..., "code": ..., "message": ...}}')
    code = raw.get("code")
    if not isinstance(code, str) or not code:
        raise FaultSpecError(f"faults: {where}.code must be a non-empty string")
    spec = CATALOGUE.get(code)
    status = raw.get("status", spec.status if spec else None)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise FaultSpecError(f"faults: {where}.status must be an HTTP error status (400-599), not {status!r}")
    message = raw.get("message")
    if message is None:
        message = _catalogue_message(code) if spec else f"Injected fault {code}."
    if not isinstance(message, str):
        raise FaultSpecError(f"faults: {where}.message must be a string")
    return InjectedError(status=status, code=code, message=message)


def _catalogue_message(code: str) -> str:
    """The catalogue's message, with any placeholder left as its name (an injected fault has no subject)."""

    class _Names(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return key

    return CATALOGUE[code].message.format_map(_Names())
