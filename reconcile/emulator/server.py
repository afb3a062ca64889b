"""The emulator on a real socket: uvicorn serving the ASGI app, with the connection abort that
drop-after-commit needs, a ready callback once listening, periodic and final state-file writes, and a
clean stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from reconcile.emulator.app import ABORT_EXTENSION, EmulatorApp, Receive, Scope, Send

STATE_FLUSH_SECONDS = 1.0
# On a stop signal, requests in flight get this long to finish; then they are cancelled and the server stops
# (uvicorn's default is to wait for ever: one stalled client, or an injected latency, would hold it up).
GRACEFUL_SHUTDOWN_SECONDS = 1  # whole seconds: uvicorn takes an int
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def abortable_protocol(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """A uvicorn HTTP protocol class that offers the app `scope["extensions"]["reconcile.abort_connection"]`:
    calling its `abort` resets the TCP connection at once, so the client gets no response bytes.

    A request still running when the graceful-shutdown period ends is cancelled by uvicorn; its connection is
    then reset like a stopped server's, rather than the cancellation being logged as a crash with a traceback."""

    class AbortableProtocol(base):  # type: ignore[valid-type,misc]
        app: Any  # the ASGI app uvicorn's protocols run for each request

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            extension = {"abort": transport.abort}
            inner = self.app

            async def app(scope: Scope, receive: Receive, send: Send) -> None:
                scope["extensions"] = {**(scope.get("extensions") or {}), ABORT_EXTENSION: extension}
                try:
                    await inner(scope, receive, send)
                except asyncio.CancelledError:
                    transport.abort()
                    await asyncio.sleep(0)  # let the protocol see the connection is gone: no 500 is attempted

            self.app = app

    AbortableProtocol.__name__ = f"Abortable{base.__name__}"
    return AbortableProtocol


class _Server(uvicorn.Server):
    """uvicorn's server, except that a stop signal ends `serve` normally instead of being re-raised
    afterwards: stopping on Ctrl-C or SIGTERM is this server's ordinary way to end."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed (uvicorn's own `loop="auto"` choice), else asyncio's default."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def listen_socket(host: str, port: int) -> socket.socket:
    """Bind and listen before the server starts, so port 0 resolves to a real port we can announce."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio turns on TCP_NODELAY only for sockets that say so, and without it
    # every response (head and body are two writes) waits out the client's 40 ms delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    address: tuple[Any, ...] = sock.getsockname()
    host, port = address[0], address[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(app: EmulatorApp, sock: socket.socket, on_ready: Callable[[str], None]) -> None:
    """Serve until a stop signal (or `should_exit`), then write the state file one last time."""
    config = uvicorn.Config(
        app,
        http=abortable_protocol(AutoHTTPProtocol),
        lifespan="off",
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            await serving
            raise RuntimeError("the emulator server stopped while starting")
        await asyncio.sleep(0.005)
    on_ready(url_of(sock))
    flusher = asyncio.create_task(_flush_periodically(app))
    try:
        await serving
    finally:
        flusher.cancel()
        app.save_state()


async def _flush_periodically(app: EmulatorApp) -> None:
    while True:
        await asyncio.sleep(STATE_FLUSH_SECONDS)
        app.save_state()
