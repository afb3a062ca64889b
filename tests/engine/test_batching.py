"""plan_calls: the exact calls apply will make, their grouping, batch sizes and order."""

from __future__ import annotations

from reconcile.engine.batching import plan_calls
from reconcile.engine.diff import plan_changes
from reconcile.engine.plan import PlannedCall
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

OTHER_HOST = "archive.oss-cn-shanghai.aliyuncs.com"


def calls_for(*items, recorded=None, account=None, prune=False):
    result = plan_changes(desired(*items), recorded, account if account is not None else live(), prune=prune)
    return plan_calls(result.changes)


def summary(calls: tuple[PlannedCall, ...]):
    return [
        (c.action, len(c.addresses), c.storage_location, c.template_group_id, c.workflow_id, c.replace) for c in calls
    ]


def test_register_batches_of_ten_per_storage_location_and_settings():
    items = (
        [media(f"a/{i:02d}.mp4", template_group_id="VOD_NO_TRANSCODE") for i in range(25)]
        + [media(f"b/{i:02d}.mp4", host=OTHER_HOST, template_group_id="VOD_NO_TRANSCODE") for i in range(3)]
        + [media(f"c/{i:02d}.mp4", workflow_id="wf-1") for i in range(11)]
        + [media(f"d/{i:02d}.mp4", template_group_id="VOD_NO_TRANSCODE", user_data={"k": 1}) for i in range(2)]
    )
    calls = calls_for(*items)
    # grouped by storage location, template group, workflow, user data (unset first); batches of a group together
    assert summary(calls) == [
        ("RegisterMedia", 3, OTHER_HOST, "VOD_NO_TRANSCODE", None, False),
        ("RegisterMedia", 10, "media.oss-cn-shanghai.aliyuncs.com", None, "wf-1", False),
        ("RegisterMedia", 1, "media.oss-cn-shanghai.aliyuncs.com", None, "wf-1", False),
        ("RegisterMedia", 10, "media.oss-cn-shanghai.aliyuncs.com", "VOD_NO_TRANSCODE", None, False),
        ("RegisterMedia", 10, "media.oss-cn-shanghai.aliyuncs.com", "VOD_NO_TRANSCODE", None, False),
        ("RegisterMedia", 5, "media.oss-cn-shanghai.aliyuncs.com", "VOD_NO_TRANSCODE", None, False),
        ("RegisterMedia", 2, "media.oss-cn-shanghai.aliyuncs.com", "VOD_NO_TRANSCODE", None, False),
    ]
    # Σ⌈n/10⌉ over the four groups: 1 + 2 + 3 + 1
    assert len(calls) == 7
    assert calls[3].addresses == tuple(f'media["media/a/{i:02d}.mp4"]' for i in range(10))
    assert [c.user_data for c in calls] == [None] * 6 + ['{"k":1}']


def test_register_groups_are_contiguous_whatever_their_addresses_interleave():
    # the entries' addresses alternate between two workflows: each workflow's batches still run back to back
    items = [media(f"{i:02d}.mp4", workflow_id=f"wf-{'ab'[i % 2]}") for i in range(24)]
    calls = calls_for(*items)
    assert [(c.workflow_id, len(c.addresses), c.addresses[0]) for c in calls] == [
        ("wf-a", 10, 'media["media/00.mp4"]'),
        ("wf-a", 2, 'media["media/20.mp4"]'),
        ("wf-b", 10, 'media["media/01.mp4"]'),
        ("wf-b", 2, 'media["media/21.mp4"]'),
    ]


def test_updates_and_deletes_go_twenty_per_call():
    changed = [media(f"u/{i:02d}.mp4", title="new") for i in range(41)]
    removed = [media(f"r/{i:02d}.mp4") for i in range(21)]
    recorded = state(
        *(managed_media(m, f"u{i}", title="old") for i, m in enumerate(changed)),
        *(managed_media(m, f"r{i}") for i, m in enumerate(removed)),
    )
    account = live(
        *(video(f"u{i}", m, title="old") for i, m in enumerate(changed)),
        *(video(f"r{i}", m) for i, m in enumerate(removed)),
    )
    calls = calls_for(*changed, recorded=recorded, account=account, prune=True)
    assert [(c.action, len(c.addresses), c.phase) for c in calls] == [
        ("UpdateVideoInfos", 20, 1),
        ("UpdateVideoInfos", 20, 1),
        ("UpdateVideoInfos", 1, 1),
        ("DeleteVideo", 20, 2),
        ("DeleteVideo", 1, 2),
    ]


def test_one_call_per_bucket_and_replacements_unbind_first():
    recorded = state(managed_bucket("changed", referer="old"), managed_bucket("pruned"))
    account = live(bound("changed", "old"), bound("pruned"))
    calls = calls_for(bucket("new-a"), bucket("new-b"), bucket("changed", referer="new"), recorded=recorded,
                      account=account, prune=True)  # fmt: skip
    assert [(c.action, c.addresses, c.replace, c.phase) for c in calls] == [
        ("UnbindInputBucket", ("input_bucket.changed",), True, 0),
        ("BindInputBucket", ("input_bucket.changed",), False, 1),
        ("BindInputBucket", ("input_bucket.new-a",), False, 1),
        ("BindInputBucket", ("input_bucket.new-b",), False, 1),
        ("UnbindInputBucket", ("input_bucket.pruned",), False, 2),
    ]


def test_no_calls_for_no_ops_orphans_and_state_only_changes():
    kept = media("kept.mp4")
    recorded = state(managed_media(kept, "v1"), managed_bucket("orphan"))
    assert (
        calls_for(kept, bucket("adopted"), recorded=recorded, account=live(video("v1", kept), bound("adopted"))) == ()
    )


def test_order_is_independent_of_input_order():
    items = [media(f"{i}.mp4") for i in range(30)] + [bucket("b"), bucket("a")]
    assert calls_for(*items) == calls_for(*reversed(items))
