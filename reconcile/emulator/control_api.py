"""The control API under `/_emulator/` (JSON, unsigned, answered to loopback clients only).

GET  /_emulator/state     bound buckets and registered media
GET  /_emulator/stats     per-action counters and totals
POST /_emulator/reset     empty state, stats and throttle windows; {"keep_objects": true} keeps objects
PUT  /_emulator/objects   {"urls": [...]} adds OSS objects;  GET lists them
POST /_emulator/faults    replaces the fault rules;  GET shows them
PATCH /_emulator/media/{media_id}  {"status": "TranscodeFail"} sets a media's Status (the service's doing)

It has no authentication, so it trusts only what a web page cannot forge (403 otherwise): the client is a
loopback address, the `Host` names a loopback address or `localhost` (a DNS-rebound name such as
`attacker.example` is refused, whatever it resolves to), and an `Origin`, when sent, is the emulator's own.
Writes need `Content-Type: application/json` (415 otherwise), which no page can send without a CORS preflight,
and preflights are never granted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from reconcile.cloud.endpoints import is_loopback
from reconcile.emulator.backend import EmulatorBackend
from reconcile.emulator.faults import FaultRules, FaultSpecError
from reconcile.emulator.gateway import Gateway
from reconcile.emulator.throttle import SlidingWindowThrottle
from reconcile.emulator.wire import WireRequest, WireResponse

CONTROL_PREFIX = "/_emulator/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON_MEDIA_TYPE = "application/json"
MEDIA_PREFIX = "media/"
LOOPBACK_HOSTS = "127.0.0.1, [::1] or localhost"


class ControlRequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ControlApi:
    def __init__(self, backend: EmulatorBackend, gateway: Gateway) -> None:
        self.backend = backend
        self.gateway = gateway
        self._routes: dict[tuple[str, str], Callable[[WireRequest], Any]] = {
            ("GET", "state"): lambda _r: self.backend.describe(),
            ("GET", "stats"): lambda _r: self.gateway.stats.to_dict(),
            ("POST", "reset"): self._reset,
            ("GET", "objects"): lambda _r: {"urls": self.backend.objects.urls()},
            ("PUT", "objects"): self._put_objects,
            ("GET", "faults"): lambda _r: self.gateway.faults.rules.to_dict(),
            ("POST", "faults"): self._set_faults,
        }

    def handle(self, request: WireRequest) -> WireResponse:
        try:
            check_caller(request)
            name = request.path[len(CONTROL_PREFIX) :].strip("/")
            route = self._routes.get((request.method, name))
            if name.startswith(MEDIA_PREFIX):
                if request.method != "PATCH":
                    raise ControlRequestError(405, f"{request.method} /_emulator/{name}: use PATCH")
                route = self._patch_media
            if route is None:
                allowed = sorted(method for method, path in self._routes if path == name)
                if allowed:
                    raise ControlRequestError(405, f"{request.method} /_emulator/{name}: use {' or '.join(allowed)}")
                raise ControlRequestError(404, f"no control endpoint /_emulator/{name}")
            if request.method in WRITE_METHODS:
                check_json_content_type(request, name)
            return WireResponse.json(200, route(request))
        except ControlRequestError as error:
            return WireResponse.json(error.status, {"error": error.message})

    def _reset(self, request: WireRequest) -> dict[str, Any]:
        body = _json_body(request, default={})
        keep_objects = body.get("keep_objects", False) if isinstance(body, dict) else None
        if not isinstance(keep_objects, bool):
            raise ControlRequestError(400, 'reset takes an optional body {"keep_objects": true|false}')
        self.backend.reset(keep_objects=keep_objects)
        self.gateway.stats.reset()
        self.gateway.throttle = SlidingWindowThrottle(self.gateway.clock, self.gateway.throttle.scale)
        return self.backend.describe()

    def _put_objects(self, request: WireRequest) -> dict[str, Any]:
        body = _json_body(request, default=None)
        urls = body.get("urls") if isinstance(body, dict) else None
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            example = '{"urls": ["https://<bucket>.oss-<region>.aliyuncs.com/<key>", ...]}'
            raise ControlRequestError(400, f"objects takes a body {example}")
        rejected = self.backend.objects.put(urls)
        if rejected:
            raise ControlRequestError(400, f"not OSS object URLs (nothing was added): {', '.join(rejected)}")
        return {"added": len(urls), "objects": len(self.backend.objects.urls())}

    def _patch_media(self, request: WireRequest) -> dict[str, Any]:
        media_id = request.path[len(CONTROL_PREFIX) :].strip("/")[len(MEDIA_PREFIX) :]
        body = _json_body(request, default=None)
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, str) or set(body) != {"status"}:
            raise ControlRequestError(400, 'media/{media_id} takes a body {"status": "TranscodeFail"}')
        try:
            record = self.backend.vod.set_status(media_id, status)
        except KeyError:
            raise ControlRequestError(404, f"no media {media_id!r} in this emulator") from None
        except ValueError as error:
            raise ControlRequestError(400, str(error)) from None
        return {"media_id": record.media_id, "status": record.status}

    def _set_faults(self, request: WireRequest) -> dict[str, Any]:
        try:
            rules = FaultRules.from_dict(_json_body(request, default=None))
        except FaultSpecError as error:
            raise ControlRequestError(400, str(error)) from None
        self.gateway.faults.rules = rules
        return rules.to_dict()


def _json_body(request: WireRequest, *, default: Any) -> Any:
    if not request.body.strip():
        return default
    try:
        return json.loads(request.body)
    except ValueError:
        raise ControlRequestError(400, "the request body is not valid JSON") from None


def check_caller(request: WireRequest) -> None:
    """403 unless the request comes from this machine and not from a web page (see the module docstring).
    A client with no address came over a Unix socket: local too. A request without `Host` (HTTP/1.0) or
    `Origin` (anything but a browser) is not refused for it."""
    if request.client_host is not None and not is_loopback(request.client_host):
        raise ControlRequestError(403, "the control API answers loopback clients only")
    host = request.header("host")
    if host is not None and not is_loopback(_host_name(host)):
        raise ControlRequestError(
            403,
            f"the control API answers only requests addressed to {LOOPBACK_HOSTS}, not Host {_quoted(host)} "
            "(a web page whose name resolves to this machine must not reach it); use e.g. http://127.0.0.1:PORT",
        )
    origin = request.header("origin")
    if origin is not None and (host is None or origin.lower() != f"http://{host}".lower()):
        raise ControlRequestError(
            403, f"the control API refuses requests from web pages: Origin {_quoted(origin)} is not this emulator"
        )


def check_json_content_type(request: WireRequest, name: str) -> None:
    content_type = request.header("content-type")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        sent = _quoted(content_type) if content_type is not None else "none"
        raise ControlRequestError(
            415, f"{request.method} /_emulator/{name} takes Content-Type: {JSON_MEDIA_TYPE} (this request sent {sent})"
        )


def _host_name(host: str) -> str:
    """The name or address in a `Host` value: `[::1]:8765` -> `::1`, `localhost:8765` -> `localhost`."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _quoted(value: str, limit: int = 100) -> str:
    """A header value as sent, shortened: it is the caller's text, not ours."""
    return json.dumps(value if len(value) <= limit else value[:limit] + "…", ensure_ascii=False)
