"""--target (a partial plan) and media health, planned against the in-process emulator (issue 16)."""

from __future__ import annotations

import pytest

from reconcile.engine.targeting import matches
from reconcile.render.json import plan_document
from reconcile.render.markdown import render_plan_markdown
from reconcile.render.text import render_plan_text

MANIFEST = """
region: cn-shanghai
input_buckets:
  - bucket: media-in
    referer: https://www.example.org
media:
  - name: harbor-intro
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/harbor/intro.mp4
    title: Harbor intro
  - name: harbor-outro
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/harbor/outro.mp4
    title: Harbor outro
  - name: studio
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/studio/take.mp4
    title: Studio take
"""


@pytest.mark.parametrize(
    ("address", "targets", "expected"),
    [
        ("media.harbor-intro", ["media.harbor-*"], True),
        ("media.studio", ["media.harbor-*"], False),
        ("media.harbor-intro", ["media.harbor-intr?"], True),
        ("media.harbor-intro", ["media"], True),  # a kind covers everything of it
        ('media["b/k.mp4"]', ["media"], True),
        ('media["b/k.mp4"]', ['media["b/k.mp4"]'], True),  # brackets are literal, not a character class
        ('media["b/k.mp4"]', ['media["b/*"]'], True),
        ("media.b", ['media["b/k.mp4"]'], False),
        ("input_bucket.media-in", ["input_bucket"], True),
        ("input_bucket.media-in", ["input_bucket.media"], False),  # a prefix is not a match
        ("media.harbor-intro", ["media.studio", "media.harbor-intro"], True),
    ],
)
def test_target_patterns(address, targets, expected):
    assert matches(address, targets) is expected


async def test_a_targeted_plan_covers_only_the_target_and_never_prunes_outside_it(planner, account):
    state = account.converge(planner.desired(planner.manifest(MANIFEST)))
    media_id = {r.address: r.remote_id for r in state.resources}
    account.edit(media_id["media.harbor-intro"], title="Edited outside")
    account.edit(media_id["media.studio"], title="Edited outside too")
    account.unbind("media-in")
    account.bind("media-in", "https://other.example")  # a replacement: unbind + bind
    planner.manifest(MANIFEST.replace("""  - name: harbor-outro
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/harbor/outro.mp4
    title: Harbor outro
""", ""))  # fmt: skip

    whole = await planner.plan(state, prune=True)
    assert {c.address: c.action for c in whole.changes if c.action != "no-op"} == {
        "input_bucket.media-in": "replace",
        "media.harbor-intro": "update",
        "media.harbor-outro": "delete",
        "media.studio": "update",
    }

    targeted = await planner.plan(state, prune=True, targets=["media.harbor-*"])
    assert [(c.address, c.action) for c in targeted.changes] == [
        ("media.harbor-intro", "update"),
        ("media.harbor-outro", "delete"),
    ]
    studio_only = await planner.plan(state, prune=True, targets=["media.studio", "input_bucket.media-in"])
    assert [(c.action, c.addresses, c.replace) for c in studio_only.calls] == [
        ("UnbindInputBucket", ("input_bucket.media-in",), True),
        ("BindInputBucket", ("input_bucket.media-in",), False),
        ("UpdateVideoInfos", ("media.studio",), False),
    ]  # the replacement's unbind comes with its bind; harbor-outro is not deleted
    assert studio_only.partial and studio_only.source.targets == ("media.studio", "input_bucket.media-in")
    assert studio_only.warnings[0].message == (
        "PARTIAL PLAN (--target): only the resources matching media.studio, input_bucket.media-in are planned; "
        "changes to everything else, removals included, are left out. Plan without --target to see the whole "
        "picture before relying on it"
    )

    nothing = await planner.plan(state, targets=["media.nope*"])
    assert (nothing.changes, nothing.calls) == ((), ())
    assert nothing.warnings[1].message == "--target media.nope* matches no resource in the manifests or the state"


async def test_unhealthy_media_in_every_plan_view(planner, account):
    state = account.converge(planner.desired(planner.manifest(MANIFEST)))
    media_id = {r.address: r.remote_id for r in state.resources}
    account.backend.vod.set_status(media_id["media.studio"], "TranscodeFail")
    account.backend.vod.set_status(media_id["media.harbor-outro"], "Blocked")
    account.backend.vod.set_status(media_id["media.harbor-intro"], "Transcoding")  # in progress: healthy

    plan = await planner.plan(state)
    assert not plan.needs_apply  # health is reported, never acted on
    assert [(u.address, u.status, str(u.location)) for u in plan.unhealthy] == [
        ("media.harbor-outro", "Blocked", "manifests/prod.yaml:10:5"),
        ("media.studio", "TranscodeFail", "manifests/prod.yaml:13:5"),
    ]
    studio = media_id["media.studio"]
    assert render_plan_text(plan).endswith(
        "Unhealthy media (VOD reports a failed status; reconcile makes no call for it):\n"
        f"  ! media.harbor-outro: Blocked (the media is blocked), media id {media_id['media.harbor-outro']}, "
        "declared at manifests/prod.yaml:10:5\n"
        f"  ! media.studio: TranscodeFail (transcoding failed), media id {studio}, declared at "
        "manifests/prod.yaml:13:5\n"
    )
    assert plan_document(plan)["unhealthy_media"][1] == {
        "address": "media.studio",
        "remote_id": studio,
        "status": "TranscodeFail",
        "meaning": "transcoding failed",
        "location": {"path": "manifests/prod.yaml", "line": 13, "col": 5},
    }
    assert (
        "> [!WARNING]\n> **2 unhealthy media** (VOD reports a failed status):\n"
        f"> - media.harbor-outro: Blocked (the media is blocked), media id {media_id['media.harbor-outro']}, "
        "declared at manifests/prod.yaml:10:5\n"
    ) in render_plan_markdown(plan)
    targeted = await planner.plan(state, targets=["media.studio"])
    assert [u.address for u in targeted.unhealthy] == ["media.studio"]
