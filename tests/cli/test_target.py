"""`plan --target` / `apply --target` through main([...]): saved plans remember their targets (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_plan import MANIFEST, cli  # noqa: F401 - the fixture

TWO = (
    MANIFEST
    + """  - name: outro
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/outro.mp4
    title: Outro
"""
)


def test_a_saved_targeted_plan_remembers_its_targets(cli):  # noqa: F811
    cli.write(TWO)
    planned = cli.run("plan", "manifests", "--target", "media.outro", "--out", "outro.plan")
    assert planned.code == 0
    assert planned.out.startswith(
        "WARNING: PARTIAL PLAN: only resources matching --target media.outro. Everything else, removals included, "
        "is left out.\n"
    )
    saved = json.loads(Path("outro.plan").read_text())["plan"]
    assert saved["source"]["targets"] == ["media.outro"]
    shown = cli.run("show", "outro.plan")
    assert shown.out.startswith("WARNING: PARTIAL PLAN: only resources matching --target media.outro.")

    refused = cli.run("apply", "outro.plan", "--target", "media.intro")
    assert (refused.code, refused.err) == (
        1,
        "error: outro.plan is a saved plan: --prune, --refresh, --target and the object check were fixed when it was made; plan again "
        "to change them\n",
    )
    applied = cli.run("apply", "outro.plan")
    assert applied.code == 0, applied.err
    assert cli.account.stats()["RegisterMedia"] == 1  # outro only: intro and the bucket were not in the target
    left = cli.run("plan", "manifests", "--format", "json")
    assert sorted(c["address"] for c in json.loads(left.out)["resource_changes"] if c["action"] != "no-op") == [
        "input_bucket.media-in",
        "media.intro",
    ]


def test_a_stale_targeted_plan_names_the_plan_command_with_its_targets(cli):  # noqa: F811
    cli.write(TWO)
    assert cli.run("plan", "manifests", "--target", "media.outro", "--out", "outro.plan").code == 0
    cli.write(TWO.replace("title: Outro", "title: Outro 2"))
    stale = cli.run("apply", "outro.plan")
    assert stale.code == 1
    assert "Run `reconcile plan manifests --target media.outro --out outro.plan` again" in stale.err


def test_apply_with_target_applies_only_the_target(cli):  # noqa: F811
    cli.write(TWO)
    applied = cli.run("apply", "manifests", "--auto-approve", "--target", "input_bucket.*")
    assert applied.code == 0, applied.err
    assert cli.account.stats() == {"BindInputBucket": 1, "ListAllMediaBucket": 1}


def test_a_converged_targeted_plan_claims_only_the_target(cli):  # noqa: F811
    cli.converge(TWO)
    result = cli.run("plan", "manifests", "--target", "media.intro", "--detailed-exitcode")
    assert result.code == 0
    assert "No changes to the resources matching --target: no API calls to make.\n" in result.out
    assert "The account matches the manifests" not in result.out
