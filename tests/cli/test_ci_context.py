"""`plan --format markdown` in CI: manifest lines link to the commit being planned, the truncation note to the job."""

from __future__ import annotations

import json

from reconcile.cli.ci_context import markdown_links
from reconcile.forge.ci import detect
from reconcile.manifest.desired import SourceLocation


def test_github_pull_request_links_to_the_head_commit_from_a_subdirectory(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 3, "head": {"sha": "feedbeef"}}}))
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/media",
        "GITHUB_SHA": "merge-commit",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_RUN_ID": "99",
    }
    context = detect(env)
    assert context is not None and context.number == 3
    assert context.job_url == "https://github.com/acme/media/actions/runs/99"
    links = markdown_links(context, cwd=str(tmp_path / "infra"))
    assert links is not None
    assert links.url(SourceLocation(path="prod.yaml", line=4, col=1)) == (
        "https://github.com/acme/media/blob/feedbeef/infra/prod.yaml#L4"
    )
    assert markdown_links(context, cwd="/elsewhere") is None


def test_gitlab_merge_request_links_to_the_source_branch_commit():
    env = {
        "GITLAB_CI": "true",
        "CI_PROJECT_URL": "https://gitlab.example.com/acme/media",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": "c0ffee",
        "CI_COMMIT_SHA": "merged-result",
        "CI_PROJECT_DIR": "/builds/acme/media",
        "CI_JOB_URL": "https://gitlab.example.com/acme/media/-/jobs/5",
        "CI_PROJECT_ID": "17",
    }
    context = detect(env)
    assert context is not None and context.number is None
    assert context.not_in_review == "this pipeline is not a merge request pipeline"
    links = markdown_links(context, cwd="/builds/acme/media")
    assert links is not None
    assert links.url(SourceLocation(path="m/prod.yaml", line=8, col=3)) == (
        "https://gitlab.example.com/acme/media/-/blob/c0ffee/m/prod.yaml#L8"
    )


def test_outside_ci_there_are_no_links():
    assert detect({}) is None
    assert markdown_links(None) is None
