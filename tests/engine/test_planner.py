"""build_plan end to end against the in-process emulator: manifests on disk → exact plan, exact calls.

Each diff rule is set up in the emulated account (and the state a converging apply would have written),
then planned through the real client; the tests assert the resource changes, the predicted calls and the
read calls refresh made.
"""

from __future__ import annotations

import pytest

from reconcile.manifest.desired import SourceLocation
from reconcile.model.media import shown
from reconcile.render.reasons import reason_text

BASE = """
region: cn-shanghai
input_buckets:
  - bucket: media-in
    referer: https://www.example.org
  - bucket: archive-in
media_defaults:
  template_group_id: VOD_NO_TRANSCODE
media:
  - name: intro
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/intro.mp4
    title: Intro
    tags: [launch, promo]
  - name: outro
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/outro.mp4
    title: Outro
    description: The end
"""


def media_manifest(count: int, *, prefix: str = "clips", extra: str = "") -> str:
    entries = "".join(
        f"  - file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/{prefix}/{i:03d}.mp4\n    title: Clip {i}\n"
        for i in range(count)
    )
    return f"region: cn-shanghai\nmedia_defaults:\n  template_group_id: VOD_NO_TRANSCODE\nmedia:\n{entries}{extra}"


def actions(plan):
    return [(c.address, c.action) for c in plan.changes]


async def converged(planner, account, text=BASE):
    planner.manifest(text)
    return account.converge(planner.desired())


async def test_cold_plan_binds_and_registers_everything(planner):
    planner.manifest(BASE)
    plan = await planner.plan(None)
    assert actions(plan) == [
        ("input_bucket.archive-in", "bind"),
        ("input_bucket.media-in", "bind"),
        ("media.intro", "register"),
        ("media.outro", "register"),
    ]
    intro = plan.changes[2]
    assert shown(intro.after) == {
        "file_url": "https://media-in.oss-cn-shanghai.aliyuncs.com/videos/intro.mp4",
        "title": "Intro",
        "tags": ["launch", "promo"],
        "template_group_id": "VOD_NO_TRANSCODE",
    }
    assert intro.location == SourceLocation(path="manifests/prod.yaml", line=10, col=5)  # its `file_url:` key
    assert reason_text(intro) == "not in state: register, or adopt if already registered"
    assert plan.call_counts() == {"BindInputBucket": 2, "RegisterMedia": 1}
    assert plan.calls[-1].addresses == ("media.intro", "media.outro")
    # Refresh: one bucket list; no media in state, so nothing to read.
    assert planner.calls() == {"ListAllMediaBucket": 1}


async def test_register_calls_are_sum_of_ceil_n_over_ten_per_group(planner):
    extra = (
        "  - file_url: https://archive.oss-cn-shanghai.aliyuncs.com/a.mp4\n    title: A\n"
        "  - file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/w.mp4\n    title: W\n    workflow_id: wf-1\n"
    )
    planner.manifest(media_manifest(23, extra=extra))
    plan = await planner.plan(None)
    assert [(c.storage_location, c.workflow_id, len(c.addresses)) for c in plan.calls] == [
        ("archive.oss-cn-shanghai.aliyuncs.com", None, 1),
        ("media-in.oss-cn-shanghai.aliyuncs.com", None, 10),
        ("media-in.oss-cn-shanghai.aliyuncs.com", None, 10),
        ("media-in.oss-cn-shanghai.aliyuncs.com", None, 3),
        ("media-in.oss-cn-shanghai.aliyuncs.com", "wf-1", 1),
    ]
    assert planner.calls() == {}  # nothing declared or managed needs a read


async def test_converged_account_plans_no_changes(planner, account):
    recorded = await converged(planner, account)
    plan = await planner.plan(recorded)
    assert {c.action for c in plan.changes} == {"no-op"}
    assert (plan.calls, plan.needs_apply, plan.warnings, plan.errors) == ((), False, (), ())
    assert planner.calls() == {"GetVideoInfos": 1, "ListAllMediaBucket": 1}


async def test_refresh_reads_the_state_media_with_searches_and_get_video_infos_side_by_side(planner, account):
    recorded = await converged(planner, account, media_manifest(120))
    plan = await planner.plan(recorded)
    assert not plan.needs_apply
    assert planner.calls() == {"SearchMedia": 1, "GetVideoInfos": 1}  # 100 ids + 20 ids
    assert account.stats() == {"SearchMedia": 1, "GetVideoInfos": 1}


async def test_referer_change_is_a_replacement(planner, account):
    recorded = await converged(planner, account)
    planner.manifest(BASE.replace("https://www.example.org", "https://cdn.example.org"))
    plan = await planner.plan(recorded)
    change = next(c for c in plan.changes if c.address == "input_bucket.media-in")
    assert (change.action, change.changed, shown(change.before), shown(change.after)) == (
        "replace",
        ("referer",),
        {"referer": "https://www.example.org"},
        {"referer": "https://cdn.example.org"},
    )
    assert [(c.action, c.addresses, c.replace) for c in plan.calls] == [
        ("UnbindInputBucket", ("input_bucket.media-in",), True),
        ("BindInputBucket", ("input_bucket.media-in",), False),
    ]


async def test_bucket_bound_as_output_is_a_plan_error(planner, account):
    account.bind_output("archive-in")
    planner.manifest(BASE)
    plan = await planner.plan(None)
    assert [(e.address, e.location) for e in plan.errors] == [
        ("input_bucket.archive-in", SourceLocation(path="manifests/prod.yaml", line=5, col=5))
    ]
    assert "as an output bucket; reconcile never unbinds it implicitly" in plan.errors[0].message
    assert all(call.addresses != ("input_bucket.archive-in",) for call in plan.calls)


async def test_unmanaged_input_buckets_are_listed(planner, account):
    recorded = await converged(planner, account)
    account.bind("legacy-uploads", "https://old.example.org")
    plan = await planner.plan(recorded)
    assert [(u.bucket, u.referer) for u in plan.unmanaged] == [("legacy-uploads", "https://old.example.org")]
    assert not plan.needs_apply


async def test_bucket_already_bound_is_adopted_without_a_call(planner, account):
    account.bind("media-in", "https://www.example.org")
    planner.manifest(BASE)
    plan = await planner.plan(None)
    change = next(c for c in plan.changes if c.address == "input_bucket.media-in")
    assert (change.action, change.state_only) == ("no-op", "put")
    assert plan.call_counts() == {"BindInputBucket": 1, "RegisterMedia": 1}


async def test_media_deleted_outside_is_registered_again(planner, account):
    recorded = await converged(planner, account)
    outro_id = next(r.remote_id for r in recorded.resources if r.address == "media.outro")
    account.delete(outro_id)
    plan = await planner.plan(recorded)
    outro = next(c for c in plan.changes if c.address == "media.outro")
    assert (outro.action, reason_text(outro)) == (
        "register",
        "gone from VOD since the last apply (deleted outside reconcile): register again",
    )
    assert plan.call_counts() == {"RegisterMedia": 1}


async def test_changed_fields_are_updated_and_drift_is_put_back(planner, account):
    recorded = await converged(planner, account)
    outro_id = next(r.remote_id for r in recorded.resources if r.address == "media.outro")
    account.edit(outro_id, title="Outro (edited in the console)")
    planner.manifest(BASE.replace("tags: [launch, promo]", "tags: [promo, launch, teaser]"))
    plan = await planner.plan(recorded)
    updates = [(c.address, c.changed, c.remote_id) for c in plan.changes if c.action == "update"]
    intro_id = next(r.remote_id for r in recorded.resources if r.address == "media.intro")
    assert updates == [("media.intro", ("tags",), intro_id), ("media.outro", ("title",), outro_id)]
    assert [(c.action, c.addresses) for c in plan.calls] == [("UpdateVideoInfos", ("media.intro", "media.outro"))]


async def test_registration_only_change_warns_and_makes_no_call(planner, account):
    recorded = await converged(planner, account)
    planner.manifest(BASE.replace("template_group_id: VOD_NO_TRANSCODE", "workflow_id: wf-transcode-hd"))
    plan = await planner.plan(recorded)
    assert plan.calls == ()
    assert [(w.address, w.message) for w in plan.warnings if w.address] == [
        (
            "media.intro",
            "template_group_id changed from 'VOD_NO_TRANSCODE' to (not set), but it only applies when a file is "
            "registered: no call is made and the registered file keeps 'VOD_NO_TRANSCODE'",
        ),
        (
            "media.intro",
            "workflow_id changed from (not set) to 'wf-transcode-hd', but it only applies when a file is registered: "
            "no call is made and the registered file keeps (not set)",
        ),
        (
            "media.outro",
            "template_group_id changed from 'VOD_NO_TRANSCODE' to (not set), but it only applies when a file is "
            "registered: no call is made and the registered file keeps 'VOD_NO_TRANSCODE'",
        ),
        (
            "media.outro",
            "workflow_id changed from (not set) to 'wf-transcode-hd', but it only applies when a file is registered: "
            "no call is made and the registered file keeps (not set)",
        ),
    ]


REMOVED = """
region: cn-shanghai
input_buckets:
  - bucket: media-in
    referer: https://www.example.org
media_defaults:
  template_group_id: VOD_NO_TRANSCODE
media:
  - name: intro
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/intro.mp4
    title: Intro
    tags: [launch, promo]
"""


async def test_removed_entries_are_orphaned_without_prune(planner, account):
    recorded = await converged(planner, account)
    planner.manifest(REMOVED)
    plan = await planner.plan(recorded)
    assert [(c.address, c.action) for c in plan.changes if c.action != "no-op"] == [
        ("input_bucket.archive-in", "orphan"),
        ("media.outro", "orphan"),
    ]
    assert plan.calls == ()
    assert [w.address for w in plan.warnings] == ["input_bucket.archive-in", "media.outro"]


async def test_prune_unbinds_and_deletes(planner, account):
    recorded = await converged(planner, account)
    planner.manifest(REMOVED)
    plan = await planner.plan(recorded, prune=True)
    assert [(c.action, c.addresses, c.phase) for c in plan.calls] == [
        ("DeleteVideo", ("media.outro",), 2),
        ("UnbindInputBucket", ("input_bucket.archive-in",), 2),
    ]
    assert plan.source.prune is True


async def test_prevent_destroy_protects_after_removal_even_with_prune(planner, account):
    protected = BASE.replace("  - bucket: archive-in\n", "  - bucket: archive-in\n    prevent_destroy: true\n")
    protected = protected.replace("    description: The end\n", "    description: The end\n    prevent_destroy: true\n")
    recorded = await converged(planner, account, protected)
    assert {r.address for r in recorded.resources if r.prevent_destroy} == {"input_bucket.archive-in", "media.outro"}
    planner.manifest(REMOVED)  # both entries removed: only the state remembers prevent_destroy
    plan = await planner.plan(recorded, prune=True)
    assert plan.calls == ()
    assert [(c.address, c.action) for c in plan.changes if c.action != "no-op"] == [
        ("input_bucket.archive-in", "orphan"),
        ("media.outro", "orphan"),
    ]


async def test_renaming_an_entry_is_a_state_move_without_a_call(planner, account):
    recorded = await converged(planner, account)
    planner.manifest(BASE.replace("name: outro", "name: closing-credits"))
    plan = await planner.plan(recorded)
    moved = [(c.address, c.moved_from, c.state_only) for c in plan.changes if c.moved_from]
    assert moved == [("media.closing-credits", "media.outro", "put")]
    assert plan.calls == ()
    assert plan.needs_apply


async def test_without_refresh_nothing_is_called_and_state_is_trusted(planner, account):
    recorded = await converged(planner, account)
    outro_id = next(r.remote_id for r in recorded.resources if r.address == "media.outro")
    account.delete(outro_id)  # invisible without refresh
    plan = await planner.plan(recorded, refresh_live=False)
    assert not plan.needs_apply
    assert (plan.source.refreshed, plan.source.live_digest) == (False, None)
    assert planner.calls() == {}


@pytest.mark.parametrize("prune", [False, True])
async def test_plan_source_names_what_it_was_made_against(planner, account, prune):
    recorded = await converged(planner, account)
    plan = await planner.plan(recorded, prune=prune)
    source = plan.source
    assert source.manifest_paths == ("manifests/prod.yaml",)
    assert source.manifest_digest == planner.desired().digest
    assert (source.state_lineage, source.state_serial, source.prune) == (recorded.lineage, 4, prune)
    assert plan.created == "2026-05-01T08:00:00Z"
