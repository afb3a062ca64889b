"""The ASGI adapter: one app serves the signed RPC API on `/` and the control API on `/_emulator/`.

Request bodies are capped (`EmulatorConfig.max_body_bytes`): one declared larger by `Content-Length` is
answered 413 without reading any of it, and a chunked one as soon as it passes the cap, so a huge upload
costs no more memory than the cap.

Dropping a connection after commit is not expressible in ASGI, so servers that can do it advertise the
`reconcile.abort_connection` scope extension (`{"abort": callable}`): the emulator's uvicorn protocol and
the in-process `emulator_transport` both do. Under a server without it a drop raises instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from reconcile.emulator.backend import EmulatorBackend
from reconcile.emulator.config import EmulatorConfig
from reconcile.emulator.control_api import CONTROL_PREFIX, ControlApi
from reconcile.emulator.gateway import Gateway
from reconcile.emulator.oss_api import OssApi, is_oss_request
from reconcile.emulator.oss_auth import OssAuthenticator
from reconcile.emulator.persistence import load_state, save_state
from reconcile.emulator.wire import WireRequest, WireResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ABORT_EXTENSION = "reconcile.abort_connection"
DROPPED_MESSAGE = "Server disconnected without sending a response."

log = logging.getLogger("reconcile.emulator")  # API requests are logged by the gateway


class DropUnsupportedError(RuntimeError):
    """A fault rule asked to drop a connection under a server that cannot abort one."""


class EmulatorApp:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.backend = EmulatorBackend(
            config.clock,
            auto_objects=config.auto_objects,
            seed=config.seed,
            transcode_seconds=config.transcode_seconds,
            search_lag=config.search_lag_seconds,
        )
        if config.state_file is not None:
            state = load_state(config.state_file)
            if state is not None:
                self.backend.restore(state)
        self.gateway = Gateway(
            self.backend,
            config.clock,
            access_keys=config.access_keys,
            qps_scale=config.qps_scale,
            faults=config.faults,
            seed=config.seed,
            timestamp_window_seconds=config.timestamp_window_seconds,
            retry_after_header=config.retry_after_header,
        )
        self.control = ControlApi(self.backend, self.gateway)
        oss_auth = OssAuthenticator(config.access_keys, config.clock, config.timestamp_window_seconds)
        self.oss = OssApi(
            self.backend.objects, self.backend.ids, config.clock, self.gateway.stats, oss_auth, self.gateway.faults
        )
        self._saved_revision = self.backend.revision

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive, scope["headers"], self.config.max_body_bytes)
        if body is None:
            log.warning(
                "%s %s: request body over %d bytes refused (413)",
                scope["method"],
                scope.get("path"),
                self.config.max_body_bytes,
            )
            await _respond(send, _body_too_large(self.config.max_body_bytes))
            return
        client = scope.get("client")
        request = WireRequest.build(
            scope["method"],
            scope.get("path") or "/",
            scope.get("query_string", b""),
            scope["headers"],
            body,
            client[0] if client else None,
        )
        if request.path.startswith(CONTROL_PREFIX):
            started = time.perf_counter()
            response = self.control.handle(request)
            if log.isEnabledFor(logging.DEBUG):
                ms = (time.perf_counter() - started) * 1000
                log.debug("%s %s (control API): %d in %.1f ms", request.method, request.path, response.status, ms)
        elif is_oss_request(request):
            response = await self.oss.handle(request, scope.get("query_string", b"").decode("latin-1"))
        else:
            response = await self.gateway.handle(request)
        if response.drop:
            await _abort(scope)
            return
        await _respond(send, response)

    def save_state(self, *, force: bool = False) -> bool:
        """Write the state file if there is one and the state changed since the last write."""
        path = self.config.state_file
        revision = self.backend.revision
        if path is None or (revision == self._saved_revision and not force):
            return False
        save_state(path, self.backend.to_state())
        self._saved_revision = revision
        return True


def _content_length(response: WireResponse) -> list[tuple[bytes, bytes]]:
    """The body's length, unless the response gives its own (a HEAD answers with the object's size)."""
    if any(name == "content-length" for name, _ in response.headers):
        return []
    return [(b"content-length", str(len(response.body)).encode())]


def create_app(config: EmulatorConfig) -> EmulatorApp:
    """The emulator as an ASGI callable; `.backend` and `.gateway` are its state and rules."""
    return EmulatorApp(config)


class _Dropped(Exception):
    """The app aborted the connection: raised out of the in-process ASGI call."""


class EmulatorTransport(httpx.AsyncBaseTransport):
    """In-process httpx transport to an emulator app that honours drops like a real socket: a dropped
    request raises `httpx.RemoteProtocolError`, exactly what httpx raises when a server hangs up."""

    def __init__(self, app: EmulatorApp, client_host: str = "127.0.0.1") -> None:
        self._app = app
        self._inner = httpx.ASGITransport(app=self._with_abort, client=(client_host, 50000))

    async def _with_abort(self, scope: Scope, receive: Receive, send: Send) -> None:
        dropped = False

        def abort() -> None:
            nonlocal dropped
            dropped = True

        scope["extensions"] = {**scope.get("extensions", {}), ABORT_EXTENSION: {"abort": abort}}
        await self._app(scope, receive, send)
        if dropped:
            raise _Dropped

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except _Dropped:
            raise httpx.RemoteProtocolError(DROPPED_MESSAGE, request=request) from None


def emulator_transport(app: EmulatorApp) -> httpx.AsyncBaseTransport:
    return EmulatorTransport(app)


async def _abort(scope: Scope) -> None:
    extension = scope.get("extensions", {}).get(ABORT_EXTENSION)
    if extension is None:
        raise DropUnsupportedError(
            "a fault rule dropped this request after commit, but the server gives no way to abort the connection"
        )
    extension["abort"]()
    # Let the server see the connection is gone before this call returns, so it does not answer with a 500.
    await asyncio.sleep(0)


async def _respond(send: Send, response: WireResponse) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [
                *((k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers),
                *_content_length(response),
            ],
        }
    )
    await send({"type": "http.response.body", "body": response.body})


async def _read_body(receive: Receive, headers: list[tuple[bytes, bytes]], limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to be longer than `limit` bytes: from `Content-Length`
    before reading anything, else while counting the chunks. What is left unread the server discards."""
    for name, value in headers:
        if name.lower() == b"content-length" and value.strip().isdigit() and int(value) > limit:
            return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _body_too_large(limit: int) -> WireResponse:
    return WireResponse.json(
        413,
        {
            "error": f"the request body is larger than this emulator accepts ({limit} bytes); "
            "start it with a larger --max-body-mib to send more"
        },
    )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


__all__ = ["ABORT_EXTENSION", "EmulatorApp", "EmulatorTransport", "WireResponse", "create_app", "emulator_transport"]
