"""`reconcile state mv FROM TO` and `reconcile state rm ADDRESS...`: one new serial each, under the lock."""

from __future__ import annotations

import json

import pytest

from reconcile.cli.main import main
from reconcile.state import LocalStateStore, StateDocument

from .conftest import bucket, document, media


@pytest.fixture
def written(state_path) -> StateDocument:
    return LocalStateStore(state_path).write(
        document(
            media("vids/b roll.mp4", media_id="9a8b7c6d", title="B roll"),
            media("vids/intro.mp4", name="intro", media_id="3f1c0a2b", title="Intro"),
            bucket("media-in"),
        )
    )


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def addresses(state_path) -> list[str]:
    doc = LocalStateStore(state_path).read()
    assert doc is not None
    return [r.address for r in doc.resources]


def test_state_help_lists_mv_and_rm(capsys):
    code, out, _ = run(capsys, "state", "--help")
    assert code == 0
    assert "  mv          Record the resource at FROM under the address TO" in out
    assert "  rm          Forget the resources at ADDRESS..." in out


def test_mv_moves_an_address_as_one_new_serial_keeping_the_previous_version(capsys, state_path, written):
    before = state_path.read_bytes()
    code, out, err = run(capsys, "state", "mv", "media[vids/b roll.mp4]", "media.b-roll", "--state", str(state_path))
    assert (code, err) == (0, "")
    assert out == (
        f'Moved media["vids/b roll.mp4"] to media.b-roll in state {state_path} (serial 1 -> 2). Declare it under '
        "that address (e.g. `name:`) or the next apply moves it back.\n"
    )
    assert addresses(state_path) == ["input_bucket.media-in", "media.b-roll", "media.intro"]
    moved = json.loads(run(capsys, "state", "show", "media.b-roll", "--format", "json", "--state", str(state_path))[1])
    assert (moved["identity"], moved["remote_id"], moved["attributes"]["title"]) == (
        "vids/b roll.mp4",
        "9a8b7c6d",
        "B roll",
    )
    assert state_path.with_name("state.json.backup").read_bytes() == before


@pytest.mark.parametrize(
    ("source", "to", "error"),
    [
        (
            "media.intro",
            'media["vids/b roll.mp4"]',
            'error: the state already has a resource at media["vids/b roll.mp4"] (media vids/b roll.mp4): nothing was '
            "moved. Choose another address, or forget that one first with `reconcile state rm 'media[\"vids/b roll.mp4\"]'`\n",
        ),
        (
            "media.intro",
            "media.Intro Video",
            "error: cannot move media.intro to media.Intro Video: must be up to 64 lowercase letters, digits, `_` and "
            "`-` (it becomes the address media.<name>); got `Intro Video`; nothing was moved\n",
        ),
        (
            "media.intro",
            'media["vids/other.mp4"]',
            'error: cannot move media.intro to media["vids/other.mp4"]: a media\'s address is media.<name> or its '
            'own media["vids/intro.mp4"]; nothing was moved\n',
        ),
        (
            "input_bucket.media-in",
            "input_bucket.renamed",
            "error: cannot move input_bucket.media-in to input_bucket.renamed: an input bucket's address is its bucket "
            "name (input_bucket.media-in); nothing was moved\n",
        ),
        (
            "media.intr",
            "media.x",
            "error: no resource media.intr in state {state}. Did you mean media.intro? Nothing was moved.\n",
        ),
    ],
)
def test_mv_refusals_write_nothing(capsys, state_path, written, source, to, error):
    before = state_path.read_bytes()
    code, out, err = run(capsys, "state", "mv", source, to, "--state", str(state_path))
    assert (code, out, err) == (1, "", error.format(state=state_path))
    assert state_path.read_bytes() == before


def test_rm_forgets_resources_and_keeps_the_account(capsys, state_path, written):
    code, out, err = run(
        capsys, "state", "rm", "media.intro", "input_bucket.media-in", "media.intro", "--state", str(state_path)
    )
    assert (code, err) == (0, "")
    assert out == (
        f"Removed 2 resources from state {state_path} (serial 1 -> 2); the account still has them:\n"
        "  - input_bucket.media-in\n"
        "  - media.intro\n"
    )
    assert addresses(state_path) == ['media["vids/b roll.mp4"]']


def test_rm_of_nothing_is_refused_and_removes_nothing(capsys, state_path, written):
    before = state_path.read_bytes()
    code, out, err = run(capsys, "state", "rm", "media.intro", "media.gone", "--state", str(state_path))
    assert (code, out) == (1, "")
    assert (
        err
        == f"error: no resource media.gone in state {state_path}. `reconcile state list` shows every address. Nothing was removed.\n"
    )
    assert state_path.read_bytes() == before
    assert run(capsys, "state", "rm", "--state", str(state_path))[0] == 1  # no address at all: a usage error


def test_mv_and_rm_without_state(capsys, state_path):
    code, _, err = run(capsys, "state", "rm", "media.intro", "--state", str(state_path))
    assert (code, err) == (
        1,
        f"error: No state at {state_path}: nothing is managed yet, so there is nothing to remove.\n",
    )


def test_mv_waits_for_the_lock_then_names_its_holder(capsys, state_path, written):
    with LocalStateStore(state_path).lock("apply"):
        code, _, err = run(capsys, "state", "mv", "media.intro", "media.x", "--state", str(state_path))
    assert code == 1
    assert err.startswith(f"error: state {state_path} is locked: lock ")
    assert "('apply')" in err
    assert addresses(state_path) == ["input_bucket.media-in", "media.intro", 'media["vids/b roll.mp4"]']
