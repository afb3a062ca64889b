"""The plan-time object check against the in-process emulated OSS: exact errors at manifest lines, exactly the
OSS calls the cheapest method needs, and AccessDenied as a warning naming the permission."""

from __future__ import annotations

import pytest

from reconcile.cloud.oss_client import OssClient
from reconcile.emulator.app import EmulatorApp, create_app
from reconcile.emulator.config import EmulatorConfig
from reconcile.emulator.faults import FaultRules
from reconcile.engine.plan import PlanWarning
from reconcile.manifest.desired import SourceLocation

ENDPOINT = "http://127.0.0.1:8080"
HOST = "https://media-in.oss-cn-shanghai.aliyuncs.com"


@pytest.fixture
def emulator_app() -> EmulatorApp:
    """No --auto-objects: a file exists only once it is uploaded."""
    app = create_app(EmulatorConfig(qps_scale=0, seed=11))
    app.backend.objects.create_bucket("media-in", "cn-shanghai")
    return app


def manifest(keys: list[str]) -> str:
    entries = "".join(f"  - file_url: {HOST}/{key}\n    title: {key}\n" for key in keys)
    return f"region: cn-shanghai\nmedia:\n{entries}"


def upload(app: EmulatorApp, *keys: str) -> None:
    app.backend.objects.put([f"{HOST}/{key}" for key in keys])


async def plan_checked(planner, state=None, **options):
    return await planner.plan(state, objects=OssClient(planner.session, endpoint=ENDPOINT), **options)


async def test_a_missing_file_is_an_error_at_its_manifest_line(planner, emulator_app):
    planner.manifest(manifest(["raw/ep1.mp4", "raw/ep2.mp4", "raw/ep3.mp4", "promo/trailer.mp4"]))
    upload(emulator_app, "raw/ep1.mp4", "raw/ep2.mp4", "raw/unrelated.mp4")
    plan = await plan_checked(planner)
    assert plan.errors == (
        PlanWarning(
            address='media["media-in/raw/ep3.mp4"]',
            message=f"{HOST}/raw/ep3.mp4 is not in OSS (bucket media-in, key raw/ep3.mp4): upload it first",
            location=SourceLocation(path="manifests/prod.yaml", line=7, col=5),
        ),
        PlanWarning(
            address='media["media-in/promo/trailer.mp4"]',
            message=f"{HOST}/promo/trailer.mp4 is not in OSS (bucket media-in, key promo/trailer.mp4): upload it first",
            location=SourceLocation(path="manifests/prod.yaml", line=9, col=5),
        ),
    )
    # raw/: one listing finds ep1 and ep2, ep3 is confirmed missing by HeadObject; promo/ has one file: HeadObject.
    assert planner.calls() == {"HeadObject": 2, "ListObjectsV2": 1}


async def test_a_converged_plan_makes_no_oss_call(planner, account, emulator_app):
    planner.manifest(manifest(["raw/ep1.mp4"]))
    upload(emulator_app, "raw/ep1.mp4")
    state = account.converge(planner.desired())
    plan = await plan_checked(planner, state)
    assert plan.errors == () and not plan.has_changes
    assert planner.calls() == {"GetVideoInfos": 1}


async def test_many_new_files_in_one_directory_cost_one_listing_per_thousand(planner, emulator_app):
    keys = [f"shows/ep-{i:04d}.mp4" for i in range(2500)]
    upload(emulator_app, *keys, "shows/zz-later.mp4", "shows/sub/deeper.mp4")
    planner.manifest(manifest(keys))
    plan = await plan_checked(planner)
    assert plan.errors == ()
    assert planner.calls() == {"ListObjectsV2": 3}


async def test_a_few_new_files_in_a_huge_directory_fall_back_to_head_object(planner, emulator_app):
    upload(emulator_app, *(f"big/{i:05d}.mp4" for i in range(5000)))
    planner.manifest(manifest(["big/00000.mp4", "big/04999.mp4"]))
    plan = await plan_checked(planner)
    assert plan.errors == ()
    # One page finds 00000; more pages than files left to find would be needed, so 04999 is looked up.
    assert planner.calls() == {"HeadObject": 1, "ListObjectsV2": 1}


async def test_a_bucket_that_does_not_exist_makes_its_files_missing(planner):
    planner.manifest("region: cn-shanghai\nmedia:\n  - file_url: https://nowhere.oss-cn-shanghai.aliyuncs.com/a.mp4\n"
                     "    title: A\n")  # fmt: skip
    plan = await plan_checked(planner)
    assert [e.message for e in plan.errors] == [
        "https://nowhere.oss-cn-shanghai.aliyuncs.com/a.mp4 is not in OSS (bucket nowhere, key a.mp4): upload it first"
    ]


async def test_denied_listing_falls_back_to_head_object(planner, emulator_app):
    emulator_app.gateway.faults.rules = FaultRules.from_dict(
        {"rules": [{"action": "ListObjectsV2", "error": {"status": 403, "code": "AccessDenied"}}]}
    )
    upload(emulator_app, "raw/ep1.mp4", "raw/ep2.mp4")
    planner.manifest(manifest(["raw/ep1.mp4", "raw/ep2.mp4"]))
    plan = await plan_checked(planner)
    assert plan.errors == () and plan.warnings == ()
    assert planner.calls() == {"HeadObject": 2, "ListObjectsV2": 1}


async def test_denied_head_object_is_a_warning_naming_the_permission(planner, emulator_app):
    emulator_app.gateway.faults.rules = FaultRules.from_dict(
        {"rules": [{"action": "HeadObject", "error": {"status": 403, "code": "AccessDenied"}}]}
    )
    planner.manifest(manifest(["raw/ep1.mp4"]))
    plan = await plan_checked(planner)
    assert plan.errors == ()
    assert [w.message for w in plan.warnings] == [
        "could not check that the 1 file to register from OSS bucket media-in (cn-shanghai) exist: HeadObject was "
        "denied (AccessDenied). Grant oss:GetObject (and oss:ListObjects, for fewer calls) on the bucket, or plan "
        "with --skip-object-check to not check"
    ]


async def test_without_a_lookup_nothing_is_checked(planner):
    planner.manifest(manifest(["raw/ep1.mp4"]))
    plan = await planner.plan(None)
    assert plan.errors == () and planner.calls() == {}


async def test_under_auto_objects_every_media_file_exists_even_in_a_bucket_never_created(planner, emulator_app):
    emulator_app.backend.objects.auto_objects = True
    planner.manifest("region: cn-shanghai\nmedia:\n" + "".join(
        f"  - file_url: https://never-made.oss-cn-shanghai.aliyuncs.com/raw/{i}.mp4\n    title: T{i}\n" for i in range(3)
    ))  # fmt: skip
    plan = await plan_checked(planner)
    assert plan.errors == ()
    assert planner.calls() == {"HeadObject": 3, "ListObjectsV2": 1}  # the listing: NoSuchBucket
