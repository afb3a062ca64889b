"""`reconcile plan` / `apply` with the real CLI and a real emulator: a declared file nobody uploaded stops the plan
at its manifest line, before any change; `--skip-object-check` and AccessDenied behave as documented."""

from __future__ import annotations

from tests.e2e.conftest import Workspace, oss_url

APPLY = ("apply", "manifests/", "--auto-approve")


def test_plan_stops_on_a_file_that_is_not_in_oss_at_its_manifest_line(ws: Workspace) -> None:
    media = [{"file_url": oss_url("raw-a", f"v/ep{i}.mp4"), "title": f"Ep {i}"} for i in range(1, 4)]
    ws.manifest(media=media, put_objects=False)
    ws.control.put_objects([media[0]["file_url"], media[1]["file_url"]])
    missing = str(media[2]["file_url"])

    plan = ws.reconcile("plan", "manifests/")
    assert plan.code == 1
    assert (
        f'{ws.location_of(missing)}: error: media["raw-a/v/ep3.mp4"]: {missing} is not in OSS (bucket raw-a, key '
        "v/ep3.mp4): upload it first"
    ) in plan.out
    assert "API calls made while planning: 2 (HeadObject×1, ListObjectsV2×1); 0 retries, 0 throttled" in plan.out
    assert "error: the plan has 1 error(s), listed above; fix them and plan again" in plan.err

    applied = ws.reconcile(*APPLY)
    assert applied.code == 1 and "nothing was applied" in applied.err
    assert ws.media() == {} and ws.successes().get("RegisterMedia") is None

    ws.control.put_objects([missing])
    assert ws.reconcile(*APPLY).code == 0
    assert len(ws.media()) == 3


def test_skip_object_check_makes_no_oss_call(ws: Workspace) -> None:
    ws.manifest(media=[{"file_url": oss_url("raw-a", "v/ep1.mp4"), "title": "Ep 1"}], put_objects=False)
    plan = ws.reconcile("plan", "manifests/", "--skip-object-check", "--detailed-exitcode")
    assert plan.code == 2
    assert "API calls made while planning: none" in plan.out  # no input bucket, no state: nothing else to read


def test_access_denied_is_a_warning_that_names_the_permission(ws: Workspace) -> None:
    ws.manifest(media=[{"file_url": oss_url("raw-a", "v/ep1.mp4"), "title": "Ep 1"}])
    ws.control.set_faults({"rules": [{"action": "HeadObject", "error": {"status": 403, "code": "AccessDenied"}}]})
    plan = ws.reconcile("plan", "manifests/", "--detailed-exitcode")
    assert plan.code == 2
    assert (
        "warning: could not check that the 1 file to register from OSS bucket raw-a (cn-shanghai) exist: HeadObject "
        "was denied (AccessDenied). Grant oss:GetObject"
    ) in plan.out


def test_a_saved_plan_was_checked_when_it_was_made(ws: Workspace) -> None:
    ws.manifest(media=[{"file_url": oss_url("raw-a", "v/ep1.mp4"), "title": "Ep 1"}])
    assert ws.reconcile("plan", "manifests/", "--out", "release.plan").code == 0
    refused = ws.reconcile("apply", "release.plan", "--skip-object-check")
    assert refused.code == 1
    assert (
        "release.plan is a saved plan: --prune, --refresh, --target and the object check were fixed when it was made"
        in (refused.err)
    )
    applied = ws.reconcile("apply", "release.plan")
    assert applied.code == 0 and "HeadObject" not in applied.out  # no second check
