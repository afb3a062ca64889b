"""An emulator in a child process, for end-to-end tests, the demo and the benchmarks.

`start_emulator` runs `python -m reconcile emulator --port 0 ...`, waits for the ready line it prints with
its URL, and returns a handle whose `stop` (also on context exit, and at interpreter exit as a last resort)
sends SIGTERM, then SIGKILL if it lingers: the child never outlives its user.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from reconcile.emulator.control import EmulatorControl

READY_PREFIX = "reconcile emulator listening on "
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 5.0


class EmulatorStartError(RuntimeError):
    """The emulator process did not become ready; the message carries the end of its stderr."""


class RunningEmulator:
    def __init__(self, process: subprocess.Popen[bytes], url: str, stderr: IO[bytes]) -> None:
        self.process = process
        self.url = url
        self.control = EmulatorControl(url)
        self._stderr = stderr
        self._finalizer = weakref.finalize(self, _terminate, process, stderr)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM (the emulator writes its state file and exits), then SIGKILL after a grace period."""
        self.control.close()
        self._finalizer()

    def stderr_text(self) -> str:
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_emulator(
    *,
    port: int = 0,
    auto_objects: bool = False,
    qps_scale: float = 1.0,
    faults: dict[str, Any] | None = None,
    state_file: Path | None = None,
    extra_args: Sequence[str] = (),
) -> RunningEmulator:
    args = [sys.executable, "-m", "reconcile", "emulator", "--port", str(port), "--qps-scale", repr(qps_scale)]
    if auto_objects:
        args.append("--auto-objects")
    if faults is not None:
        args += ["--faults", json.dumps(faults)]
    if state_file is not None:
        args += ["--state-file", str(state_file)]
    args += list(extra_args)
    # A file, not a pipe: an unread pipe could fill and stall the child. RunningEmulator owns and closes it.
    stderr = tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)
    try:
        url = _await_ready_line(process, STARTUP_TIMEOUT_SECONDS)
    except BaseException as exc:
        _terminate(process, None)
        stderr.seek(0)
        tail = stderr.read().decode("utf-8", "replace").strip()[-2000:]
        stderr.close()
        if isinstance(exc, EmulatorStartError):
            raise EmulatorStartError(f"{exc}\n{tail}" if tail else str(exc)) from None
        raise
    return RunningEmulator(process, url, stderr)


def _await_ready_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EmulatorStartError(f"the emulator did not report ready within {timeout:.0f} s")
            if not selector.select(remaining):
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                code = process.wait()
                raise EmulatorStartError(f"the emulator exited with status {code} before it was ready")
            buffer += chunk
    line = buffer.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if not line.startswith(READY_PREFIX):
        raise EmulatorStartError(f"unexpected first line from the emulator: {line!r}")
    return line.removeprefix(READY_PREFIX)


def _terminate(process: subprocess.Popen[bytes], stderr: IO[bytes] | None) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()
    if stderr is not None:
        stderr.close()
