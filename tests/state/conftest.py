"""Fixtures for the state store: a state path in a fresh directory, resource builders, a lock-holding process."""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

import reconcile
from reconcile.state import LocalStateStore, LockInfo, ResourceState, StateDocument, StateError

FORK = multiprocessing.get_context("fork")  # fast, and the child inherits the already-imported modules
SOURCE_ROOT = str(Path(reconcile.__file__).resolve().parents[1])


@pytest.fixture(autouse=True)
def _no_state_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECONCILE_STATE", raising=False)


@pytest.fixture
def state_log(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    """caplog for the state package's logs, even after a CLI test stopped `reconcile` logs propagating."""
    monkeypatch.setattr(logging.getLogger("reconcile"), "propagate", True)
    caplog.set_level(logging.INFO, logger="reconcile.state")
    return caplog


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "work" / ".reconcile" / "state.json"


@pytest.fixture
def store(state_path: Path) -> LocalStateStore:
    return LocalStateStore(state_path)


def bucket(name: str, referer: str = "https://example.com", region: str = "cn-shanghai") -> ResourceState:
    return ResourceState(
        address=f"input_bucket.{name}",
        kind="input_bucket",
        identity=name,
        region=region,
        attributes={"referer": referer},
    )


def media(identity: str, name: str | None = None, media_id: str = "", **attributes: object) -> ResourceState:
    bucket_name, key = identity.split("/", 1)
    return ResourceState(
        address=f"media.{name}" if name else f'media["{identity}"]',
        kind="media",
        identity=identity,
        region="cn-shanghai",
        remote_id=media_id or f"id-{key.replace('/', '-')}",
        attributes={
            "file_url": f"https://{bucket_name}.oss-cn-shanghai.aliyuncs.com/{key}",
            "title": key,
            **attributes,
        },
    )


def document(*resources: ResourceState) -> StateDocument:
    return StateDocument.empty().model_copy(update={"resources": list(resources)})


def read_error(state_path: Path) -> str:
    """The StateError a fresh store reading `state_path` reports."""
    with pytest.raises(StateError) as caught:
        LocalStateStore(state_path).read()
    return str(caught.value)


# -- a second process holding the lock -------------------------------------------------------------------------


def _hold_lock(path: str, command: str, os_lock: bool | None, acquired: Connection, release: Event) -> None:
    store = LocalStateStore(Path(path), os_lock=os_lock)
    with store.lock(command) as info:
        acquired.send(info.model_dump_json())
        release.wait(30)


@dataclass
class LockHolder:
    process: BaseProcess
    info: LockInfo
    _release: Event

    def release(self) -> None:
        self._release.set()
        self.process.join(10)
        assert self.process.exitcode == 0

    def kill(self) -> None:
        """SIGKILL: no cleanup code runs in the holder, as when it crashes or is OOM-killed."""
        assert self.process.pid is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(10)
        assert self.process.exitcode == -signal.SIGKILL


StartHolder = Callable[..., LockHolder]


@pytest.fixture
def hold_lock() -> Iterator[StartHolder]:
    """`hold_lock(path, command="apply", os_lock=None) -> LockHolder`: a real second process holding the lock."""
    started: list[LockHolder] = []

    def start(path: Path, command: str = "apply", os_lock: bool | None = None) -> LockHolder:
        receive, send = FORK.Pipe(duplex=False)
        release = FORK.Event()
        process = FORK.Process(target=_hold_lock, args=(str(path), command, os_lock, send, release), daemon=True)
        process.start()
        assert receive.poll(10), "the lock holder did not start"
        holder = LockHolder(process, LockInfo.model_validate_json(receive.recv()), release)
        started.append(holder)
        return holder

    yield start
    for holder in started:
        if holder.process.is_alive():
            holder.process.kill()
            holder.process.join(10)


# -- special files and the CLI in a child process ------------------------------------------------------------


def special_file(directory: Path, kind: str) -> Path:
    """`<kind>.json` in `directory`: "zero" a symlink to /dev/zero, "fifo" a named pipe, "dir" a directory."""
    path = directory / f"{kind}.json"
    if kind == "zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    return path


def limit_memory() -> None:
    """Before the fix /dev/zero was read until memory ran out: keep that from taking the machine down."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILE_", "ALIBABA_CLOUD_"))}
    return subprocess.run(
        [sys.executable, "-m", "reconcile", *args],
        cwd=cwd,
        env={**env, "NO_COLOR": "1", "PYTHONPATH": SOURCE_ROOT},  # the reconcile these tests imported
        capture_output=True,
        text=True,
        timeout=20,  # a hang fails here; it ends in well under a second
        stdin=subprocess.DEVNULL,
        preexec_fn=limit_memory,
        check=False,
    )
