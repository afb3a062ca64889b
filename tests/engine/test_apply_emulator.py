"""plan → apply → plan through the real client and the in-process emulator, on virtual time.

Virtual time lets the pacing be measured exactly: a long apply must run at the account's QPS ceiling,
with MPS work hidden behind VOD work rather than added to it.
"""

from __future__ import annotations

import pytest

from reconcile.engine.apply import apply_plan
from reconcile.state import open_store


def bulk_manifest(buckets: int, media: int) -> str:
    lines = ["region: cn-shanghai", "input_buckets:"]
    lines += [f"  - bucket: in-{i:03d}" for i in range(buckets)]
    lines += ["media:"]
    lines += [
        f"  - {{file_url: 'https://raw-{i % 3}.oss-cn-shanghai.aliyuncs.com/v/{i:05d}.mp4', title: 'V {i}'}}"
        for i in range(media)
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def store(tmp_path):
    return open_store(str(tmp_path / "state.json"))


async def test_a_cold_apply_runs_at_the_qps_ceiling_with_exactly_the_planned_calls(
    planner, account, cloud_session, virtual_clock, store
):
    planner.manifest(bulk_manifest(buckets=50, media=600))
    plan = await planner.plan(None)
    assert plan.call_counts() == {"BindInputBucket": 50, "RegisterMedia": 60}  # 3 OSS buckets x ⌈200/10⌉
    started = virtual_clock.monotonic()

    result = await apply_plan(plan, cloud_session.client, store, qps=cloud_session.settings.qps_limit)

    elapsed = virtual_clock.monotonic() - started
    floor = 60 / 50  # RegisterMedia at 50 per second; the 50 binds (100/s) run alongside, not after
    assert result.ok and result.calls_match
    assert floor <= elapsed <= floor * 1.05
    assert account.stats() == {"ListAllMediaBucket": 1, "BindInputBucket": 50, "RegisterMedia": 60}  # 1 plan read
    assert cloud_session.stats.of("RegisterMedia").throttled == 0
    doc = store.read()
    assert doc is not None and len(doc.resources) == 650
    assert doc.serial == result.serial

    replan = await planner.plan(doc)
    assert not replan.needs_apply


async def test_a_prune_deletes_after_everything_else_and_the_state_forgets_it(planner, account, cloud_session, store):
    planner.manifest(bulk_manifest(buckets=1, media=3))
    await apply_plan(await planner.plan(None), cloud_session.client, store)
    planner.manifest(bulk_manifest(buckets=0, media=2).replace("input_buckets:\n", ""))

    plan = await planner.plan(store.read(), prune=True)
    result = await apply_plan(plan, cloud_session.client, store)

    assert [c.action for c in plan.calls] == ["DeleteVideo", "UnbindInputBucket"]
    assert result.ok
    doc = store.read()
    assert doc is not None
    assert sorted(r.address for r in doc.resources) == [
        'media["raw-0/v/00000.mp4"]',
        'media["raw-1/v/00001.mp4"]',
    ]
    assert not (await planner.plan(doc, prune=True)).needs_apply
