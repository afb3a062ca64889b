"""Saved plans: exact round trip, no secrets, clear errors for bad files, and every staleness reason."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import pytest

from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.settings import ClientSettings
from reconcile.emulator.app import create_app, emulator_transport
from reconcile.emulator.config import EmulatorConfig
from reconcile.emulator.vod import RegisterItem
from reconcile.engine.planner import PlanInputs, plan_from_inputs
from reconcile.engine.refresh import refresh
from reconcile.engine.savedplan import SavedPlanError, check_fresh, is_saved_plan, load_plan, save_plan
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
            '{"reconcile_saved_plan": 1, "plan": {"format_version": "1.0", "changes": [{"address": 1}]}}',
            r"the saved plan is damaged \(changes\.0\.address: Input should be a valid string\); plan again",
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
