"""How the cloud client behaves: endpoints, signature version, pacing, concurrency, timeouts, retries.

Built from the environment (`ClientSettings.from_env`), with CLI options laid over it by
`reconcile.cli.cloud_options`. Every value is checked here, so a bad value fails before any call with a
message naming the variable or option it came from.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from reconcile.cloud.endpoints import EndpointError, normalize_endpoint
from reconcile.cloud.limits import MTS_ACTIONS, QPS_LIMITS, VOD_ACTIONS, qps_limit

SignatureVersion = Literal["v3", "v1"]
SIGNATURE_VERSIONS: tuple[SignatureVersion, ...] = ("v3", "v1")
KNOWN_ACTIONS = frozenset(QPS_LIMITS) | MTS_ACTIONS | VOD_ACTIONS

# Pace at this fraction of each limit. The service counts arrivals in a sliding 1-second window and
# network jitter bunches arrivals together; at 97% even pacing absorbs up to ~30 ms of jitter spread
# (a window of 1.03 s then still holds at most the limit), and a long run takes 1/0.97 = 1.03x the floor.
DEFAULT_QPS_SAFETY_FACTOR = 0.97

ENV_ENDPOINT = "RECONCILE_ENDPOINT"
ENV_MTS_ENDPOINT = "RECONCILE_MTS_ENDPOINT"
ENV_VOD_ENDPOINT = "RECONCILE_VOD_ENDPOINT"
ENV_SIGNATURE_VERSION = "RECONCILE_SIGNATURE_VERSION"
ENV_QPS = "RECONCILE_QPS"
ENV_QPS_SHARE = "RECONCILE_QPS_SHARE"
ALL_ACTIONS = "*"  # the key of a share that applies to every action without its own
ENV_MAX_CONCURRENCY = "RECONCILE_MAX_CONCURRENCY"


class InvalidSettingsError(ValueError):
    """A client setting that cannot be used; the message names where it came from and what is expected."""


def parse_qps(text: str, origin: str) -> dict[str, float]:
    """`"RegisterMedia=20,UpdateVideoInfos=10"` → `{"RegisterMedia": 20.0, "UpdateVideoInfos": 10.0}`."""
    return _parse_items(text, origin, parse_qps_item)


def parse_qps_item(item: str, origin: str) -> tuple[str, float]:
    action, sep, value = (s.strip() for s in item.partition("="))
    if not sep or not action:
        raise InvalidSettingsError(f"{origin}: {item!r} is not ACTION=N (e.g. RegisterMedia=20)")
    return check_qps(action, _number(value), origin, shown=value)


def check_qps(action: str, rate: float, origin: str, shown: str | None = None) -> tuple[str, float]:
    _check_action(action, origin)
    if not (rate > 0 and math.isfinite(rate)):
        raise InvalidSettingsError(
            f"{origin}: {action}={shown if shown is not None else rate} is not a positive number of calls per second"
        )
    return action, float(rate)


def parse_qps_share(text: str, origin: str) -> dict[str, float]:
    """`"0.5"` → `{"*": 0.5}`; `"0.5,RegisterMedia=0.2"` → `{"*": 0.5, "RegisterMedia": 0.2}`."""
    return _parse_items(text, origin, parse_qps_share_item)


def parse_qps_share_item(item: str, origin: str) -> tuple[str, float]:
    """`0.5` (every action) or `ACTION=0.5`: the share of the account's limit this process may take."""
    action, sep, value = (s.strip() for s in item.rpartition("="))
    if not sep:
        action = ALL_ACTIONS
    elif not action:
        raise InvalidSettingsError(
            f"{origin}: {item!r} is not a share (e.g. 0.5) or ACTION=SHARE (e.g. RegisterMedia=0.5)"
        )
    return check_qps_share(action, _number(value), origin, shown=value)


def check_qps_share(action: str, share: float, origin: str, shown: str | None = None) -> tuple[str, float]:
    if action != ALL_ACTIONS:
        _check_action(action, origin)
    if not 0 < share <= 1:
        what = f"{action}={shown if shown is not None else share}" if action != ALL_ACTIONS else (shown or str(share))
        raise InvalidSettingsError(
            f"{origin}: {what} is not a share of the limit: give a number above 0 and at most 1 (0.5 takes half)"
        )
    return action, float(share)


def _parse_items(text: str, origin: str, parse_item: Callable[[str, str], tuple[str, float]]) -> dict[str, float]:
    """A comma-separated list of items, each parsed by `parse_item`; a later item for one action wins."""
    result: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        if item:
            action, value = parse_item(item, origin)
            result[action] = value
    return result


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _check_action(action: str, origin: str) -> None:
    if action not in KNOWN_ACTIONS:
        raise InvalidSettingsError(
            f"{origin}: unknown action {action!r}; expected one of {', '.join(sorted(KNOWN_ACTIONS))}"
        )


def _positive_int(text: str, origin: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidSettingsError(f"{origin}: {text!r} is not a positive whole number")
    return value


@dataclass(frozen=True)
class ClientSettings:
    """Settings of one `CloudSession`. Unset endpoints mean the public HTTPS endpoint of each region."""

    endpoint: str | None = None  # both products (RECONCILE_ENDPOINT)
    mts_endpoint: str | None = None  # MPS only, wins over `endpoint`
    vod_endpoint: str | None = None  # VOD only, wins over `endpoint`
    signature_version: SignatureVersion = "v3"
    qps: Mapping[str, float] = field(default_factory=dict)  # per-action limit overrides (calls per second)
    # The share of each limit this process may take, per action ("*": every action without its own); 1 = all.
    qps_share: Mapping[str, float] = field(default_factory=dict)
    max_concurrency: int = 32  # requests in flight per session, all actions and regions together
    timeout: float = 30.0  # seconds, per attempt
    max_attempts: int = 8  # per call, the first attempt included
    max_retry_seconds: float = 120.0  # per call: no attempt starts later than this after the first
    qps_safety_factor: float = DEFAULT_QPS_SAFETY_FACTOR  # pace at this fraction of each limit

    def __post_init__(self) -> None:
        for name in ("endpoint", "mts_endpoint", "vod_endpoint"):
            value = getattr(self, name)
            if value is not None:
                try:
                    object.__setattr__(self, name, normalize_endpoint(value, name))
                except EndpointError as exc:
                    raise InvalidSettingsError(str(exc)) from None
        if self.signature_version not in SIGNATURE_VERSIONS:
            raise InvalidSettingsError(f"signature_version: {self.signature_version!r} is not one of v3, v1")
        qps = dict(check_qps(action, rate, "qps") for action, rate in self.qps.items())
        object.__setattr__(self, "qps", MappingProxyType(qps))
        share = dict(check_qps_share(action, value, "qps_share") for action, value in self.qps_share.items())
        object.__setattr__(self, "qps_share", MappingProxyType(share))
        if self.max_concurrency < 1 or self.max_attempts < 1:
            raise InvalidSettingsError("max_concurrency and max_attempts must be at least 1")
        if not (self.timeout > 0 and self.max_retry_seconds >= 0):
            raise InvalidSettingsError("timeout must be positive and max_retry_seconds not negative")
        if not 0 < self.qps_safety_factor <= 1:
            raise InvalidSettingsError("qps_safety_factor must be in (0, 1]")

    def qps_limit(self, action: str) -> float:
        """The service's limit for `action` as configured: an override, or the documented default."""
        return self.qps.get(action, qps_limit(action))

    def qps_share_of(self, action: str) -> float:
        """The share of `action`'s limit this process may take: its own, else the one for every action, else 1."""
        return self.qps_share.get(action, self.qps_share.get(ALL_ACTIONS, 1.0))

    def pacing_rate(self, action: str) -> float:
        """The most the client paces `action` at: the limit times this process's share times the safety factor.
        Throttling answers lower it for a while (`reconcile.cloud.pacing`)."""
        return self.qps_limit(action) * self.qps_share_of(action) * self.qps_safety_factor

    def endpoint_override(self, product: str) -> str | None:
        """The base URL every region of `product` goes to, when overridden."""
        specific = self.mts_endpoint if product == "mts" else self.vod_endpoint
        return specific or self.endpoint

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ClientSettings:
        """Settings from RECONCILE_* variables, with `overrides` (fields of this class) laid over them.

        An override of None is ignored; a `qps` or `qps_share` override is merged over RECONCILE_QPS or
        RECONCILE_QPS_SHARE action by action.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        try:
            for name, variable in (
                ("endpoint", ENV_ENDPOINT),
                ("mts_endpoint", ENV_MTS_ENDPOINT),
                ("vod_endpoint", ENV_VOD_ENDPOINT),
            ):
                if env.get(variable, "").strip():
                    values[name] = normalize_endpoint(env[variable], variable)
        except EndpointError as exc:
            raise InvalidSettingsError(str(exc)) from None
        version = env.get(ENV_SIGNATURE_VERSION, "").strip().lower()
        if version:
            if version not in SIGNATURE_VERSIONS:
                raise InvalidSettingsError(f"{ENV_SIGNATURE_VERSION}: {version!r} is not one of v3, v1")
            values["signature_version"] = version
        values["qps"] = parse_qps(env.get(ENV_QPS, ""), ENV_QPS)
        values["qps_share"] = parse_qps_share(env.get(ENV_QPS_SHARE, ""), ENV_QPS_SHARE)
        if env.get(ENV_MAX_CONCURRENCY, "").strip():
            values["max_concurrency"] = _positive_int(env[ENV_MAX_CONCURRENCY].strip(), ENV_MAX_CONCURRENCY)
        for name, value in overrides.items():
            if name not in cls.__dataclass_fields__:
                raise TypeError(f"ClientSettings has no setting {name!r}")
            if value is None:
                continue
            values[name] = {**values[name], **value} if name in ("qps", "qps_share") else value
        return cls(**values)
