"""What users read: plans made against the emulator, rendered as text, Markdown and JSON, compared byte for
byte with tests/golden/ (UPDATE_GOLDEN=1 regenerates them; review the diff)."""

from __future__ import annotations

from reconcile.render.json import render_plan_json
from reconcile.render.markdown import render_plan_markdown
from reconcile.render.text import render_plan_text
from tests.render.golden import assert_golden

BEFORE = """
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
  - name: teaser
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/teaser.mp4
    title: Teaser
  - name: credits
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/credits.mp4
    title: Credits
  - name: promo-2019
    file_url: https://archive-in.oss-cn-shanghai.aliyuncs.com/2019/promo.mp4
    title: Promo 2019
  - name: keepsake
    file_url: https://archive-in.oss-cn-shanghai.aliyuncs.com/2019/keepsake.mp4
    title: Keepsake
    prevent_destroy: true
  - name: hd-master
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/master.mov
    title: Master
"""

AFTER = """
region: cn-shanghai
input_buckets:
  - bucket: media-in
    referer: https://cdn.example.org
  - bucket: uploads-in
  - bucket: exports
media_defaults:
  template_group_id: VOD_NO_TRANSCODE
media:
  - name: intro
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/intro.mp4
    title: Intro
    tags: [launch, teaser]
  - name: outro
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/outro.mp4
    title: Outro
    description: The end
  - name: teaser
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/teaser.mp4
    title: Teaser
  - name: closing-credits
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/credits.mp4
    title: Credits
  - name: hd-master
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/master.mov
    title: Master
    workflow_id: wf-hd
  - name: trailer
    file_url: https://uploads-in.oss-cn-shanghai.aliyuncs.com/trailer.mp4
    title: Trailer
    cate_id: 1000012
"""


def cold_manifest(clips: int) -> str:
    entries = "".join(
        f"  - file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/clips/{i:02d}.mp4\n    title: Clip {i}\n"
        for i in range(clips)
    )
    return (
        BEFORE.split("media_defaults:", maxsplit=1)[0]
        + "media_defaults:\n  template_group_id: VOD_NO_TRANSCODE\nmedia:\n"
        + entries
    )


def all_views(name, plan):
    assert_golden(f"{name}.txt", render_plan_text(plan))
    assert_golden(f"{name}.md", render_plan_markdown(plan))


async def test_cold_plan(planner):
    planner.manifest(cold_manifest(12))
    plan = await planner.plan(None)
    assert plan.call_counts() == {"BindInputBucket": 2, "RegisterMedia": 2}
    all_views("plan_cold", plan)


async def test_converged_plan(planner, account):
    planner.manifest(BEFORE)
    plan = await planner.plan(account.converge(planner.desired()))
    all_views("plan_converged", plan)


async def test_converged_plan_with_orphans_does_not_claim_the_account_matches(planner, account):
    planner.manifest(BEFORE)
    recorded = account.converge(planner.desired())
    planner.manifest(BEFORE.split("  - name: promo-2019", maxsplit=1)[0])  # promo-2019, keepsake and hd-master go
    plan = await planner.plan(recorded)
    assert [c.address for c in plan.changes if c.action == "orphan"] == [
        "media.hd-master",
        "media.keepsake",
        "media.promo-2019",
    ]
    all_views("plan_converged_orphans", plan)


async def test_converged_plan_without_refresh_says_the_account_was_not_read(planner, account):
    planner.manifest(BEFORE)
    plan = await planner.plan(account.converge(planner.desired()), refresh_live=False)
    all_views("plan_converged_no_refresh", plan)


async def every_rule(planner, account, *, prune):
    planner.manifest(BEFORE)
    recorded = account.converge(planner.desired())
    ids = {r.address: r.remote_id for r in recorded.resources}
    account.edit(ids["media.outro"], title="Outro (edited in the console)")
    account.delete(ids["media.teaser"])
    account.bind("legacy-uploads", "https://old.example.org")
    account.bind_output("exports")
    planner.manifest(AFTER)
    return await planner.plan(recorded, prune=prune)


async def test_every_rule_with_prune(planner, account):
    plan = await every_rule(planner, account, prune=True)
    assert [(c.address, c.action, c.state_only) for c in plan.changes] == [
        ("input_bucket.archive-in", "unbind", None),
        ("input_bucket.media-in", "replace", None),
        ("input_bucket.uploads-in", "bind", None),
        ("media.closing-credits", "no-op", "put"),
        ("media.hd-master", "no-op", None),
        ("media.intro", "update", None),
        ("media.keepsake", "orphan", None),
        ("media.outro", "update", None),
        ("media.promo-2019", "delete", None),
        ("media.teaser", "register", None),
        ("media.trailer", "register", None),
    ]
    assert plan.call_counts() == {
        "UnbindInputBucket": 2,
        "BindInputBucket": 2,
        "RegisterMedia": 2,
        "UpdateVideoInfos": 1,
        "DeleteVideo": 1,
    }
    all_views("plan_every_rule", plan)
    assert_golden("plan_every_rule.json", render_plan_json(plan))


async def test_every_rule_without_prune(planner, account):
    plan = await every_rule(planner, account, prune=False)
    assert plan.call_counts() == {
        "UnbindInputBucket": 1,
        "BindInputBucket": 2,
        "RegisterMedia": 2,
        "UpdateVideoInfos": 1,
    }
    assert_golden("plan_every_rule_no_prune.txt", render_plan_text(plan))
