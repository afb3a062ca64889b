"""`reconcile pr-comment FILE` as a pipeline runs it: CI detected from its variables, one sticky comment per
pull request, the documented exit codes, and the token never in the output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from reconcile.cli import pr_comment
from reconcile.cli.main import main
from reconcile.render.markdown import render_plan_markdown
from tests.forge.standin import GITHUB_API, GITLAB_API, TOKEN, Comment, ForgeStandIn
from tests.render.plans import title_updates

CI_VARIABLES = ("GITHUB_ACTIONS", "GITLAB_CI", "GITHUB_TOKEN", "GITLAB_TOKEN", "GITHUB_EVENT_PATH", "CI_MERGE_REQUEST_IID",
                "RECONCILE_WORKSPACE")  # fmt: skip


@pytest.fixture(autouse=True)
def no_ci(monkeypatch):
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def github_actions(monkeypatch, tmp_path, event: dict) -> None:
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    for name, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": GITHUB_API,
        "GITHUB_REPOSITORY": "acme/media",
        "GITHUB_EVENT_NAME": "pull_request" if "pull_request" in event else "push",
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_TOKEN": TOKEN,
    }.items():
        monkeypatch.setenv(name, value)


def gitlab_merge_request(monkeypatch) -> None:
    for name, value in {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": GITLAB_API,
        "CI_PROJECT_ID": "acme/media",
        "CI_MERGE_REQUEST_IID": "12",
        "GITLAB_TOKEN": TOKEN,
    }.items():
        monkeypatch.setenv(name, value)


def serve(monkeypatch, server: ForgeStandIn) -> None:
    monkeypatch.setattr(pr_comment, "comment_transport", server.transport)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["pr-comment", *args])
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    return code, out, err


PULL_REQUEST = {"pull_request": {"number": 12, "head": {"sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"}}}


def test_two_runs_on_a_pull_request_with_120_comments_create_then_update_one_comment(monkeypatch, tmp_path, capsys):
    github_actions(monkeypatch, tmp_path, PULL_REQUEST)
    server = ForgeStandIn("github")
    server.add_others(120)
    serve(monkeypatch, server)
    plan = tmp_path / "plan.md"
    plan.write_text("### reconcile plan\n\n**Plan: 1 to register**\n")
    assert run(capsys, str(plan)) == (
        0,
        "Created the 'default' comment on acme/media#12: https://github.test/acme/media/pull/12#issuecomment-1120 "
        "(176 of 65536 characters).\n",
        "",
    )
    plan.write_text("### reconcile plan\n\n**Plan: 2 to register**\n")
    code, out, _ = run(capsys, str(plan))
    assert (code, out.split(":")[0]) == (0, "Updated the 'default' comment on acme/media#12")
    assert server.writes() == [
        ("POST", "/repos/acme/media/issues/12/comments"),
        ("PATCH", "/repos/acme/media/issues/comments/1120"),
    ]
    (ours,) = server.ours()
    assert ours.body == (
        "<!-- reconcile:pr-comment key=default -->\n"
        "<sub>reconcile · `default` · commit `a1b2c3d4e5f6` · updated in place on every run</sub>\n\n"
        "### reconcile plan\n\n**Plan: 2 to register**\n"
    )


FORGED = "<!-- reconcile:pr-comment key=default -->\nReviewed, all good: merge it."


def test_a_marked_comment_by_another_author_is_left_alone_and_reported_once(monkeypatch, tmp_path, capsys):
    github_actions(monkeypatch, tmp_path, PULL_REQUEST)
    forged = [Comment(1, FORGED, author="mallory"), Comment(2, FORGED, author="mallory"), Comment(3, FORGED, "eve")]
    server = ForgeStandIn("github", comments=forged)
    server.add_others(120)
    serve(monkeypatch, server)
    plan = tmp_path / "plan.md"
    plan.write_text("### reconcile plan\n")
    warning = (
        "Ignored the 'default' marker in comments by mallory, eve: only a comment written by github-actions[bot], "
        "whose token this run uses, is edited; theirs were left untouched.\n"
    )
    code, out, err = run(capsys, str(plan))
    assert (code, out.split(":")[0], err) == (0, "Created the 'default' comment on acme/media#12", warning)
    code, out, err = run(capsys, str(plan))
    assert (code, out.split(":")[0], err) == (0, "Updated the 'default' comment on acme/media#12", warning)
    assert server.writes() == [
        ("POST", "/repos/acme/media/issues/12/comments"),
        ("PATCH", "/repos/acme/media/issues/comments/1120"),  # ours, on page 2
    ]
    assert [(c.id, c.author, c.body) for c in server.comments[:3]] == [
        (1, "mallory", FORGED),
        (2, "mallory", FORGED),
        (3, "eve", FORGED),
    ]


def test_the_key_defaults_to_the_workspace(monkeypatch, tmp_path, capsys):
    github_actions(monkeypatch, tmp_path, PULL_REQUEST)
    monkeypatch.setenv("RECONCILE_WORKSPACE", "production")
    server = ForgeStandIn("github")
    serve(monkeypatch, server)
    (tmp_path / "plan.md").write_text("plan")
    code, out, _ = run(capsys, str(tmp_path / "plan.md"))
    assert code == 0 and out.startswith("Created the 'production' comment")
    assert server.ours()[0].body.startswith("<!-- reconcile:pr-comment key=production -->\n")


def test_a_20000_change_plan_posts_within_the_comment_limit(monkeypatch, tmp_path, capsys):
    github_actions(monkeypatch, tmp_path, PULL_REQUEST)
    server = ForgeStandIn("github")
    serve(monkeypatch, server)
    plan = tmp_path / "plan.md"
    plan.write_text(render_plan_markdown(title_updates(20_000)), encoding="utf-8")
    code, out, _ = run(capsys, str(plan))
    assert code == 0 and "(cut to fit)" not in out  # the renderer's cap leaves room for marker and header
    (ours,) = server.ours()
    assert len(ours.body) <= 65_536
    assert "_Truncated to fit a comment: " in ours.body


def test_outside_a_pull_request_it_says_so_and_exits_0(monkeypatch, tmp_path, capsys):
    github_actions(monkeypatch, tmp_path, {"ref": "refs/heads/main"})
    server = ForgeStandIn("github")
    serve(monkeypatch, server)
    (tmp_path / "plan.md").write_text("plan")
    assert run(capsys, str(tmp_path / "plan.md")) == (
        0,
        "",
        "Not in a pull request (the push event is not about a pull request): nothing posted.\n",
    )
    assert server.calls == []


def test_outside_ci_it_says_so_and_exits_0(tmp_path, capsys):
    (tmp_path / "plan.md").write_text("plan")
    assert run(capsys, str(tmp_path / "plan.md")) == (
        0,
        "",
        "Not running in GitHub Actions or GitLab CI, and no --platform given: nothing posted.\n",
    )


def test_gitlab_merge_request_pipeline(monkeypatch, tmp_path, capsys):
    gitlab_merge_request(monkeypatch)
    server = ForgeStandIn("gitlab")
    server.add_others(150)
    serve(monkeypatch, server)
    (tmp_path / "plan.md").write_text("plan")
    assert (
        run(capsys, str(tmp_path / "plan.md"))[1]
        == "Created the 'default' comment on acme/media!12 (112 of 65536 characters).\n"
    )
    assert run(capsys, str(tmp_path / "plan.md"))[1].startswith("Updated the 'default' comment on acme/media!12")
    assert [m for m, _ in server.writes()] == ["POST", "PUT"]


def test_gitlab_a_marked_note_by_another_user_is_left_alone(monkeypatch, tmp_path, capsys):
    gitlab_merge_request(monkeypatch)
    server = ForgeStandIn("gitlab", comments=[Comment(1, FORGED, author="mallory")])
    server.add_others(150)
    serve(monkeypatch, server)
    (tmp_path / "plan.md").write_text("plan")
    assert run(capsys, str(tmp_path / "plan.md"))[1:] == (
        "Created the 'default' comment on acme/media!12 (112 of 65536 characters).\n",
        "Ignored the 'default' marker in comments by mallory: only a comment written by project_278964_bot_3f1c2a9e, "
        "whose token this run uses, is edited; theirs were left untouched.\n",
    )
    assert run(capsys, str(tmp_path / "plan.md"))[1].startswith("Updated the 'default' comment on acme/media!12")
    assert [m for m, _ in server.writes()] == ["POST", "PUT"]
    assert server.comments[0] == Comment(1, FORGED, author="mallory")


def test_options_name_the_pull_request_outside_ci(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    server = ForgeStandIn("github", number=7)
    serve(monkeypatch, server)
    (tmp_path / "plan.md").write_text("plan")
    args = ["--platform", "github", "--api-url", GITHUB_API, "--repository", "acme/media", "--number", "7"]
    code, out, _ = run(capsys, str(tmp_path / "plan.md"), *args, "--key", "staging")
    assert code == 0 and out.startswith("Created the 'staging' comment on acme/media#7")


def test_errors_exit_1_and_never_show_the_token(monkeypatch, tmp_path, capsys):
    github_actions(monkeypatch, tmp_path, PULL_REQUEST)
    server = ForgeStandIn("github", token="a-different-token")  # ours is refused
    serve(monkeypatch, server)
    (tmp_path / "plan.md").write_text("plan")
    assert run(capsys, str(tmp_path / "plan.md")) == (
        1,
        "",
        "error: GitHub refused GET on acme/media#12 (401: Bad credentials): the token was refused: check GITHUB_TOKEN\n",
    )
    monkeypatch.delenv("GITHUB_TOKEN")
    assert run(capsys, str(tmp_path / "plan.md"))[2] == "error: no token to comment with: set GITHUB_TOKEN\n"
    assert run(capsys, str(tmp_path / "missing.md"))[2] == "error: " + str(tmp_path / "missing.md") + (
        ": cannot read the comment body: No such file or directory\n"
    )
    assert run(capsys, str(tmp_path / "plan.md"), "--key", "a b")[0] == 1


def test_a_network_failure_is_reported_without_the_token(monkeypatch, tmp_path, capsys):
    github_actions(monkeypatch, tmp_path, PULL_REQUEST)

    attempts = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        raise httpx.ConnectError(f"connection refused while sending {request.headers['authorization']}")

    slept: list[float] = []
    monkeypatch.setattr(pr_comment, "comment_transport", lambda: httpx.MockTransport(refuse))
    monkeypatch.setattr("reconcile.forge.comments.time.sleep", slept.append)
    (tmp_path / "plan.md").write_text("plan")
    code, _, err = run(capsys, str(tmp_path / "plan.md"))
    assert code == 1
    assert err == f"error: cannot reach GitHub at {GITHUB_API}: connection refused while sending Bearer ***\n"
    assert (len(attempts), slept) == (3, [2.0, 4.0])


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_file_that_is_not_regular_is_refused_at_once(monkeypatch, tmp_path, capsys, kind):
    github_actions(monkeypatch, tmp_path, PULL_REQUEST)
    server = ForgeStandIn("github")
    serve(monkeypatch, server)
    if kind == "fifo":
        path = tmp_path / "plan.md"
        os.mkfifo(path)  # reading it would wait for a writer for ever
        expected = "a FIFO (named pipe), not a regular file"
    else:
        path = Path("/dev/zero")  # reading it would never end
        expected = "a character device, not a regular file"
    assert run(capsys, str(path)) == (1, "", f"error: {path}: cannot read the comment body: it is {expected}\n")
    assert server.calls == []


def test_a_file_above_the_cap_is_refused_before_it_is_read(monkeypatch, tmp_path, capsys):
    github_actions(monkeypatch, tmp_path, PULL_REQUEST)
    server = ForgeStandIn("github")
    serve(monkeypatch, server)
    path = tmp_path / "plan.md"
    with path.open("wb") as file:
        file.truncate(pr_comment.MAX_BODY_FILE_BYTES + 1)  # sparse: nothing is written
    code, out, err = run(capsys, str(path))
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {path}: cannot read the comment body: it is larger than 67,108,864 bytes")
    assert server.calls == []


@pytest.mark.parametrize(
    ("api_url", "shown"),
    [
        ("http://api.github.example", "'http://api.github.example' is not an https:// URL"),
        ("http://evil.localhost:8080", "'http://evil.localhost:8080' is not an https:// URL"),
        ("ftp://api.github.example", "'ftp://api.github.example' is not an https:// URL"),
        ("https://me:hunter2@api.github.example", "the URL contains '@'"),
    ],
)
def test_the_token_is_sent_only_over_https_or_to_loopback(monkeypatch, tmp_path, capsys, api_url, shown):
    github_actions(monkeypatch, tmp_path, PULL_REQUEST)
    server = ForgeStandIn("github")
    serve(monkeypatch, server)
    (tmp_path / "plan.md").write_text("plan")
    code, out, err = run(capsys, str(tmp_path / "plan.md"), "--api-url", api_url)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: --api-url / GITHUB_API_URL: {shown}")
    assert "hunter2" not in err
    assert server.calls == []
