"""The JSON view: a versioned contract with Terraform-style action lists and stable ordering."""

from __future__ import annotations

import json

from reconcile import __version__
from reconcile.engine.plan import PLAN_FORMAT_VERSION
from reconcile.render.json import plan_document, render_plan_json
from tests.render.golden import assert_golden
from tests.render.plans import mixed_plan


def test_mixed_plan_matches_golden():
    assert_golden("json_mixed.json", render_plan_json(mixed_plan()))


def test_top_level_contract():
    document = json.loads(render_plan_json(mixed_plan()))
    assert list(document) == [
        "format_version",
        "reconcile_version",
        "created",
        "applyable",
        "has_changes",
        "source",
        "summary",
        "call_counts",
        "resource_changes",
        "calls",
        "warnings",
        "errors",
        "unmanaged_input_buckets",
        "unhealthy_media",
        "partial",
    ]
    assert (document["format_version"], document["reconcile_version"]) == (PLAN_FORMAT_VERSION, __version__)
    assert (document["applyable"], document["has_changes"]) == (False, True)
    assert document["summary"] == {
        "register": 1,
        "bind": 1,
        "update": 1,
        "replace": 1,
        "unbind": 0,
        "delete": 1,
        "orphan": 0,
        "no-op": 0,
        "state_only": 0,
    }


def test_actions_are_terraform_style_lists():
    changes = {c["address"]: c for c in plan_document(mixed_plan())["resource_changes"]}
    assert {a: c["change"]["actions"] for a, c in changes.items()} == {
        "input_bucket.media-in": ["delete", "create"],
        "input_bucket.uploads": ["create"],
        "media.changed": ["update"],
        "media.fresh": ["create"],
        "media.old": ["delete"],
    }
    assert changes["media.changed"]["change"]["changed"] == ["title"]
    assert changes["media.fresh"]["location"] == {"path": "manifests/prod.yaml", "line": 10, "col": 7}


def test_ordering_is_stable():
    plan = mixed_plan()
    addresses = [c["address"] for c in plan_document(plan)["resource_changes"]]
    assert addresses == sorted(addresses)
    assert render_plan_json(plan) == render_plan_json(plan.model_copy())
    calls = plan_document(plan)["calls"]
    assert [c["phase"] for c in calls] == sorted(c["phase"] for c in calls)
    # attributes in canonical field order whatever order they were recorded in
    after = plan_document(plan)["resource_changes"][3]["change"]["after"]
    assert list(after) == ["file_url", "title", "tags"]
