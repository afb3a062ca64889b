"""Only regular files are read as manifests, and only up to a size: a FIFO, a device or a socket (named on the
command line or found in a directory, directly or through a symlink) and an oversized file each get a
located error at once, in this process and in the child that loads large sets, through validate and plan."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconcile.cli.main import main
from reconcile.manifest import ManifestError, load_desired_state, sources
from reconcile.manifest.background import BackgroundLoad
from tests.manifest.conftest import OSS, Write

VALID = f"region: cn-shanghai\nmedia:\n  - file_url: {OSS}/a.mp4\n    title: A\n"
ADVICE = (
    "not a regular file; manifests are read only from regular files (a symlink to one is fine): remove it, or "
    "name the manifest files themselves"
)
FIFO = f"is a FIFO (named pipe), {ADVICE}"
ZERO = f"is a symlink to a character device, {ADVICE}"
TOO_LARGE = "is larger than 64 MiB, the most a manifest file may hold; split it into several files"


def errors(paths: list[str]) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_desired_state(paths, env={})
    return [str(d) for d in caught.value.diagnostics]


@pytest.fixture
def specials(write: Write, workdir: Path) -> Path:
    """manifests/: a valid file, a FIFO and a symlink to /dev/zero, all named *.yaml."""
    write("manifests/a.yaml", VALID)
    os.mkfifo(workdir / "manifests" / "fifo.yaml")
    (workdir / "manifests" / "zero.yaml").symlink_to("/dev/zero")
    return workdir / "manifests"


SPECIALS = [f"manifests/fifo.yaml:1:1: {FIFO}", f"manifests/zero.yaml:1:1: {ZERO}"]


def test_special_files_in_a_directory_are_refused_not_read(specials: Path) -> None:
    assert errors(["manifests"]) == SPECIALS


def test_special_files_named_on_the_command_line_are_refused(specials: Path, workdir: Path) -> None:
    os.mkfifo(workdir / "pipe")
    assert errors(["pipe", "/dev/null", "manifests/zero.yaml"]) == [
        f"/dev/null:1:1: is a character device, {ADVICE}",
        f"manifests/zero.yaml:1:1: {ZERO}",
        f"pipe:1:1: {FIFO}",
    ]


@pytest.fixture
def listening_socket(workdir: Path) -> Iterator[str]:
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("manifests.sock.yaml")
        yield "manifests.sock.yaml"


def test_a_socket_is_refused(listening_socket: str) -> None:
    assert errors([listening_socket]) == [f"manifests.sock.yaml:1:1: is a socket, {ADVICE}"]


def test_a_symlink_to_a_regular_file_is_read(write: Write, workdir: Path) -> None:
    write("elsewhere/real.yaml", VALID)
    (workdir / "manifests").mkdir()
    (workdir / "manifests" / "link.yaml").symlink_to(workdir / "elsewhere" / "real.yaml")
    state = load_desired_state(["manifests"], env={})
    assert state.files == ("manifests/link.yaml",)
    assert [m.attributes.title for m in state.media] == ["A"]


def test_a_fifo_swapped_in_after_the_check_is_refused_without_blocking(
    write: Write, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("regular.yaml", VALID)
    os.mkfifo(workdir / "m.yaml")
    checked = os.stat(workdir / "regular.yaml")
    real_stat = os.stat
    # The first check sees a regular file (as if m.yaml were replaced by a FIFO just after): the opened file
    # is checked again, and a FIFO opens without waiting for a writer.
    monkeypatch.setattr(sources.os, "stat", lambda path: checked if path == "m.yaml" else real_stat(path))
    assert errors(["m.yaml"]) == [f"m.yaml:1:1: {FIFO}"]


def test_a_file_over_the_size_limit_is_refused_unread(workdir: Path) -> None:
    with open(workdir / "huge.yaml", "wb") as huge:
        huge.truncate(64 * 1024 * 1024 + 1)  # sparse: no disk space, and never read
    assert errors(["huge.yaml"]) == [f"huge.yaml:1:1: {TOO_LARGE}"]


def test_a_file_at_the_size_limit_is_read(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    write("m.yaml", VALID)
    monkeypatch.setattr(sources, "MAX_MANIFEST_BYTES", len(VALID))
    assert load_desired_state(["m.yaml"], env={}).files == ("m.yaml",)
    monkeypatch.setattr(sources, "MAX_MANIFEST_BYTES", len(VALID) - 1)
    assert errors(["m.yaml"]) == [f"m.yaml:1:1: {TOO_LARGE.replace('64 MiB', '0 MiB')}"]


async def test_the_child_that_loads_large_sets_refuses_them_too(
    specials: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="reconcile.manifest")
    async with BackgroundLoad(["manifests"], {}) as load:
        with pytest.raises(ManifestError) as raised:
            await load.result()
    assert [str(d) for d in raised.value.diagnostics] == SPECIALS
    assert "loading them here" not in caplog.text  # the child's own answer


def test_validate_reports_special_files_and_exits_1(specials: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "manifests"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [*SPECIALS, "Invalid: 2 problems in 2 files."]


def test_plan_reports_special_files_and_exits_1(
    specials: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECONCILE_STATE", raising=False)
    assert main(["plan", "manifests", "--refresh=false"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [*SPECIALS, "error: the manifests have 2 problem(s), listed above"]


def test_validate_and_plan_refuse_a_merge_bomb(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ["region: cn-shanghai", "media:", f"  - &e0 {{file_url: '{OSS}/0.mp4', title: T0}}"]
    lines += [f"  - &e{n} {{<<: [{','.join([f'*e{n - 1}'] * 8)}], title: T{n}}}" for n in range(1, 10)]
    write("bomb.yaml", "\n".join(lines) + "\n")
    duplicates = [
        f"bomb.yaml:{line}:5: media `media-in/0.mp4` is declared twice: first at bomb.yaml:3:10 (this entry "
        "repeats it through a YAML alias or `<<` merge); remove one"
        for line in range(4, 13)
    ]
    assert main(["validate", "bomb.yaml"]) == 1
    assert capsys.readouterr().err.splitlines() == [*duplicates, "Invalid: 9 problems in 1 file."]
    assert main(["plan", "bomb.yaml", "--refresh=false"]) == 1
    assert capsys.readouterr().err.splitlines() == [*duplicates, "error: the manifests have 9 problem(s), listed above"]


def test_apply_refuses_a_fifo_named_as_its_manifest(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # apply first looks whether its one path is a saved plan: that look must not open the FIFO either.
    monkeypatch.delenv("RECONCILE_STATE", raising=False)
    os.mkfifo(workdir / "pipe.yaml")
    assert main(["apply", "pipe.yaml", "--auto-approve"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"pipe.yaml:1:1: {FIFO}",
        "error: the manifests have 1 problem(s), listed above",
    ]
