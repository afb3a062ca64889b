"""The text view: colour only when asked, exact summary line, sections and diagnostics."""

from __future__ import annotations

import re

from reconcile.cloud.models import ActionStats, CallStats
from reconcile.engine.plan import Plan, PlannedCall, PlanSource, PlanWarning, ResourceChange
from reconcile.render.text import render_call_accounting, render_plan_text
from tests.render.golden import assert_golden
from tests.render.plans import mixed_plan, registrations

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_mixed_plan_matches_golden():
    assert_golden("text_mixed.txt", render_plan_text(mixed_plan()))


def test_no_colour_unless_asked():
    plan = mixed_plan()
    plain = render_plan_text(plan)
    assert "\x1b[" not in plain
    coloured = render_plan_text(plan, color=True)
    assert "\x1b[32m+\x1b[0m input_bucket.uploads" in coloured
    assert "\x1b[35m-/+\x1b[0m input_bucket.media-in" in coloured
    assert "\x1b[31m-\x1b[0m media.old" in coloured
    assert ANSI.sub("", coloured) == plain  # colour changes nothing else


def test_summary_line_counts_actions_and_calls():
    text = render_plan_text(registrations(120))
    assert text.splitlines()[-1] == (
        "Plan: 120 to register, 0 to bind, 0 to update, 0 to replace, 0 to unbind, 0 to delete — "
        "API calls: RegisterMedia×12"
    )
    assert "  RegisterMedia ×12  cn-shanghai  120 files (in media.oss-cn-shanghai.aliyuncs.com)" in text


def test_empty_plan_says_no_changes():
    assert render_plan_text(Plan()) == "No changes. The account matches the manifests.\n"


def test_no_changes_says_only_what_was_checked():
    orphan = ResourceChange(
        address="media.old", kind="media", identity="b/old.mp4", region="cn-shanghai", action="orphan"
    )
    orphans = (orphan, orphan.model_copy(update={"address": "media.older"}))
    not_read = PlanSource(refreshed=False)
    plans = [
        Plan(changes=orphans[:1]),
        Plan(changes=orphans),
        Plan(source=not_read),
        Plan(changes=orphans, source=not_read),
    ]
    assert [render_plan_text(plan) for plan in plans] == [
        "No changes: no API calls to make. 1 resource removed from the manifests is kept (see the warnings).\n",
        "No changes: no API calls to make. 2 resources removed from the manifests are kept (see the warnings).\n",
        "No changes against the state (the account was not read: --refresh=false).\n",
        "No changes against the state (the account was not read: --refresh=false). 2 resources removed from the "
        "manifests are kept (see the warnings).\n",
    ]


def test_the_call_listing_is_the_execution_order_grouping_only_consecutive_calls():
    """Apply starts each action's calls in plan.calls order, so the listing never regroups them: 11 files in
    one bucket make two calls, and a call for another bucket whose first address sorts between them runs,
    and is listed, in between."""
    here, other = "media.oss-cn-shanghai.aliyuncs.com", "other.oss-cn-shanghai.aliyuncs.com"

    def register(location: str, *names: str) -> PlannedCall:
        addresses = tuple(f"media.{name}" for name in names)
        return PlannedCall(action="RegisterMedia", region="cn-shanghai", addresses=addresses, storage_location=location)

    first = register(here, *(f"m{i:02d}" for i in range(10)))
    plan = Plan(calls=(first, register(other, "m05x"), register(here, "m10"), register(here, "m11")))

    listing = render_plan_text(plan).split("API calls apply will make, in order:\n", 1)[1].split("\n\n", 1)[0]
    assert listing.splitlines() == [
        f"  RegisterMedia ×1  cn-shanghai  10 files (in {here})",
        f"  RegisterMedia ×1  cn-shanghai  1 file (in {other})",
        f"  RegisterMedia ×2  cn-shanghai  2 files (in {here})",
    ]


def test_call_accounting():
    stats = CallStats()
    stats.actions["GetVideoInfos"] = ActionStats(calls=52, retries=2, throttled=1)
    stats.actions["ListAllMediaBucket"] = ActionStats(calls=1)
    assert render_call_accounting(stats) == (
        "API calls made while planning: 53 (GetVideoInfos×52, ListAllMediaBucket×1); 2 retries, 1 throttled"
    )
    assert render_call_accounting(CallStats(), activity="checking drift") == "API calls made while checking drift: none"


def test_a_plan_with_only_errors_is_not_no_changes():
    plan = Plan(errors=(PlanWarning(address="input_bucket.x", message="bound as an output bucket"),))
    assert render_plan_text(plan) == (
        "Plan: 0 to register, 0 to bind, 0 to update, 0 to replace, 0 to unbind, 0 to delete — API calls: none\n"
        "\n"
        "error: input_bucket.x: bound as an output bucket\n"
        "\n"
        "The plan has 1 error: apply will refuse it. Fix and plan again.\n"
    )
