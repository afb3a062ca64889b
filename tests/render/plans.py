"""Plans for the view tests, built from documents directly (no emulator): small, exact, quick."""

from __future__ import annotations

import datetime as dt

from reconcile.engine.plan import ActionReason, Plan, PlannedCall, PlanSource, ResourceChange
from reconcile.engine.planner import PlanInputs, plan_from_inputs
from reconcile.manifest.desired import SourceLocation
from reconcile.model.media import MediaAttributes
from tests.engine.builders import bound, bucket, desired, live, managed_bucket, managed_media, media, state, video

CREATED = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)


def mixed_plan() -> Plan:
    """One of each: bind, register, update, replace, delete, a warning, an error and an unmanaged bucket."""
    changed, removed = media("changed.mp4", name="changed", title="New"), media("old.mp4", name="old")
    recorded = state(
        managed_bucket("media-in", referer="old"),
        managed_media(changed, "v1", title="Old"),
        managed_media(removed, "v2"),
    )
    account = live(
        bound("media-in", "old"),
        bound("stranger"),
        bound("exports", type_="Output"),
        video("v1", changed, title="Old"),
        video("v2", removed),
    )
    declared = desired(
        bucket("media-in", referer="new"),
        bucket("uploads"),
        bucket("exports"),
        changed,
        media("fresh.mp4", name="fresh", tags=("a", "b")),
    )
    return plan_from_inputs(
        PlanInputs(declared, recorded, account), manifest_paths=["m.yaml"], prune=True, created=CREATED
    )


def registrations(n: int) -> Plan:
    declared = desired(*(media(f"bulk/{i:05d}.mp4", title=f"Clip {i}") for i in range(n)))
    return plan_from_inputs(PlanInputs(declared, None, live()), manifest_paths=["m.yaml"], created=CREATED)


def deletions(n: int) -> Plan:
    removed = [media(f"old/{i:05d}.mp4") for i in range(n)]
    recorded = state(*(managed_media(m, f"id{i:05d}") for i, m in enumerate(removed)))
    account = live(*(video(f"id{i:05d}", m) for i, m in enumerate(removed)))
    return plan_from_inputs(
        PlanInputs(desired(), recorded, account), manifest_paths=["m.yaml"], prune=True, created=CREATED
    )


def clip_url(i: int) -> str:
    return f"https://media.oss-cn-shanghai.aliyuncs.com/clips/{i:05d}.mp4"


def title_updates(n: int) -> Plan:
    """`n` videos whose title changed in the manifests, as the planner words them (built directly: the planner
    takes seconds for 20,000 resources, and the views only read the Plan)."""
    changes = tuple(
        ResourceChange(
            address=f"media.clip-{i:05d}",
            kind="media",
            identity=f"media/clips/{i:05d}.mp4",
            region="cn-shanghai",
            action="update",
            before=MediaAttributes(file_url=clip_url(i), title=f"Clip {i}"),
            after=MediaAttributes(file_url=clip_url(i), title=f"Clip {i} (final cut)"),
            changed=("title",),
            reason="title changed in the manifests: UpdateVideoInfos sends only the changed fields",
            reason_code=ActionReason.CHANGED,
            remote_id=f"id{i:05d}",
            location=SourceLocation(path="manifests/clips.yaml", line=3 + 2 * i, col=5),
        )
        for i in range(n)
    )
    calls = tuple(
        PlannedCall(
            action="UpdateVideoInfos", region="cn-shanghai", addresses=tuple(c.address for c in changes[i : i + 20])
        )
        for i in range(0, n, 20)
    )
    return Plan(
        changes=changes, calls=calls, source=PlanSource(manifest_paths=("manifests",)), created=CREATED.isoformat()
    )
