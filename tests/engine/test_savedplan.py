"""Saved plans: exact round trip, no secrets, clear errors for bad files, and every staleness reason."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.settings import ClientSettings
from reconcile.emulator.app import create_app, emulator_transport
from reconcile.emulator.config import EmulatorConfig
from reconcile.emulator.vod import RegisterItem
from reconcile.engine.plan import Plan
from reconcile.engine.planner import PlanInputs, plan_from_inputs
from reconcile.engine.refresh import refresh
from reconcile.engine.savedplan import SavedPlanError, check_fresh, is_saved_plan, load_plan, save_plan
from tests.cli import test_plan as test_cli_plan
from tests.cli.test_plan import MANIFEST
from tests.engine.builders import (
    bound,
    bucket,
    desired,
    live,
    managed_bucket,
    managed_media,
    media,
    state,
    video,
)
from tests.state.conftest import run_cli, special_file

CREATED = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)
KEY_ID = "LTAI5tPlanTestKey0001"
SECRET = "Pl4nT3st-SECRET-value-0123456789"


def a_plan(*, prune=True):
    kept, changed, removed = media("kept.mp4", name="kept"), media("new.mp4", title="New"), media("old.mp4")
    recorded = state(
        managed_bucket("media-in", referer="old"),
        managed_media(kept, "v1"),
        managed_media(changed, "v2", title="Old"),
        managed_media(removed, "v3"),
    )
    account = live(
        bound("media-in", "old"),
        video("v1", kept),
        video("v2", changed, title="Old"),
        video("v3", removed),
    )
    inputs = PlanInputs(
        desired(bucket("media-in", referer="new"), kept, changed, media("fresh.mp4", tags=("x",))), recorded, account
    )
    return plan_from_inputs(inputs, manifest_paths=["manifests/prod.yaml"], prune=prune, created=CREATED), inputs


def test_round_trip_is_exact(tmp_path):
    plan, _ = a_plan()
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    assert load_plan(path) == plan
    assert is_saved_plan(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not list(tmp_path.glob(".plan.json.*"))  # no temp file left behind


def test_records_what_it_was_made_against():
    plan, inputs = a_plan()
    source = plan.source
    assert source.manifest_paths == ("manifests/prod.yaml",)
    assert source.manifest_digest == "digest-1"
    assert (source.state_lineage, source.state_serial) == (inputs.state.lineage, 4)
    assert source.live_digest is not None and len(source.live_digest) == 64
    assert (source.refreshed, source.prune) == (True, True)
    assert plan.created == "2026-05-01T08:00:00Z"


async def test_contains_no_secret(tmp_path):
    app = create_app(EmulatorConfig(access_keys={KEY_ID: SECRET}, auto_objects=True, qps_scale=0))
    declared = media("a.mp4")
    media_id = app.backend.vod.register_media([RegisterItem(declared.file_url, "a")]).registered[0].media_id
    app.backend.mps.bind_input_bucket("media-in")
    recorded = state(managed_media(declared, media_id), managed_bucket("media-in"))
    settings = ClientSettings(endpoint="http://127.0.0.1:8080")
    async with CloudSession(settings, StaticCredentials(KEY_ID, SECRET), transport=emulator_transport(app)) as session:
        account = await refresh(session.client, desired(bucket("media-in")), recorded)
    plan = plan_from_inputs(
        PlanInputs(desired(bucket("media-in"), declared), recorded, account), manifest_paths=["m.yaml"], created=CREATED
    )
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    text = path.read_text()
    assert media_id in text  # the plan did see the account...
    for secret in (SECRET, KEY_ID, "127.0.0.1"):  # ...but keeps no credential or endpoint
        assert secret not in text


def test_a_plan_made_with_another_format_major_is_refused(tmp_path):
    plan, _ = a_plan()
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    document = json.loads(path.read_text())
    document["plan"]["format_version"] = "2.0"
    path.write_text(json.dumps(document))
    with pytest.raises(SavedPlanError, match=r"plan format 2 is not supported; plan again"):
        load_plan(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", r"plan.json:1:1: not a saved plan \(invalid JSON: Expecting value\)"),
        (
            '{"format_version": "1.0"}',
            r"plan.json: not a saved plan; make one with `reconcile plan PATH\.\.\. --out FILE`",
        ),
        ('{"reconcile_saved_plan": 9, "plan": {}}', r"saved plan version 9 is not supported by this reconcile"),
        (
            '{"reconcile_saved_plan": 2, "plan": {"format_version": "1.0", "changes": [{"address": 1}]}}',
            r"the saved plan is damaged \(changes\.0\.address: Input should be a valid string\); plan again",
        ),
        (  # version 1 had no digest: it cannot be told from an edited plan
            '{"reconcile_saved_plan": 1, "plan": {"format_version": "1.0"}}',
            r"plan.json: saved plan version 1 is not supported by this reconcile \(it reads version 2\); plan again "
            r"with this version$",
        ),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "plan.json"
    path.write_text(content)
    with pytest.raises(SavedPlanError, match=message):
        load_plan(path)
    assert not is_saved_plan(path) or content.startswith('{"reconcile_saved_plan"')


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path):
    with pytest.raises(SavedPlanError, match=r"nope.json: cannot read the plan file: No such file or directory"):
        load_plan(tmp_path / "nope.json")
    assert not is_saved_plan(tmp_path / "nope.json")


# Freshness


def test_a_fresh_plan_has_no_reasons():
    plan, inputs = a_plan()
    assert check_fresh(plan, inputs.desired, inputs.state, inputs.live) == []


def test_changed_manifests_make_it_stale():
    plan, inputs = a_plan()
    changed = desired(*inputs.desired.buckets, *inputs.desired.media, digest="digest-2")
    assert check_fresh(plan, changed, inputs.state, inputs.live) == ["the manifests changed since the plan was made"]


def test_a_moved_serial_makes_it_stale():
    plan, inputs = a_plan()
    moved = inputs.state.model_copy(update={"serial": 6})
    assert check_fresh(plan, inputs.desired, moved, inputs.live) == [
        "the state moved from serial 4 to 6: something was applied since the plan was made"
    ]


def test_a_replaced_state_makes_it_stale():
    plan, inputs = a_plan()
    other = inputs.state.model_copy(update={"lineage": "another-lineage"})
    assert check_fresh(plan, inputs.desired, other, inputs.live) == [
        f"the state was replaced: its lineage is another-lineage, the plan was made against {inputs.state.lineage}"
    ]
    assert check_fresh(plan, inputs.desired, None, inputs.live) == [
        f"the plan was made against state lineage {inputs.state.lineage}, but there is no state now"
    ]


def test_a_first_plan_applies_once_only():
    """Terraform #24078: a plan made on empty state must be refused once any state exists."""
    inputs = PlanInputs(desired(media("a.mp4")), None, live())
    plan = plan_from_inputs(inputs, manifest_paths=["m.yaml"], created=CREATED)
    assert plan.source.state_lineage is None
    assert check_fresh(plan, inputs.desired, None, live()) == []
    after_first_apply = state(managed_media(media("a.mp4"), "v1"), serial=1)
    assert check_fresh(plan, inputs.desired, after_first_apply, live(video("v1", media("a.mp4")))) == [
        f"the plan was made on empty state, but state now exists (lineage {after_first_apply.lineage}, serial 1): "
        "a plan made before the first apply can be applied once only",
        "the live resources the plan was made against changed (in the account, outside this plan)",
    ]


def test_a_first_plan_applies_only_to_the_state_location_it_was_made_against():
    inputs = PlanInputs(desired(media("a.mp4")), None, live(), state_location="postgresql://ci:***@db/media")
    plan = plan_from_inputs(inputs, manifest_paths=["m.yaml"], created=CREATED)
    assert plan.source.state_location == "postgresql://ci:***@db/media"
    # The same database, its password from PGPASSWORD this time: the same location.
    for same in ("postgresql://ci:***@db/media", "postgresql://ci@db/media"):
        assert check_fresh(plan, inputs.desired, None, live(), same) == []
    assert check_fresh(plan, inputs.desired, None, live(), ".reconcile/state.json") == [
        "the plan was made against the empty state at postgresql://ci:***@db/media, but this apply would record it "
        "at .reconcile/state.json: give apply the same --state and --workspace (or RECONCILE_STATE and "
        "RECONCILE_WORKSPACE) as the plan"
    ]
    # A state's lineage identifies it wherever it lives (state migrate keeps it): no location is recorded.
    existing = state(managed_media(media("a.mp4"), "v1"), serial=1)
    again = plan_from_inputs(PlanInputs(inputs.desired, existing, live(), "x"), manifest_paths=["m.yaml"])
    assert again.source.state_location is None


def test_live_changes_make_it_stale():
    plan, inputs = a_plan()
    edited = live(
        bound("media-in", "old"),
        video("v1", media("kept.mp4", name="kept"), title="edited in the console"),
        video("v2", media("new.mp4"), title="Old"),
        video("v3", media("old.mp4")),
    )
    assert check_fresh(plan, inputs.desired, inputs.state, edited) == [
        "the live resources the plan was made against changed (in the account, outside this plan)"
    ]
    assert check_fresh(plan, inputs.desired, inputs.state, None) == []  # apply without refresh skips this check


def test_a_plan_made_without_refresh_has_no_live_check():
    _, inputs = a_plan()
    plan = plan_from_inputs(PlanInputs(inputs.desired, inputs.state, None), manifest_paths=["m"], created=CREATED)
    assert (plan.source.live_digest, plan.source.refreshed) == (None, False)
    assert check_fresh(plan, inputs.desired, inputs.state, live()) == []


# Integrity: a plan edited after it was made is refused, with or without a recomputed digest


def edited(path, change, *, recompute_digest: bool) -> None:
    """Apply `change` to the saved plan's body, as someone editing the file would; optionally fix the digest."""
    document = json.loads(path.read_text())
    change(document["plan"])
    if recompute_digest:
        body = Plan.model_validate(document["plan"]).model_dump_json()
        document["sha256"] = hashlib.sha256(body.encode()).hexdigest()
    path.write_text(json.dumps(document))


def saved(tmp_path, *, prune: bool):
    plan, inputs = a_plan(prune=prune)
    path = tmp_path / "release.plan"
    save_plan(plan, path)
    return plan, inputs, path


def add_delete_of_old(body) -> None:
    body["calls"].append(
        {"action": "DeleteVideo", "region": "cn-shanghai", "addresses": ['media["media/old.mp4"]'], "replace": False}
    )


def retitle(body) -> None:
    change = next(c for c in body["changes"] if c["action"] == "update")
    change["after"]["title"] = "Hacked"


def refusal(path) -> str:
    with pytest.raises(SavedPlanError) as caught:
        load_plan(path)
    return str(caught.value)


def replan_hint(path, prune: bool) -> str:
    flags = " --prune" if prune else ""
    return f"Make a new plan with `reconcile plan manifests/prod.yaml{flags} --out {path}`, review it, then apply it"


def test_the_file_records_the_sha256_of_the_plan_body(tmp_path):
    plan, _, path = saved(tmp_path, prune=False)
    document = json.loads(path.read_text())
    assert list(document) == ["reconcile_saved_plan", "sha256", "plan"]
    assert document["reconcile_saved_plan"] == 2
    assert document["sha256"] == hashlib.sha256(plan.model_dump_json().encode()).hexdigest()


@pytest.mark.parametrize("edit", [add_delete_of_old, retitle])
def test_a_plan_changed_after_it_was_made_is_refused(tmp_path, edit):
    _, _, path = saved(tmp_path, prune=False)
    edited(path, edit, recompute_digest=False)

    assert refusal(path) == (
        f"{path}: the saved plan was changed after it was made (its sha256 does not match its content), so it is "
        f"not the plan that was reviewed. {replan_hint(path, prune=False)}"
    )


def delete_the_orphan(body) -> None:
    next(c for c in body["changes"] if c["action"] == "orphan")["action"] = "delete"
    add_delete_of_old(body)


def forget_the_orphan(body) -> None:
    next(c for c in body["changes"] if c["action"] == "orphan").update(action="no-op", state_only="remove")


def protect_the_deleted(body) -> None:
    next(c for c in body["changes"] if c["action"] == "delete")["prevent_destroy"] = True


def register_kept_again(body) -> None:
    body["calls"].insert(0, {**next(c for c in body["calls"] if c["action"] == "RegisterMedia")})
    body["calls"][0]["addresses"] = ["media.kept"]


def drop_updates(body) -> None:
    body["calls"] = [c for c in body["calls"] if c["action"] != "UpdateVideoInfos"]


@pytest.mark.parametrize(
    ("prune", "edit", "problem"),
    [
        (
            False,
            add_delete_of_old,
            'the saved plan was made without --prune, but calls DeleteVideo in cn-shanghai for media["media/old.mp4"]',
        ),
        (False, delete_the_orphan, 'the saved plan was made without --prune, but would delete media["media/old.mp4"]'),
        (
            False,
            forget_the_orphan,
            'the saved plan was made without --prune, but would drop from the state media["media/old.mp4"]',
        ),
        (
            True,
            protect_the_deleted,
            'the saved plan would delete media["media/old.mp4"], which is protected by prevent_destroy',
        ),
        (
            True,
            register_kept_again,
            "the saved plan calls RegisterMedia in cn-shanghai for media.kept, which none of its resource changes makes",
        ),
        (
            True,
            drop_updates,
            'the saved plan leaves out UpdateVideoInfos in cn-shanghai for media["media/new.mp4"], which its resource '
            "changes make",
        ),
    ],
    ids=[
        "delete-call-without-prune",
        "delete-change-without-prune",
        "state-removal-without-prune",
        "protected",
        "extra-call",
        "missing-call",
    ],
)
def test_what_its_changes_and_flags_do_not_justify_is_refused_even_with_a_recomputed_digest(
    tmp_path, prune, edit, problem
):
    plan, _, path = saved(tmp_path, prune=prune)
    assert plan.count("delete" if prune else "orphan") == 1
    edited(path, edit, recompute_digest=True)

    assert refusal(path) == f"{path}: {problem}: it was edited after it was made. {replan_hint(path, prune=prune)}"


def test_an_edited_change_with_a_recomputed_digest_is_not_what_planning_again_gives(tmp_path):
    """The digest is not a signature; planning again from the inputs apply reads anyway is what catches it."""
    _, inputs, path = saved(tmp_path, prune=False)
    edited(path, retitle, recompute_digest=True)

    forged = load_plan(path)

    assert check_fresh(forged, inputs.desired, inputs.state, inputs.live) == [
        "the plan's changes are not the ones its manifests, the state and the account make now (first: "
        'media["media/new.mp4"]): it was edited after it was made, or a ${VAR} in the manifests has another '
        "value now"
    ]


# Through `reconcile apply PLANFILE`: nothing an edited plan says is executed

cli = test_cli_plan.cli  # the CLI against an in-process emulator, as a fixture of this module too

TWO_MEDIA = (
    MANIFEST
    + """  - name: outro
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/outro.mp4
    title: Outro
"""
)


def reviewed_plan(cli) -> None:
    """A reviewed plan made without --prune: intro retitled, outro removed from the manifests (kept)."""
    cli.converge(TWO_MEDIA)
    cli.write(MANIFEST.replace("title: Intro", "title: Intro (final)"))
    assert cli.run("plan", "manifests", "--out", "release.plan").code == 0


def delete_outro(body) -> None:
    body["calls"].append(
        {"action": "DeleteVideo", "region": "cn-shanghai", "addresses": ["media.outro"], "replace": False}
    )


def test_apply_refuses_a_plan_given_a_delete_call_and_deletes_nothing(cli):
    reviewed_plan(cli)
    planning = cli.account.stats()
    path = Path("release.plan")
    edited(path, delete_outro, recompute_digest=False)
    changed = cli.run("apply", "release.plan")
    edited(path, delete_outro, recompute_digest=True)  # a second DeleteVideo, and a digest to match
    forged = cli.run("apply", "release.plan")

    assert (changed.code, changed.out) == (1, "")
    assert changed.err == (
        "error: release.plan: the saved plan was changed after it was made (its sha256 does not match its content), "
        "so it is not the plan that was reviewed. Make a new plan with `reconcile plan manifests --out "
        "release.plan`, review it, then apply it; nothing was applied\n"
    )
    assert (forged.code, forged.out) == (1, "")
    assert forged.err == (
        "error: release.plan: the saved plan was made without --prune, but calls DeleteVideo in cn-shanghai for "
        "media.outro: it was edited after it was made. Make a new plan with `reconcile plan manifests --out "
        "release.plan`, review it, then apply it; nothing was applied\n"
    )
    assert cli.account.stats() == planning  # not even a read: the file is checked before anything else


def test_apply_refuses_a_plan_whose_title_was_edited_even_with_a_recomputed_digest(cli):
    reviewed_plan(cli)
    edited(Path("release.plan"), retitle, recompute_digest=True)

    forged = cli.run("apply", "release.plan")

    assert (forged.code, forged.out) == (1, "")
    assert forged.err == (
        "error: saved plan release.plan is stale; nothing was applied:\n"
        "  - the plan's changes are not the ones its manifests, the state and the account make now (first: "
        "media.intro): it was edited after it was made, or a ${VAR} in the manifests has another value now\n"
        "Run `reconcile plan manifests --out release.plan` again, review it, then apply it.\n"
    )
    assert "UpdateVideoInfos" not in cli.account.stats()
    assert sorted(m.metadata.get("title") for m in cli.account.app.backend.vod.media()) == ["Intro", "Outro"]


# A plan path that is no regular file: a located error at once, never a hang (FIFO) or a memory blow-up (/dev/zero)


@pytest.mark.parametrize(
    ("kind", "described", "as_manifest"),
    [
        ("zero", "a character device", "is a symlink to a character device"),
        ("fifo", "a FIFO (named pipe)", "is a FIFO (named pipe)"),
    ],
)
def test_show_and_apply_refuse_a_plan_path_that_is_a_device_or_a_fifo(tmp_path, kind, described, as_manifest):
    plan_path = special_file(tmp_path, kind).name

    shown = run_cli(tmp_path, "show", plan_path)
    applied = run_cli(tmp_path, "apply", plan_path, "--auto-approve", "--refresh=false")

    assert (shown.returncode, shown.stdout) == (1, "")
    assert shown.stderr == f"error: {plan_path}: not a saved plan: it is {described}, not a regular file\n"
    assert (applied.returncode, applied.stdout) == (1, "")  # not a plan: read as a manifest path, and refused
    assert applied.stderr == (
        f"{plan_path}:1:1: {as_manifest}, not a regular file; manifests are read only from regular files (a symlink "
        "to one is fine): remove it, or name the manifest files themselves\n"
        "error: the manifests have 1 problem(s), listed above\n"
    )


def test_a_first_plan_is_refused_at_another_state_location_and_applies_at_its_own(cli):
    cli.write(MANIFEST)
    assert cli.run("plan", "manifests", "--state", "shared/state.json", "--out", "first.plan").code == 0
    planning = cli.account.stats()

    elsewhere = cli.run("apply", "first.plan")  # RECONCILE_STATE forgotten: the default local file

    assert (elsewhere.code, elsewhere.out) == (1, "")
    assert elsewhere.err == (
        "error: saved plan first.plan is stale; nothing was applied:\n"
        "  - the plan was made against the empty state at shared/state.json, but this apply would record it at "
        ".reconcile/state.json: give apply the same --state and --workspace (or RECONCILE_STATE and "
        "RECONCILE_WORKSPACE) as the plan\n"
        "Run `reconcile plan manifests --out first.plan` again, review it, then apply it.\n"
    )
    checked = cli.account.stats()
    assert checked == {**planning, "ListAllMediaBucket": planning["ListAllMediaBucket"] + 1}  # one read, no change
    assert not Path(".reconcile/state.json").exists()
    applied = cli.run("apply", "first.plan", "--state", "shared/state.json")
    assert applied.code == 0, applied.err
