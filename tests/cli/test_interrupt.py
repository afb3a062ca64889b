"""Ctrl-C during `reconcile apply`, through main([...]): exit 130 with one line saying what was applied.

A real Ctrl-C reaches the command as a KeyboardInterrupt (asyncio.run raises it once the main task is
cancelled; click's prompt raises it while reading). Here it is raised at a chosen point instead of by a
signal: on the wire, by the transport, when a given action is sent; or by stdin at the confirmation prompt.
"""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

from reconcile.cli import apply as apply_cli
from reconcile.cli import drift as drift_cli
from reconcile.cli import plan as plan_cli
from reconcile.cli.main import main
from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.settings import ClientSettings
from reconcile.emulator.app import emulator_transport
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from tests.engine.builders import write_manifest
from tests.engine.conftest import Account

MANIFEST = """
region: cn-shanghai
input_buckets:
  - bucket: media-in
media:
  - name: intro
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/intro.mp4
    title: Intro
"""
NOTHING_APPLIED = "error: interrupted (Ctrl-C) before any call that changes the account; nothing was applied\n"
STATE = Path(".reconcile/state.json")


class CtrlCOn(httpx.AsyncBaseTransport):
    """Forwards to the emulator, except that sending `action` is interrupted by a Ctrl-C (once)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.action: str | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.action is not None and request.headers.get("x-acs-action") == self.action:
            self.action = None
            raise KeyboardInterrupt
        return await self.inner.handle_async_request(request)


@pytest.fixture
def ctrl_c(tmp_path: Path, account: Account, monkeypatch: pytest.MonkeyPatch) -> CtrlCOn:
    transport = CtrlCOn(emulator_transport(account.app))

    def session(settings: ClientSettings) -> CloudSession:
        credentials = StaticCredentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
        return CloudSession(settings, credentials, transport=transport)

    monkeypatch.setattr(plan_cli, "open_session", session)
    monkeypatch.setattr(apply_cli, "open_session", session)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILE_STATE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    write_manifest(tmp_path, MANIFEST)
    return transport


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ctrl_c_while_refreshing_exits_130_and_sends_nothing(ctrl_c: CtrlCOn, account: Account, capsys) -> None:
    ctrl_c.action = "ListAllMediaBucket"
    assert run(capsys, "apply", "manifests/", "--auto-approve") == (130, "", NOTHING_APPLIED)
    assert account.stats() == {}
    assert not STATE.exists()
    # The lock was released: the next apply runs.
    code, out, err = run(capsys, "apply", "manifests/", "--auto-approve")
    assert code == 0, err
    assert "Apply complete! Resources: 1 bound, 1 registered." in out


def test_ctrl_c_while_checking_a_saved_plan_exits_130(ctrl_c: CtrlCOn, account: Account, capsys) -> None:
    assert run(capsys, "plan", "manifests/", "--out", "release.plan")[0] == 0
    ctrl_c.action = "ListAllMediaBucket"
    assert run(capsys, "apply", "release.plan") == (130, "", NOTHING_APPLIED)
    # the plan's own reads (the bucket listing, the object check); the check's listing was interrupted
    assert account.stats() == {"HeadObject": 1, "ListAllMediaBucket": 1}


class CtrlCAtPrompt(io.StringIO):
    def readline(self, size: int | None = -1) -> str:
        raise KeyboardInterrupt


def test_ctrl_c_at_the_confirmation_prompt_exits_130(
    ctrl_c: CtrlCOn, account: Account, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apply_cli, "_interactive", lambda: True)
    monkeypatch.setattr("sys.stdin", CtrlCAtPrompt())
    code, out, err = run(capsys, "apply", "manifests/")
    assert (code, err) == (130, NOTHING_APPLIED)
    assert out.endswith("  Only 'yes' will be accepted to approve.\n\n  Enter a value: \n")
    assert account.stats() == {"HeadObject": 1, "ListAllMediaBucket": 1}  # reads only


def test_end_of_input_at_the_prompt_cancels_without_aborted(
    ctrl_c: CtrlCOn, account: Account, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apply_cli, "_interactive", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _out, err = run(capsys, "apply", "manifests/")
    assert (code, err) == (1, "Apply cancelled: nothing was applied.\n")
    assert account.stats() == {"HeadObject": 1, "ListAllMediaBucket": 1}  # reads only


def test_ctrl_c_that_abandons_calls_in_flight_says_what_is_kept(ctrl_c: CtrlCOn, account: Account, capsys) -> None:
    ctrl_c.action = "RegisterMedia"
    code, _out, err = run(capsys, "apply", "manifests/", "--auto-approve")
    assert (code, err) == (
        130,
        "error: interrupted (Ctrl-C) while calls were in flight: those were abandoned; every batch that finished "
        "is recorded in the state. Run apply again to finish the rest\n",
    )
    code, out, err = run(capsys, "apply", "manifests/", "--auto-approve")
    assert code == 0, err
    assert "Apply complete! Resources: " in out
    assert account.stats()["RegisterMedia"] == 1


@pytest.mark.parametrize("command", [("plan", "manifests/"), ("drift", "manifests/")])
def test_ctrl_c_in_a_command_that_only_reads_exits_130_not_1(
    ctrl_c: CtrlCOn, monkeypatch: pytest.MonkeyPatch, capsys, command: tuple[str, ...]
) -> None:
    # click turns a KeyboardInterrupt into Abort ("Aborted.", exit 1): a pipeline would read 1 as "the plan has
    # errors". The README gives 130 for an interrupted command. On SIGINT asyncio.run cancels the main task and
    # raises KeyboardInterrupt out of it, as here.
    def interrupted(work):  # type: ignore[no-untyped-def]
        work.close()  # never started: nothing was read
        raise KeyboardInterrupt

    monkeypatch.setattr(plan_cli, "run_detached", interrupted)
    monkeypatch.setattr(drift_cli, "run_detached", interrupted)
    code, out, err = run(capsys, *command)
    assert (code, out, err) == (130, "", "\nInterrupted.\n")
