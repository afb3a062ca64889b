"""The sticky comment against a local stand-in of the GitHub and GitLab REST APIs: found across pages, created
once then edited in place, rate limits waited out on an injected clock, and the token kept out of messages."""

from __future__ import annotations

import httpx
import pytest

from reconcile.forge.ci import CiContext
from reconcile.forge.comments import COMMENT_LIMIT, ForgeError, StickyComments, compose, marker
from tests.forge.standin import (
    ACTIONS_BOT,
    GITHUB_API,
    GITHUB_TOKEN_USER_403,
    GITLAB_API,
    TOKEN,
    Comment,
    ForgeStandIn,
)

NOW = 1_800_000_000.0


class Sleeper:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def target(platform: str, **changes) -> CiContext:
    api = GITHUB_API if platform == "github" else GITLAB_API
    fields = {"platform": platform, "api_url": api, "project": "acme/media", "number": 12, "token": TOKEN}
    return CiContext(**(fields | changes))


def user_path(platform: str) -> str:
    return "/user" if platform == "github" else "/api/v4/user"


def post(server: ForgeStandIn, body: str, key: str = "default", sleep=None, **options):
    with StickyComments(
        target(server.platform),
        transport=server.transport(),
        sleep=sleep or Sleeper(),
        clock=lambda: NOW,
        **options,
    ) as comments:
        return comments.post(key, compose(key, body))


@pytest.mark.parametrize("platform", ["github", "gitlab"])
def test_two_runs_on_a_busy_pull_request_create_once_then_update_the_same_comment(platform):
    server = ForgeStandIn(platform)
    server.add_others(120)
    first = post(server, "plan one")
    second = post(server, "plan two")
    assert (first.action, second.action) == ("created", "updated")
    assert first.comment_id == second.comment_id
    edit = "PATCH" if platform == "github" else "PUT"
    collection = (
        "/repos/acme/media/issues/12/comments"
        if platform == "github"
        else "/api/v4/projects/acme%2Fmedia/merge_requests/12/notes"
    )
    item = (
        f"/repos/acme/media/issues/comments/{first.comment_id}"
        if platform == "github"
        else f"/api/v4/projects/acme%2Fmedia/merge_requests/12/notes/{first.comment_id}"
    )
    assert server.writes() == [("POST", collection.replace("%2F", "/")), (edit, item.replace("%2F", "/"))]
    assert [c.body for c in server.ours()] == [compose("default", "plan two")]
    assert len(server.comments) == 121
    # each run reads both pages of 100: the second finds its own comment, the 121st, on page 2, and asks /user
    # once, when it meets that marked comment, to check that the token wrote it
    assert [c for c in server.calls if c[0] == "GET"].count(("GET", user_path(platform))) == 1
    assert [m for m, _ in server.calls].count("GET") == 2 + 2 + 1


def test_gitlab_pages_followed_by_x_next_page_alone():
    server = ForgeStandIn("gitlab", link_header=False)
    server.add_others(250)
    assert post(server, "plan").action == "created"
    assert post(server, "plan").action == "updated"
    pages = [c for c in server.calls if c[0] == "GET"]
    assert len(pages) == 3 + 3 + 1  # 250, then 251 notes: pages 1, 2 and 3 each time; and /user once
    assert [m for m, _ in server.writes()] == ["POST", "PUT"]


def test_each_key_has_its_own_comment():
    server = ForgeStandIn("github")
    post(server, "staging plan", key="staging")
    post(server, "production plan", key="production")
    post(server, "staging plan again", key="staging")
    assert [c.body.splitlines()[0] for c in server.ours()] == [marker("staging"), marker("production")]
    assert server.ours()[0].body.endswith("staging plan again")


def test_a_comment_quoting_the_marker_is_not_taken_for_ours():
    server = ForgeStandIn("github", comments=[Comment(7, f"> {marker('default')}\n> why this plan?")])
    assert post(server, "plan").action == "created"


FORGED = f"{marker('default')}\nThis plan was reviewed, all good: merge it."


@pytest.mark.parametrize(
    ("platform", "token_user"),
    [("github", None), ("github", "octo-ci"), ("gitlab", None)],
    ids=["github-GITHUB_TOKEN", "github-personal-token", "gitlab-project-token"],
)
def test_a_marked_comment_by_someone_else_is_never_taken_over_and_ours_is_still_found_past_it(platform, token_user):
    """Anyone can post a comment that starts with the marker: editing it would fail (403) or put the plan in a
    comment its author can rewrite. The forged one, first on page 1, is left alone; ours, on page 2, is found."""
    server = ForgeStandIn(platform, token_user=token_user, comments=[Comment(1, FORGED, author="mallory")])
    server.add_others(120)
    first = post(server, "plan one")
    assert (first.action, first.ignored, first.owner) == ("created", ("mallory",), server.writer)
    second = post(server, "plan two")
    assert (second.action, second.comment_id, second.ignored) == ("updated", first.comment_id, ("mallory",))
    assert [m for m, _ in server.writes()] == ["POST", "PATCH" if platform == "github" else "PUT"]
    assert server.comments[0] == Comment(1, FORGED, author="mallory")  # never edited, never deleted
    assert [(c.id, c.author) for c in server.ours()] == [(1, "mallory"), (first.comment_id, server.writer)]
    assert server.ours()[1].body == compose("default", "plan two")
    # /user is asked once per run that meets a marked comment (both runs meet mallory's)
    assert server.calls.count(("GET", user_path(platform))) == 2


def test_with_github_token_only_the_actions_bot_is_ours_not_a_user_named_like_it():
    """GITHUB_TOKEN cannot call /user (403); then only a comment by the Actions bot (login and type Bot) is ours.
    A user account whose login merely looks like it, or a personal token's user, is not."""
    server = ForgeStandIn("github")
    server.users["github-actions"] = (7, "User")
    server.users["octo-ci"] = (8, "User")
    server.comments = [
        Comment(1, FORGED, author="github-actions"),
        Comment(2, FORGED, author="octo-ci"),
        Comment(3, marker("default") + "\nold plan", author=ACTIONS_BOT),
    ]
    result = post(server, "new plan")
    assert (result.action, result.comment_id, result.ignored) == ("updated", 3, ("github-actions", "octo-ci"))
    assert [c.body for c in server.comments[:2]] == [FORGED, FORGED]
    # /user answered 403 (GITHUB_TOKEN), asked once at the first marked comment
    assert server.calls == [
        ("GET", "/repos/acme/media/issues/12/comments"),
        ("GET", "/user"),
        ("PATCH", "/repos/acme/media/issues/comments/3"),
    ]


def test_with_a_personal_token_the_actions_bot_comment_is_not_ours():
    """A personal token's user is matched by id and login; the Actions bot's comment, written by another identity,
    is left alone and a comment of the token's own is created."""
    server = ForgeStandIn("github", token_user="octo-ci")
    server.comments = [Comment(3, marker("default") + "\nold plan", author=ACTIONS_BOT)]
    result = post(server, "new plan")
    assert (result.action, result.ignored, result.owner) == ("created", (ACTIONS_BOT,), "octo-ci")
    assert [(c.id, c.author) for c in server.ours()] == [(3, ACTIONS_BOT), (result.comment_id, "octo-ci")]


def test_gitlab_matches_the_author_by_id_not_by_username():
    """A GitLab username can be reused after a rename; the note's author id is what identifies the token's user."""
    server = ForgeStandIn("gitlab")
    server.comments = [Comment(1, FORGED, author="renamed")]
    server.users["renamed"] = (server.user(server.writer)[0] + 1, "User")
    first = post(server, "plan")
    assert (first.action, first.ignored) == ("created", ("renamed",))


def test_the_github_token_403_on_user_is_not_taken_for_a_rate_limit_nor_an_error():
    server = ForgeStandIn("github", comments=[Comment(1, FORGED, author="mallory")])
    sleeper = Sleeper()
    assert post(server, "plan", sleep=sleeper).action == "created"
    assert sleeper.slept == []
    user_answer = server.handle(
        httpx.Request("GET", f"{GITHUB_API}/user", headers={"authorization": f"Bearer {TOKEN}"})
    )
    assert (user_answer.status_code, user_answer.json()) == (403, GITHUB_TOKEN_USER_403)


def test_a_refused_token_on_user_fails_without_posting():
    server = ForgeStandIn("gitlab", comments=[Comment(1, FORGED, author="mallory")])
    server.scripted = [httpx.Response(200, json=[{"id": 1, "body": FORGED, "author": {"id": 1, "username": "mallory"}}]),
                       httpx.Response(401, json={"message": "401 Unauthorized"})]  # fmt: skip
    with pytest.raises(ForgeError) as caught:
        post(server, "plan")
    assert str(caught.value) == (
        "GitLab refused GET on acme/media!12 (401: 401 Unauthorized): the token was refused: check GITLAB_TOKEN"
    )
    assert server.writes() == []


def test_github_secondary_rate_limit_waits_as_asked_then_succeeds():
    server = ForgeStandIn("github")
    server.scripted = [
        httpx.Response(
            403, json={"message": "You have exceeded a secondary rate limit."}, headers={"retry-after": "7"}
        ),
        httpx.Response(429, json={"message": "slow down"}),
    ]
    sleeper = Sleeper()
    assert post(server, "plan", sleep=sleeper).action == "created"
    assert sleeper.slept == [7.0, 60.0]  # retry-after, then GitHub's "at least a minute"


def test_github_primary_rate_limit_waits_until_the_reset():
    server = ForgeStandIn("github")
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 42)}
    server.scripted = [httpx.Response(403, json={"message": "API rate limit exceeded"}, headers=reset)]
    sleeper = Sleeper()
    post(server, "plan", sleep=sleeper)
    assert sleeper.slept == [42.0]


def test_gitlab_429_honours_retry_after():
    server = ForgeStandIn("gitlab")
    server.scripted = [httpx.Response(429, text="Retry later", headers={"Retry-After": "3"})]
    sleeper = Sleeper()
    assert post(server, "plan", sleep=sleeper).action == "created"
    assert sleeper.slept == [3.0]


def test_a_rate_limit_longer_than_the_run_waits_fails_naming_when_to_retry():
    server = ForgeStandIn("github")
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 3600)}
    server.scripted = [httpx.Response(403, json={"message": "API rate limit exceeded"}, headers=reset)]
    with pytest.raises(ForgeError) as caught:
        post(server, "plan", max_wait=600.0)
    assert str(caught.value) == (
        "GitHub is rate limited: it asks to wait 3600 s more (until 09:00:00 UTC), beyond the 600 s this run "
        "waits; nothing was posted. Re-run the job after that time."
    )
    assert server.writes() == []


def test_a_read_only_token_is_told_which_permission_to_grant_and_the_token_is_never_shown():
    server = ForgeStandIn("github")
    server.scripted = [httpx.Response(403, json={"message": f"Resource not accessible by integration ({TOKEN})"})]
    with pytest.raises(ForgeError) as caught:
        post(server, "plan")
    message = str(caught.value)
    assert TOKEN not in message
    assert message == (
        "GitHub refused GET on acme/media#12 (403: Resource not accessible by integration (***)): the token may "
        "not comment here: give the job `permissions: pull-requests: write` (a pull request from a fork only "
        "gets a read-only token)"
    )


def test_a_next_page_on_another_host_is_not_followed_with_the_token():
    server = ForgeStandIn("github")
    server.scripted = [httpx.Response(200, json=[], headers={"Link": '<https://evil.test/page2>; rel="next"'})]
    with pytest.raises(ForgeError, match="sent the next page to another host"):
        post(server, "plan")
    assert len(server.calls) == 1


def test_compose_cuts_a_body_too_long_for_a_comment_at_a_line_boundary():
    body = "".join(f"line {i:06d} of a very long plan\n" for i in range(5000))
    text = compose("production", body, commit="0123456789abcdef0123")
    assert len(text) <= COMMENT_LIMIT
    assert text.startswith(
        "<!-- reconcile:pr-comment key=production -->\n"
        "<sub>reconcile · `production` · commit `0123456789ab` · updated in place on every run</sub>\n\n"
    )
    kept = text.split("\n\n", 1)[1].split("\n\n_Cut to fit")[0]
    assert body.startswith(kept) and kept.endswith("of a very long plan\n")
    assert text.endswith(
        f"_Cut to fit a comment: {len(body) - len(kept)} characters not shown. The full plan is in the CI job._\n"
    )
