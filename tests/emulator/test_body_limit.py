"""Request bodies are capped: a larger one is answered 413 before the emulator reads past the cap."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from reconcile.emulator.app import create_app
from reconcile.emulator.config import EmulatorConfig
from reconcile.emulator.process import start_emulator

LIMIT = 4096
TOO_LARGE = {
    "error": f"the request body is larger than this emulator accepts ({LIMIT} bytes); "
    "start it with a larger --max-body-mib to send more"
}
OBJECTS = json.dumps({"urls": ["https://media.oss-cn-shanghai.aliyuncs.com/a.mp4"]}).encode()


class Body:
    """An ASGI `receive` handing out `chunks`, counting how many were read."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.read = 0

    async def __call__(self) -> dict[str, Any]:
        chunk = self.chunks[self.read]
        self.read += 1
        return {"type": "http.request", "body": chunk, "more_body": self.read < len(self.chunks)}


async def call(headers: list[tuple[bytes, bytes]], body: Body, path: str = "/") -> tuple[int, Any]:
    app = create_app(EmulatorConfig(max_body_bytes=LIMIT))
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "PUT", "path": path, "query_string": b"", "headers": headers}
    scope["client"] = ("127.0.0.1", 50000)
    await app(scope, body, send)
    return sent[0]["status"], json.loads(sent[1]["body"])


async def test_a_declared_length_over_the_cap_is_refused_unread() -> None:
    body = Body([b"x" * LIMIT, b"x"])
    headers = [(b"host", b"127.0.0.1:8765"), (b"content-length", str(200 * 1024 * 1024).encode())]
    assert await call(headers, body) == (413, TOO_LARGE)
    assert body.read == 0


async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_cap() -> None:
    body = Body([b"x" * 1000] * 100)  # 100 kB, no Content-Length
    assert await call([(b"host", b"127.0.0.1:8765")], body) == (413, TOO_LARGE)
    assert body.read == 5  # 5000 bytes: the first chunk past 4096


async def test_a_body_at_the_cap_is_read() -> None:
    padded = OBJECTS + b" " * (LIMIT - len(OBJECTS))
    headers = [(b"host", b"127.0.0.1:8765"), (b"content-type", b"application/json")]
    headers.append((b"content-length", str(LIMIT).encode()))
    status, answer = await call(headers, Body([padded[:1000], padded[1000:]]), path="/_emulator/objects")
    assert (status, answer) == (200, {"added": 1, "objects": 1})


def exchange(port: int, request: bytes) -> bytes:
    """Send `request` on a fresh connection and return the response head, without sending any more."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = conn.recv(4096)
            if not chunk:
                break
            response += chunk
    return response


@pytest.mark.e2e
def test_the_server_answers_413_without_waiting_for_the_body() -> None:
    with start_emulator(extra_args=["--max-body-mib", "1"]) as emulator:
        port = int(emulator.url.rsplit(":", 1)[1])
        started = time.monotonic()
        declared = exchange(
            port,
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 209715200\r\n\r\n" + b"x" * 65536,
        )
        chunked = exchange(
            port,
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (b"10000\r\n" + b"x" * 0x10000 + b"\r\n") * 17,  # 17 chunks of 64 KiB: past 1 MiB, not ended
        )
        assert time.monotonic() - started < 5  # the 200 MB never had to arrive
        assert declared.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n"), declared
        assert chunked.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n"), chunked
        assert emulator.control.stats()["totals"]["calls"] == 0  # and it still serves
