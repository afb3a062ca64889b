"""End-to-end fixtures: one real emulator process per module, the real CLI, a fresh account and state per test.

The CLI runs in-process through `main([...])` (fast), or as a child process where a test needs one to kill
or to hold the lock. The emulator is reset between tests through its control API. Pacing is not what these
tests check, so both the client and the emulator run at 100x the real QPS limits unless a test says otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconcile.cli.main import main
from reconcile.cloud.limits import QPS_LIMITS
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from reconcile.emulator.process import RunningEmulator, start_emulator

SPEED_UP = 100
FAST_QPS = ",".join(f"{action}={limit * SPEED_UP:g}" for action, limit in QPS_LIMITS.items())
REGION = "cn-shanghai"
MUTATING = ("BindInputBucket", "UnbindInputBucket", "RegisterMedia", "UpdateVideoInfos", "DeleteVideo")

pytestmark = pytest.mark.e2e


def oss_url(bucket: str, key: str) -> str:
    return f"https://{bucket}.oss-{REGION}.aliyuncs.com/{key}"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Child:
    """A `reconcile` child process and the files its output goes to."""

    process: subprocess.Popen[str]
    out_path: Path
    err_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float = 30.0) -> Result:
        code = self.process.wait(timeout)
        return Result(code, self.out_path.read_text(), self.err_path.read_text())


class Workspace:
    """A directory with manifests and a state file, and the emulated account the CLI talks to."""

    def __init__(self, directory: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]) -> None:
        self.directory = directory
        self.emulator = emulator
        self.control = emulator.control
        self.capsys = capsys
        self.state_path = directory / ".reconcile" / "state.json"
        self.children = 0

    # -- manifests -------------------------------------------------------------------------------------------

    def write(self, text: str, name: str = "prod.yaml") -> str:
        path = self.directory / "manifests" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        return f"manifests/{name}"

    def manifest(
        self,
        buckets: Sequence[dict[str, Any]] = (),
        media: Sequence[dict[str, Any]] = (),
        name: str = "prod.yaml",
        put_objects: bool = True,
    ) -> str:
        """Write a manifest from entries (JSON is YAML: one entry per line keeps locations predictable)."""
        lines = [f"region: {REGION}"]
        if buckets:
            lines.append("input_buckets:")
            lines += [f"  - {json.dumps(b)}" for b in buckets]
        if media:
            lines.append("media:")
            lines += [f"  - {json.dumps(m)}" for m in media]
        if put_objects and media:
            self.control.put_objects([m["file_url"] for m in media])
        return self.write("\n".join(lines) + "\n", name)

    def location_of(self, file_url: str, name: str = "prod.yaml") -> str:
        """`manifests/<name>:line:col` of the entry declaring `file_url`: its `file_url` key, just after `  - {`."""
        text = (self.directory / "manifests" / name).read_text().splitlines()
        line = next(i for i, t in enumerate(text, 1) if json.dumps(file_url) in t)
        return f"manifests/{name}:{line}:6"

    # -- the CLI ---------------------------------------------------------------------------------------------

    def reconcile(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = main(list(args))
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> Child:
        """`reconcile ARGS` as a child process (for kill -9, Ctrl-C and lock tests), in this workspace.

        Its output goes to files, not pipes: a long plan would fill a pipe nobody reads yet and stall it."""
        self.children += 1
        out = self.directory / f"child-{self.children}.out"
        err = self.directory / f"child-{self.children}.err"
        with out.open("w") as stdout, err.open("w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "reconcile", *args],
                cwd=self.directory,
                env={**os.environ, **(env or {})},
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        return Child(process, out, err)

    # -- what the account and the state hold ------------------------------------------------------------------

    def account(self) -> dict[str, Any]:
        return self.control.state()

    def buckets(self) -> dict[str, tuple[str, str | None]]:
        return {b["name"]: (b["type"], b["referer"]) for b in self.account()["buckets"]}

    def media(self) -> dict[str, dict[str, Any]]:
        """Registered media by file URL; asserts no file is registered twice."""
        listed = self.account()["media"]
        by_url = {m["file_url"]: m for m in listed}
        assert len(by_url) == len(listed), "a file URL is registered more than once"
        return by_url

    def successes(self) -> dict[str, int]:
        """Mutating calls the emulator carried out, per action."""
        actions = self.control.stats()["actions"]
        return {a: actions[a]["successes"] for a in MUTATING if a in actions and actions[a]["successes"]}

    def state(self) -> dict[str, dict[str, Any]]:
        """The state's resources by address, as `reconcile state` would read them (snapshot + journal)."""
        from reconcile.state import open_store

        doc = open_store(str(self.state_path)).read()
        return {r.address: r.model_dump() for r in doc.resources} if doc else {}


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with start_emulator(qps_scale=SPEED_UP) as running:
        yield running


@pytest.fixture
def ws(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Workspace:
    emulator.control.reset()
    emulator.control.set_faults({"rules": []})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILE_ENDPOINT", emulator.url)
    monkeypatch.setenv("RECONCILE_QPS", FAST_QPS)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEFAULT_ACCESS_KEY_SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true")
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    monkeypatch.delenv("RECONCILE_STATE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return Workspace(tmp_path, emulator, capsys)
