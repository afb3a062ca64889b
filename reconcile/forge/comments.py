"""One sticky comment per pull request and key: found by a hidden marker, created once, then edited in place.

GitHub (issue comments of a pull request):
    GET   {api}/repos/{owner}/{repo}/issues/{number}/comments?per_page=100   pages follow `Link: <...>; rel="next"`
    POST  {api}/repos/{owner}/{repo}/issues/{number}/comments                {"body": ...}
    PATCH {api}/repos/{owner}/{repo}/issues/comments/{id}                    {"body": ...}
GitLab (notes of a merge request):
    GET   {api}/projects/{id}/merge_requests/{iid}/notes?per_page=100&sort=asc&order_by=created_at
          pages follow `Link: rel="next"`, else `X-Next-Page`
    POST  {api}/projects/{id}/merge_requests/{iid}/notes                     {"body": ...}
    PUT   {api}/projects/{id}/merge_requests/{iid}/notes/{note_id}           {"body": ...}

Rate limits are waited out as each API documents: GitHub answers 403 or 429 with `retry-after` (seconds), or
with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (epoch seconds), else asks for at least a minute;
GitLab answers 429 with `Retry-After`. The clock and the sleeper are arguments, so tests never sleep. The
token goes in a header only, is never followed to another host, and is scrubbed from every message.

Only a comment written by the token's own identity is taken over: anyone may post a comment that starts with
the marker, and editing theirs would fail (403) or put the plan in a comment they can rewrite afterwards.
    GitHub: `GET {api}/user`. When it answers 200 (a personal or fine-grained token), a comment is ours when
            its `user.id` and `user.login` are the token's. The Actions GITHUB_TOKEN cannot call it (403
            "Resource not accessible by integration"): then a comment is ours only when its author is the
            Actions bot (`user.login` "github-actions[bot]" and `user.type` "Bot"), the identity that token
            writes as. (A GitHub App's installation token is refused the same way and writes as its own bot:
            its earlier comments are not recognised, so each run creates a new one.)
    GitLab: `GET {api}/user` (personal, project and group access tokens; the latter two answer with their bot
            user): a note is ours when its `author.id` is that user's id.
The identity is asked once per run, and only when a marked comment is found. Marked comments by anyone else
are never edited nor deleted; they are reported (by author) and a new comment is created when no marked
comment of ours exists.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx

from reconcile.forge.ci import CiContext

COMMENT_LIMIT = 65_536  # GitHub refuses a longer comment body; GitLab's notes take more, we post no more
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")
PAGE_SIZE = 100
MAX_ATTEMPTS = 5  # for rate limits
MAX_FAILURES = 3  # for a host that cannot be reached or answers 5xx (2 + 4 s of backoff)
MAX_WAIT = 600.0  # seconds of rate-limit waiting one run accepts in all, before it gives up
_SECONDARY_WAIT = 60.0  # GitHub: "wait at least one minute" when a rate limit gives no time
ACTIONS_BOT = "github-actions[bot]"  # the author of every comment GITHUB_TOKEN writes (`user.type` "Bot")
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')

Posted = Literal["created", "updated"]


class ForgeError(Exception):
    """A comment could not be read or written; the message says why and what to do (never the token)."""


@dataclass(frozen=True, slots=True)
class PostResult:
    action: Posted
    comment_id: int
    url: str | None
    requests: int  # HTTP requests made, retries included
    ignored: tuple[str, ...] = ()  # authors of comments with the marker that are not the token's, left alone
    owner: str = ""  # whose comments may be taken over, e.g. "github-actions[bot]" (empty: never asked)


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a comment, as the API names them (GitHub `user`, GitLab `author`)."""

    id: int | None
    login: str | None  # GitHub `login`, GitLab `username`
    type: str | None  # GitHub `type` ("User", "Bot"); GitLab: None

    @property
    def name(self) -> str:
        return self.login or (f"user id {self.id}" if self.id is not None else "an unknown author")


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """The identity whose comments this token may take over."""

    login: str
    id: int | None  # None: the GitHub Actions bot, recognised by login and type (GITHUB_TOKEN cannot ask /user)
    platform: str = "github"

    def wrote(self, author: Author) -> bool:
        if self.id is None:
            return author.login == ACTIONS_BOT and author.type == "Bot"
        if self.platform == "gitlab":
            return author.id == self.id
        return author.id == self.id and author.login == self.login


def marker(key: str) -> str:
    """The hidden first line that identifies the comment for `key` (a workspace, an environment)."""
    return f"<!-- reconcile:pr-comment key={key} -->"


def compose(key: str, body: str, *, commit: str | None = None) -> str:
    """Marker, a header line, then `body`, cut at a line boundary so the whole stays within COMMENT_LIMIT."""
    about = f" · commit `{commit[:12]}`" if commit else ""
    head = f"{marker(key)}\n<sub>reconcile · `{key}`{about} · updated in place on every run</sub>\n\n"
    room = COMMENT_LIMIT - len(head)
    if len(body) <= room:
        return head + body
    note = "\n\n_Cut to fit a comment: {} characters not shown. The full plan is in the CI job._\n"
    keep = body[: room - len(note) - 10]
    keep = keep[: keep.rfind("\n") + 1] or keep
    return head + keep + note.format(len(body) - len(keep))


class StickyComments:
    """The comments of one pull request (GitHub) or merge request (GitLab), through its REST API."""

    def __init__(
        self,
        target: CiContext,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        max_wait: float = MAX_WAIT,
    ) -> None:
        if target.number is None:
            raise ValueError("StickyComments needs a pull request number")
        if not target.token:
            raise ForgeError(f"no token to comment with: set {_token_name(target)}")
        self.target = target
        self._token = target.token
        self._sleep = sleep or time.sleep
        self._clock = clock or time.time
        self._waited = 0.0
        self._budget = max_wait
        self.requests = 0
        self._owner: TokenOwner | None = None
        origin = urlsplit(target.api_url)
        self._origin = (origin.scheme, origin.netloc)
        self._http = httpx.Client(
            headers=self._headers(), transport=transport, timeout=httpx.Timeout(30.0), follow_redirects=False
        )

    def __enter__(self) -> StickyComments:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def post(self, key: str, body: str) -> PostResult:
        """Edit our comment marked for `key` if there is one, else create it. `body` must already fit."""
        if len(body) > COMMENT_LIMIT:
            raise ValueError(f"a comment body of {len(body)} characters exceeds {COMMENT_LIMIT}")
        existing, ignored = self.find(key)
        if existing is None:
            answer = self._send("POST", self._collection_url(), body)
            action: Posted = "created"
        else:
            answer = self._send(self._edit_method(), self._item_url(existing), body)
            action = "updated"
        data = self._json(answer)
        comment_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(comment_id, int):
            raise ForgeError(f"{self._name()} answered {answer.status_code} without a comment id")
        owner = self._owner.login if self._owner is not None else ""
        return PostResult(action, comment_id, _html_url(data), self.requests, ignored, owner)

    def find(self, key: str) -> tuple[int | None, tuple[str, ...]]:
        """The id of the oldest comment that starts with `key`'s marker and was written by the token's identity,
        searching every page; and the authors of the marked comments by anyone else seen before it."""
        wanted = marker(key)
        ignored: list[str] = []
        for comment in self._all_comments():
            body = comment.get("body")
            if comment.get("system") is True or not isinstance(body, str) or not isinstance(comment.get("id"), int):
                continue
            if not body.lstrip().startswith(wanted):
                continue
            author = self._author(comment)
            if self.token_owner().wrote(author):
                found: int = comment["id"]
                return found, tuple(ignored)
            if author.name not in ignored:
                ignored.append(author.name)
        return None, tuple(ignored)

    def token_owner(self) -> TokenOwner:
        """Whose comments may be taken over: the token's user, or on GitHub the Actions bot when the token cannot
        say who it is (GITHUB_TOKEN). Asked once."""
        if self._owner is None:
            self._owner = self._ask_owner()
        return self._owner

    def _ask_owner(self) -> TokenOwner:
        github = self.target.platform == "github"
        answer = self._send("GET", f"{self.target.api_url}/user", accept=(403,) if github else ())
        if github and answer.status_code == 403:
            return TokenOwner(ACTIONS_BOT, None)  # "Resource not accessible by integration": GITHUB_TOKEN
        data = self._json(answer)
        user_id = data.get("id") if isinstance(data, dict) else None
        login = data.get("login" if github else "username") if isinstance(data, dict) else None
        if not isinstance(user_id, int) or not isinstance(login, str):
            raise ForgeError(f"{self._name()} answered {answer.status_code} to GET /user without the user's id")
        return TokenOwner(login, user_id, self.target.platform)

    def _author(self, comment: dict[str, Any]) -> Author:
        github = self.target.platform == "github"
        user = comment.get("user" if github else "author")
        if not isinstance(user, dict):
            return Author(None, None, None)
        user_id, login, kind = user.get("id"), user.get("login" if github else "username"), user.get("type")
        return Author(
            user_id if isinstance(user_id, int) else None,
            login if isinstance(login, str) else None,
            (kind if isinstance(kind, str) else "") if github else None,
        )

    # -- the two APIs -------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        common = {"User-Agent": "reconcile-pr-comment"}
        if self.target.platform == "github":
            return common | {
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self._token}",
                "X-GitHub-Api-Version": "2022-11-28",
            }
        return common | {"PRIVATE-TOKEN": self._token}

    def _collection_url(self) -> str:
        t = self.target
        if t.platform == "github":
            return f"{t.api_url}/repos/{t.project}/issues/{t.number}/comments"
        return f"{t.api_url}/projects/{quote(t.project, safe='')}/merge_requests/{t.number}/notes"

    def _item_url(self, comment_id: int) -> str:
        t = self.target
        if t.platform == "github":
            return f"{t.api_url}/repos/{t.project}/issues/comments/{comment_id}"
        return f"{self._collection_url()}/{comment_id}"

    def _edit_method(self) -> str:
        return "PATCH" if self.target.platform == "github" else "PUT"

    def _first_page(self) -> str:
        if self.target.platform == "github":
            return f"{self._collection_url()}?per_page={PAGE_SIZE}"
        return f"{self._collection_url()}?per_page={PAGE_SIZE}&sort=asc&order_by=created_at"

    def _all_comments(self) -> Iterator[dict[str, Any]]:
        url: str | None = self._first_page()
        while url is not None:
            answer = self._send("GET", url)
            page = self._json(answer)
            if not isinstance(page, list):
                raise ForgeError(f"{self._name()} answered the comment list with something else than a list")
            yield from (c for c in page if isinstance(c, dict))
            url = self._next_page(answer, url)

    def _next_page(self, answer: httpx.Response, current: str) -> str | None:
        link = _NEXT_LINK.search(answer.headers.get("link", ""))
        if link is not None:
            target = urlsplit(link[1])
            if (target.scheme, target.netloc) != self._origin:
                raise ForgeError(f"{self._name()} sent the next page to another host; not following it")
            return link[1]
        following = answer.headers.get("x-next-page", "").strip()
        if self.target.platform == "gitlab" and following.isdigit():
            base = self._first_page()
            return f"{base}&page={following}"
        return None

    # -- requests, rate limits, errors -------------------------------------------------------------------

    def _send(self, method: str, url: str, body: str | None = None, *, accept: tuple[int, ...] = ()) -> httpx.Response:
        """The answer to one request, after waiting out rate limits and retrying failures; an error status
        raises ForgeError unless it is in `accept` (and not a rate limit)."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self.requests += 1
            try:
                answer = self._http.request(method, url, json=None if body is None else {"body": body})
            except httpx.HTTPError as exc:
                if attempt >= MAX_FAILURES:
                    raise ForgeError(
                        self._scrub(f"cannot reach {self._name()} at {self.target.api_url}: {exc}")
                    ) from None
                self._wait(2.0**attempt, "unreachable")
                continue
            if answer.status_code < 400:
                return answer
            wait = self._rate_limit_wait(answer)
            if wait is None and answer.status_code in accept:
                return answer
            if wait is not None and attempt < MAX_ATTEMPTS:
                self._wait(wait, "rate limited")
                continue
            if answer.status_code in (500, 502, 503, 504) and attempt < MAX_FAILURES:
                self._wait(2.0**attempt, "server error")
                continue
            raise ForgeError(self._failure(method, answer, rate_limited=wait is not None))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _rate_limit_wait(self, answer: httpx.Response) -> float | None:
        """Seconds to wait before trying again when `answer` is a rate limit; None when it is not one."""
        status, headers = answer.status_code, answer.headers
        github = self.target.platform == "github"
        if status != 429 and not (github and status == 403):
            return None
        retry_after = headers.get("retry-after", "").strip()
        if retry_after.isdigit():
            return max(float(retry_after), 1.0)
        reset = headers.get("x-ratelimit-reset" if github else "ratelimit-reset", "").strip()
        exhausted = headers.get("x-ratelimit-remaining" if github else "ratelimit-remaining") == "0"
        if reset.isdigit() and (exhausted or status == 429):
            return max(float(reset) - self._clock(), 1.0)
        if status == 429 or "rate limit" in answer.text.lower():
            return _SECONDARY_WAIT
        return None  # a 403 that is not a rate limit: a permission problem

    def _wait(self, seconds: float, why: str) -> None:
        if self._waited + seconds > self._budget:
            ready = time.strftime("%H:%M:%S UTC", time.gmtime(self._clock() + seconds))
            raise ForgeError(
                f"{self._name()} is {why}: it asks to wait {seconds:.0f} s more (until {ready}), beyond the "
                f"{self._budget:.0f} s this run waits; nothing was posted. Re-run the job after that time."
            )
        self._waited += seconds
        self._sleep(seconds)

    def _failure(self, method: str, answer: httpx.Response, *, rate_limited: bool) -> str:
        said = self._server_message(answer)
        where = f"{self.target.review_name}"
        status = answer.status_code
        if rate_limited:
            advice = "still rate limited after retrying; re-run the job later"
        elif status == 401:
            advice = f"the token was refused: check {_token_name(self.target)}"
        elif status == 403 and self.target.platform == "github":
            advice = (
                "the token may not comment here: give the job `permissions: pull-requests: write` "
                "(a pull request from a fork only gets a read-only token)"
            )
        elif status == 403:
            advice = "the token may not comment here: use a project access token with the `api` scope (Reporter+)"
        elif status == 404:
            advice = "no such repository or pull request, or the token cannot see it: check the repository and number"
        else:
            advice = "nothing was posted"
        return self._scrub(
            f"{self._name()} refused {method} on {where} ({status}{': ' + said if said else ''}): {advice}"
        )

    def _server_message(self, answer: httpx.Response) -> str:
        try:
            data = answer.json()
        except ValueError:
            return answer.text[:200].strip()
        if isinstance(data, dict):
            message = data.get("message") or data.get("error")
            return str(message)[:200] if message else ""
        return ""

    def _json(self, answer: httpx.Response) -> Any:
        try:
            return answer.json()
        except ValueError:
            raise ForgeError(f"{self._name()} answered {answer.status_code} with something else than JSON") from None

    def _name(self) -> str:
        return "GitHub" if self.target.platform == "github" else "GitLab"

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _html_url(data: dict[str, Any]) -> str | None:
    """GitHub answers with the comment's page; GitLab's notes carry no URL."""
    url = data.get("html_url")
    return url if isinstance(url, str) else None


def _token_name(target: CiContext) -> str:
    return "GITHUB_TOKEN" if target.platform == "github" else "GITLAB_TOKEN"
