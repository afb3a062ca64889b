"""The emulator as a real process on a loopback port: ready line, drops over a real socket, state file,
clean stop; and the CLI's refusals, which happen before anything listens."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconcile.cli.main import main
from reconcile.emulator.process import RunningEmulator, start_emulator
from tests.emulator import signer

MEDIA = "https://media.oss-cn-shanghai.aliyuncs.com"


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with start_emulator(auto_objects=True, qps_scale=0) as running:
        yield running


def send(url: str, request: httpx.Request) -> httpx.Response:
    target = request.url.copy_with(scheme="http", host="127.0.0.1", port=httpx.URL(url).port)
    with httpx.Client(trust_env=False) as client:
        return client.send(httpx.Request(request.method, target, headers=request.headers, content=request.content))


def register_request(key: str) -> httpx.Request:
    metadatas = json.dumps([{"FileURL": f"{MEDIA}/{key}", "Title": "t"}])
    return signer.v3_request("RegisterMedia", {"RegisterMetadatas": metadatas}, now=time.time())


@pytest.mark.e2e
def test_it_listens_on_a_free_loopback_port_and_answers_signed_calls(emulator: RunningEmulator) -> None:
    assert emulator.url.startswith("http://127.0.0.1:")
    response = send(emulator.url, signer.v3_request("BindInputBucket", {"Bucket": "media"}, now=time.time()))
    assert response.status_code == 200, response.text
    assert emulator.control.state()["buckets"] == [{"name": "media", "type": "Input", "referer": None}]
    emulator.control.reset()


@pytest.mark.e2e
def test_drop_after_commit_closes_the_socket_without_a_response(emulator: RunningEmulator) -> None:
    emulator.control.set_faults({"rules": [{"action": "RegisterMedia", "drop_after_commit": True}]})
    try:
        with pytest.raises(httpx.RemoteProtocolError, match=r"^Server disconnected without sending a response\.$"):
            send(emulator.url, register_request("dropped.mp4"))
    finally:
        emulator.control.set_faults({"rules": []})
    assert [m["file_url"] for m in emulator.control.state()["media"]] == [f"{MEDIA}/dropped.mp4"]
    stats = emulator.control.stats()["actions"]["RegisterMedia"]
    assert (stats["dropped"], stats["faults"]) == (1, 1)
    again = send(emulator.url, register_request("dropped.mp4"))
    assert again.json()["RegisteredMediaList"][0]["NewRegister"] is False
    assert emulator.stderr_text() == ""  # a drop is deliberate: the server logs no error for it
    emulator.control.reset()


@pytest.mark.e2e
def test_log_level_debug_logs_each_request_on_stderr() -> None:
    with start_emulator(auto_objects=True, qps_scale=0, extra_args=["--log-level", "debug"]) as running:
        send(running.url, signer.v3_request("BindInputBucket", {"Bucket": "media"}, now=time.time()))
        running.control.stats()
        logged = [line.split(" ", 2)[2] for line in running.stderr_text().splitlines()]  # after date and time
    assert [re.sub(r" in [0-9]+\.[0-9] ms$", " in N ms", line) for line in logged] == [
        "DEBUG reconcile.emulator: BindInputBucket by emulator: 200 in N ms",
        "DEBUG reconcile.emulator: GET /_emulator/stats (control API): 200 in N ms",
    ]


@pytest.mark.e2e
def test_control_client_round_trips(emulator: RunningEmulator) -> None:
    emulator.control.put_objects([f"{MEDIA}/x.mp4"])
    assert emulator.control.objects() == [f"{MEDIA}/x.mp4"]
    emulator.control.set_faults({"rules": [{"action": "*", "latency_ms": 1}]})
    assert emulator.control.faults() == {"rules": [{"action": "*", "probability": 1.0, "latency_ms": 1.0}]}
    emulator.control.set_faults({"rules": []})
    emulator.control.reset()
    assert emulator.control.objects() == []


@pytest.mark.e2e
def test_state_file_is_written_on_sigterm_and_loaded_on_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    with start_emulator(auto_objects=True, state_file=state_file) as first:
        send(first.url, signer.v3_request("BindOutputBucket", {"Bucket": "out"}, now=time.time()))
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(10) == 0
    assert json.loads(state_file.read_text())["mps"]["bindings"][0]["bucket"] == "out"
    with start_emulator(state_file=state_file) as second:
        assert second.control.state()["buckets"] == [{"name": "out", "type": "Output", "referer": None}]


@pytest.mark.e2e
def test_sigterm_stops_within_a_second_of_grace_despite_a_stalled_client(tmp_path: Path) -> None:
    """A client that sent its headers but never its body used to hold the server up for ever (uvicorn waits
    for requests in flight without limit), and the SIGKILL that followed lost the state file."""
    state_file = tmp_path / "state.json"
    with start_emulator(auto_objects=True, state_file=state_file) as running:
        send(running.url, signer.v3_request("BindOutputBucket", {"Bucket": "out"}, now=time.time()))
        port = httpx.URL(running.url).port
        assert port is not None
        with socket.create_connection(("127.0.0.1", port)) as stalled:
            stalled.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")  # no body follows
            time.sleep(0.3)  # the server reads the headers and waits for the body
            started = time.monotonic()
            running.process.send_signal(signal.SIGTERM)
            assert running.process.wait(10) == 0
            stopped_after = time.monotonic() - started
            with contextlib.suppress(ConnectionResetError):
                assert stalled.recv(1024) == b""  # hung up on, without a response
        assert running.stderr_text() == "Cancel 1 running task(s), timeout graceful shutdown exceeded\n"
    assert 1.0 <= stopped_after < 3.0
    assert json.loads(state_file.read_text())["mps"]["bindings"][0]["bucket"] == "out"


def test_a_non_loopback_host_needs_allow_remote(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --host 0.0.0.0 is not a loopback address;")
    assert "pass --allow-remote" in err
    assert "emulator-secret" not in err


def test_key_ids_and_secrets_come_in_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--access-key-id", "a", "--access-key-id", "b", "--access-key-secret", "s"]) == 1
    assert capsys.readouterr().err == ("error: got 2 --access-key-id and 1 --access-key-secret: give them in pairs\n")


def test_bad_faults_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--faults", '{"rules": [{"action": "*"}]}']) == 1
    assert capsys.readouterr().err == (
        "error: --faults: faults: rules[0] does nothing: give error, drop_after_commit or latency_ms\n"
    )
    assert main(["emulator", "--faults", f"@{tmp_path / 'missing.json'}"]) == 1
    assert capsys.readouterr().err == (
        f"error: --faults @{tmp_path / 'missing.json'}: cannot read {tmp_path / 'missing.json'}: No such file or directory\n"
    )


def test_a_corrupt_state_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "state.json"
    path.write_text("{")
    assert main(["emulator", "--state-file", str(path)]) == 1
    assert capsys.readouterr().err.startswith(f"error: emulator state file {path} is not valid JSON")


def test_a_busy_port_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["emulator", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert err.endswith("choose another --port (0 picks a free one)\n")


@pytest.mark.e2e
def test_allow_remote_warns_what_it_exposes_and_keeps_the_control_api_local() -> None:
    remote = ["--host", "0.0.0.0", "--allow-remote", "--access-key-id", "ci", "--access-key-secret", "ci-secret"]
    with start_emulator(extra_args=remote) as running:
        port = httpx.URL(running.url).port
        assert running.url == f"http://0.0.0.0:{port}"
        assert running.stderr_text() == (
            f"WARNING: --allow-remote: serving beyond loopback at http://0.0.0.0:{port}.\n"
            "WARNING: This emulator is unauthenticated test software, not a secured service. Anyone who can reach\n"
            "WARNING: this port can bind and unbind buckets and register, change and delete media, in clear text,\n"
            "WARNING: with the public key pair emulator/emulator-secret (and the --access-key-id pairs given: ci).\n"
            "WARNING: Serve it only on a network you trust. The control API (/_emulator/) still answers only this\n"
            f"WARNING: machine, at http://127.0.0.1:{port}.\n"
        )
        # The signed API answers whatever Host a remote client used; the control API only a loopback one.
        response = send(running.url, signer.v3_request("BindInputBucket", {"Bucket": "media"}, now=time.time()))
        assert response.status_code == 200, response.text
        with httpx.Client(trust_env=False) as client:
            local = client.get(f"http://127.0.0.1:{port}/_emulator/state")
            wildcard = client.get(f"http://127.0.0.1:{port}/_emulator/state", headers={"host": f"0.0.0.0:{port}"})
        assert local.json()["buckets"] == [{"name": "media", "type": "Input", "referer": None}]
        assert wildcard.status_code == 403


def test_the_help_says_when_a_non_loopback_host_is_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "(loopback only)" not in help_text
    assert (
        "--host TEXT Address to listen on: a loopback address (127.0.0.0/8, ::1) or localhost, unless "
        "--allow-remote. [default: 127.0.0.1]"
    ) in help_text
    assert (
        "--allow-remote Allow a non-loopback --host: anyone who can reach the port can then use the API with the "
        "public key pair (a warning says so). The control API still answers loopback clients only."
    ) in help_text
