"""Helpers for the shared-state e2e tests (PostgreSQL, OSS): CI runners, each in its own working directory (its
manifests, no state of its own), sharing one state location; every output checked for the secrets on the way."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from tests.e2e.conftest import Child, Result, Workspace, oss_url


def videos(bucket: str, count: int) -> list[dict[str, object]]:
    return [{"file_url": oss_url(bucket, f"v/{i:03}.mp4"), "title": f"Video {i}"} for i in range(count)]


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def no_secret(result: Result, secrets: Sequence[str]) -> Result:
    for secret in secrets:
        assert secret not in result.out and secret not in result.err, "a secret was printed"
    return result


class Runner:
    """One CI runner: RECONCILE_STATE is `url` (and `env` is set) for every command it runs."""

    def __init__(
        self,
        ws: Workspace,
        directory: Path,
        url: str,
        monkeypatch: pytest.MonkeyPatch,
        *,
        secrets: Sequence[str],
        env: Mapping[str, str] | None = None,
    ) -> None:
        directory.mkdir(exist_ok=True)
        self.ws = Workspace(directory, ws.emulator, ws.capsys)
        self.url = url
        self.monkeypatch = monkeypatch
        self.secrets = tuple(secrets)
        self.env = {"RECONCILE_STATE": url, **(env or {})}

    def manifest(self, **entries: object) -> None:
        self.ws.manifest(**entries)  # type: ignore[arg-type]

    def reconcile(self, *args: str, env: dict[str, str] | None = None) -> Result:
        self.monkeypatch.chdir(self.ws.directory)
        with self.monkeypatch.context() as scoped:
            for key, value in {**self.env, **(env or {})}.items():
                scoped.setenv(key, value)
            return no_secret(self.ws.reconcile(*args), self.secrets)

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> Child:
        return self.ws.spawn(*args, env={**self.env, **(env or {})})

    def checked(self, child: Child) -> Result:
        """The child's result once it exits, checked for the secrets."""
        return no_secret(child.wait(60), self.secrets)

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.ws.directory)) for p in self.ws.directory.rglob("*") if p.is_file())


def second_runner_plans_nothing_after_the_first_applied(
    runners: Callable[[str], Runner], state_shown: str
) -> tuple[Runner, Runner]:
    """Runner a applies 25 media and a bucket to the shared state; runner b, in an empty directory with the same
    manifests and no local state, plans no changes. Returns (a, b) for the backend's own checks."""
    a, b = runners("a"), runners("b")
    media = videos("raw-a", 25)
    a.manifest(buckets=[{"bucket": "raw-a"}], media=media)
    b.manifest(buckets=[{"bucket": "raw-a"}], media=media, put_objects=False)

    applied = a.reconcile("apply", "manifests/", "--auto-approve")
    assert applied.code == 0, applied.err
    assert "Apply complete! Resources: 1 bound, 25 registered." in applied.out
    assert f"State: {state_shown} (serial " in applied.out

    planned = b.reconcile("plan", "manifests/", "--detailed-exitcode")

    assert planned.code == 0, planned.out + planned.err
    assert "No changes. The account matches the manifests." in planned.out
    assert b.files() == ["manifests/prod.yaml"]  # no local state
    assert a.files() == ["manifests/prod.yaml"]
    return a, b
