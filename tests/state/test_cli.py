"""`reconcile state list`, `reconcile state show`, `reconcile force-unlock` and the shared state options."""

from __future__ import annotations

import json
import os

import click
import pytest

from reconcile.cli.main import main
from reconcile.cli.state_options import state_options, store_from_options
from reconcile.state import LocalStateStore, StateDocument

from .conftest import bucket, document, media


@pytest.fixture
def written(state_path) -> StateDocument:
    return LocalStateStore(state_path).write(
        document(
            media("vids/b roll.mp4", media_id="9a8b7c6d", title="B roll"),
            media("vids/intro.mp4", name="intro", media_id="3f1c0a2b", title="Intro — 片头", tags=["intro", "brand"]),
            bucket("media-in"),
        )
    )


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- state list --------------------------------------------------------------------------------------------------


def test_list_prints_sorted_addresses_one_per_line(capsys, state_path, written):
    assert run(capsys, "state", "list", "--state", str(state_path)) == (
        0,
        'input_bucket.media-in\nmedia.intro\nmedia["vids/b roll.mp4"]\n',
        "",
    )


def test_list_long_aligns_kind_region_and_remote_id(capsys, state_path, written):
    code, out, _ = run(capsys, "state", "list", "-l", "--state", str(state_path))
    assert code == 0
    assert out == (
        "ADDRESS                   KIND          REGION       REMOTE ID\n"
        "input_bucket.media-in     input_bucket  cn-shanghai  -\n"
        "media.intro               media         cn-shanghai  3f1c0a2b\n"
        'media["vids/b roll.mp4"]  media         cn-shanghai  9a8b7c6d\n'
    )


def test_list_filters_by_address_prefix(capsys, state_path, written):
    assert run(capsys, "state", "list", "media", "--state", str(state_path))[1] == (
        'media.intro\nmedia["vids/b roll.mp4"]\n'
    )
    assert run(capsys, "state", "list", "media.intro", "input_bucket", "--state", str(state_path))[1] == (
        "input_bucket.media-in\nmedia.intro\n"
    )
    assert run(capsys, "state", "list", "media.in", "--state", str(state_path)) == (
        0,
        "",
        f"No resource in state {state_path} matches 'media.in'.\n",
    )


def test_list_json_has_every_field(capsys, state_path, written):
    code, out, err = run(capsys, "state", "list", "--format", "json", "--state", str(state_path))
    assert (code, err) == (0, "")
    listing = json.loads(out)
    assert {k: listing[k] for k in ("format_version", "state", "lineage", "serial")} == {
        "format_version": "1.0",
        "state": str(state_path),
        "lineage": written.lineage,
        "serial": 1,
    }
    assert listing["resources"][1] == {
        "address": "media.intro",
        "kind": "media",
        "identity": "vids/intro.mp4",
        "region": "cn-shanghai",
        "remote_id": "3f1c0a2b",
        "attributes": {
            "file_url": "https://vids.oss-cn-shanghai.aliyuncs.com/intro.mp4",
            "title": "Intro — 片头",
            "tags": ["intro", "brand"],
        },
        "prevent_destroy": False,
    }
    assert [r["address"] for r in listing["resources"]] == [r.address for r in written.resources]


def test_list_without_state_says_so(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "state", "list") == (0, "", "No state at .reconcile/state.json.\n")
    assert json.loads(run(capsys, "state", "list", "--format", "json")[1]) == {
        "format_version": "1.0",
        "state": ".reconcile/state.json",
        "lineage": None,
        "serial": None,
        "resources": [],
    }
    assert not (tmp_path / ".reconcile").exists()


def test_list_of_a_state_without_resources(capsys, state_path):
    LocalStateStore(state_path).write(document())
    assert run(capsys, "state", "list", "--state", str(state_path)) == (
        0,
        "",
        f"No resources in state {state_path} (serial 1).\n",
    )


def test_list_uses_reconcile_state_from_the_environment(capsys, state_path, written, monkeypatch):
    monkeypatch.setenv("RECONCILE_STATE", str(state_path))
    assert run(capsys, "state", "list", "input_bucket")[1] == "input_bucket.media-in\n"


def test_damaged_state_is_an_error_not_a_traceback(capsys, state_path):
    state_path.parent.mkdir(parents=True)
    state_path.write_text("{")
    code, out, err = run(capsys, "state", "list", "--state", str(state_path))
    assert (code, out) == (1, "")
    assert err.startswith(f"error: state file {state_path} is not valid JSON (EOF while parsing an object at line 1")


# -- state show --------------------------------------------------------------------------------------------------


def test_show_prints_identity_remote_id_and_attributes(capsys, state_path, written):
    assert run(capsys, "state", "show", "media.intro", "--state", str(state_path)) == (
        0,
        "# media.intro\n"
        'kind            = "media"\n'
        'identity        = "vids/intro.mp4"\n'
        'region          = "cn-shanghai"\n'
        'remote_id       = "3f1c0a2b"\n'
        "prevent_destroy = false\n"
        "attributes = {\n"
        '  file_url = "https://vids.oss-cn-shanghai.aliyuncs.com/intro.mp4"\n'
        '  tags     = ["intro", "brand"]\n'
        '  title    = "Intro — 片头"\n'
        "}\n",
        "",
    )


def test_show_bucket_as_json(capsys, state_path, written):
    code, out, _ = run(capsys, "state", "show", "input_bucket.media-in", "--format", "json", "--state", str(state_path))
    assert code == 0
    assert json.loads(out) == {
        "address": "input_bucket.media-in",
        "kind": "input_bucket",
        "identity": "media-in",
        "region": "cn-shanghai",
        "remote_id": None,
        "attributes": {"referer": "https://example.com"},
        "prevent_destroy": False,
    }


def test_show_accepts_an_address_whose_quotes_the_shell_removed(capsys, state_path, written):
    code, out, _ = run(capsys, "state", "show", "media[vids/b roll.mp4]", "--state", str(state_path))
    assert code == 0
    assert out.splitlines()[0] == '# media["vids/b roll.mp4"]'


@pytest.mark.parametrize(
    ("typed", "suggestion"),
    [
        ("media.intr", " Did you mean media.intro?"),
        ("vids/intro.mp4", " Did you mean media.intro?"),  # an identity, not an address
        ('media["vids/b-roll.mp4"]', ' Did you mean media["vids/b roll.mp4"]?'),
        ("output_bucket.x", " `reconcile state list` shows every address."),
    ],
)
def test_show_unknown_address_suggests_the_nearest(capsys, state_path, written, typed, suggestion):
    assert run(capsys, "state", "show", typed, "--state", str(state_path)) == (
        1,
        "",
        f"error: no resource {typed} in state {state_path}.{suggestion}\n",
    )


def test_show_suggests_among_thousands_of_addresses(capsys, state_path):
    many = [media(f"vids/clip-{i:06d}.mp4") for i in range(2000)]
    LocalStateStore(state_path).write(document(*many))
    assert run(capsys, "state", "show", 'media["vids/clip-001234.mp"]', "--state", str(state_path))[2] == (
        f'error: no resource media["vids/clip-001234.mp"] in state {state_path}. '
        f'Did you mean media["vids/clip-001234.mp4"]?\n'
    )


def test_show_without_state(capsys, state_path):
    assert run(capsys, "state", "show", "media.intro", "--state", str(state_path)) == (
        1,
        "",
        f"error: No state at {state_path}: nothing is managed yet, so there is nothing to show.\n",
    )


# -- force-unlock ------------------------------------------------------------------------------------------------


def test_force_unlock_prints_what_it_removed(capsys, state_path, hold_lock):
    holder = hold_lock(state_path)
    holder.kill()
    info = holder.info
    assert run(capsys, "force-unlock", info.id, "--state", str(state_path)) == (
        0,
        f"Removed lock {info.id} from state {state_path}: it was held by pid {info.pid} on {info.host} ('apply') "
        f"since {info.created}.\n",
        "",
    )


def test_force_unlock_refuses_a_running_holder(capsys, state_path, hold_lock):
    info = hold_lock(state_path).info
    code, out, err = run(capsys, "force-unlock", info.id, "--state", str(state_path))
    assert (code, out) == (1, "")
    assert err == (
        f"error: lock {info.id} on state {state_path} is held by pid {info.pid} on this machine ('apply', since "
        f"{info.created}), which is still running: stop it first; the lock is released when it exits. "
        f"force-unlock is for locks whose holder is gone.\n"
    )


def test_force_unlock_without_a_lock(capsys, state_path):
    assert run(capsys, "force-unlock", "abc", "--state", str(state_path)) == (
        1,
        "",
        f"error: state {state_path} is not locked: there is no lock to remove.\n",
    )


# -- help and shared options ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["state"], ["state", "list"], ["state", "show"], ["force-unlock"]], ids=" ".join)
def test_every_command_has_help_and_log_level(capsys, args):
    assert main([*args, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: reconcile {' '.join(args)} ")
    assert "--log-level" in out


@click.command()
@state_options
def probe(state: str | None, lock_timeout: float) -> None:
    click.echo(f"{store_from_options(state).location} {lock_timeout!r}")


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("0", 0.0), ("30", 30.0), ("30s", 30.0), ("2m", 120.0), ("1.5h", 5400.0), ("250ms", 0.25)],
)
def test_lock_timeout_accepts_seconds_and_units(capsys, given, seconds):
    probe.main(["--lock-timeout", given], standalone_mode=False)
    assert capsys.readouterr().out == f".reconcile/state.json {seconds!r}\n"


def test_lock_timeout_rejects_what_is_not_a_duration(capsys):
    with pytest.raises(click.BadParameter) as caught:
        probe.main(["--lock-timeout", "5 minutes"], standalone_mode=False)
    assert caught.value.format_message() == (
        "Invalid value for '--lock-timeout': '5 minutes' is not a duration: use seconds (30) or a unit "
        "(500ms, 30s, 2m, 1h)."
    )


def test_state_option_defaults_env_and_flag(capsys, monkeypatch):
    probe.main([], standalone_mode=False)
    monkeypatch.setenv("RECONCILE_STATE", "/srv/reconcile/prod.json")
    probe.main([], standalone_mode=False)
    probe.main(["--state", "~/other.json"], standalone_mode=False)
    assert capsys.readouterr().out.splitlines() == [
        ".reconcile/state.json 0.0",
        "/srv/reconcile/prod.json 0.0",
        f"{os.path.expanduser('~/other.json')} 0.0",
    ]
