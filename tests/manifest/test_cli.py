"""`reconcile validate` and `reconcile schema`, through `main([...])` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.cli.main import main
from tests.manifest.conftest import OSS, Write

ROOT = Path(__file__).resolve().parents[2]


def test_validate_the_example_set(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("MEDIA_ENV", raising=False)
    assert main(["validate", "manifests/"]) == 0
    out, err = capsys.readouterr()
    assert out == "Valid: 5 files, 3 input buckets, 32 media (3 OSS buckets).\n"
    assert err == ""


def test_validate_reports_every_problem_and_exits_1(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    write("manifests/a.yaml", "region: cn-shanghai\ninput_buckets: [{bucket: media-in}]\n")
    write("manifests/b.yaml", "region: cn-shanghai\ninput_buckets: [{bucket: media-in}]\nmedia: {}\n")
    assert main(["validate", "manifests", "missing"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "manifests/b.yaml:2:18: input bucket `media-in` is declared twice: first at manifests/a.yaml:2:18; remove one",
        "manifests/b.yaml:3:8: `media` must be a list of entries, each starting with `- `, not a mapping",
        "missing:1:1: no such file or directory",
        "Invalid: 3 problems in 2 files.",
    ]


def test_validate_prints_warnings_and_still_succeeds(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        "m.yaml",
        "region: cn-shanghai\nmedia:\n"
        f"  - file_url: {OSS}/a.mp3\n    title: A\n    template_group_id: VOD_NO_TRANSCODE\n    workflow_id: wf\n",
    )
    assert main(["validate", "m.yaml"]) == 0
    out, err = capsys.readouterr()
    assert out == "Valid: 1 file, 0 input buckets, 1 media (1 OSS bucket).\n"
    assert err == (
        "m.yaml:6:5: warning: both `template_group_id` and `workflow_id` are set: workflow_id wins at the API, "
        "template_group_id is ignored; remove one\n"
    )


def test_validate_never_shows_a_traceback_for_garbage(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    write("a.yaml", bytes(range(256)))
    write("b.yaml", "")
    write("c.yaml", "[unclosed\n")
    write("d.yaml", "- just\n- a list\n")
    assert main(["validate", "."]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line.split(":", 1)[0] for line in err.splitlines()] == ["a.yaml", "b.yaml", "c.yaml", "d.yaml", "Invalid"]


def test_validate_needs_a_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 1
    assert "Missing argument 'PATH...'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["validate", "schema"])
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    assert f"Usage: reconcile {command}" in capsys.readouterr().out


def test_schema_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == (ROOT / "schema" / "manifest.schema.json").read_text()
