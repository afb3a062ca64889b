"""A local stand-in for the two forge APIs `reconcile pr-comment` talks to, following their REST shapes.

GitHub issue comments: GET (per_page, page; `Link` rel="next"/"last"), POST, PATCH /issues/comments/{id}.
GitLab merge request notes: GET (per_page, page, sort; `Link`, `X-Next-Page`, `X-Page`), POST, PUT.
GET /user on both: who the token is. On GitHub with `token_user=None` the token plays the Actions GITHUB_TOKEN:
/user answers 403 "Resource not accessible by integration" and comments are written by github-actions[bot].
Served through an httpx.MockTransport: no socket. Every request is recorded as (method, path), and answers
can be scripted ahead (rate limits, errors).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

GITHUB_API = "https://api.github.test"
GITLAB_API = "https://gitlab.test/api/v4"
TOKEN = "ghp_s3cr3t-token-never-printed"
ACTIONS_BOT = "github-actions[bot]"
GITLAB_PROJECT_BOT = "project_278964_bot_3f1c2a9e"  # the bot user of a GitLab project access token
# login -> (id, GitHub `type`); anyone else gets an id of their own on first sight
KNOWN_USERS = {ACTIONS_BOT: (41898282, "Bot"), GITLAB_PROJECT_BOT: (9_417_001, "User")}
# What GitHub answers GET /user with when the token is the Actions GITHUB_TOKEN (an installation token).
GITHUB_TOKEN_USER_403 = {
    "message": "Resource not accessible by integration",
    "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
    "status": "403",
}


@dataclass
class Comment:
    id: int
    body: str
    author: str = "someone"
    system: bool = False


@dataclass
class ForgeStandIn:
    platform: str  # "github" or "gitlab"
    project: str = "acme/media"
    number: int = 12
    token: str = TOKEN
    comments: list[Comment] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    scripted: list[httpx.Response] = field(default_factory=list)  # answered first, one per request
    next_id: int = 1000
    link_header: bool = True  # False: pages only say X-Next-Page (GitLab without Link headers)
    # Whose token this is (GET /user answers 200 with that user), or None: GitHub's GITHUB_TOKEN (403), which
    # writes as github-actions[bot]. Default: GITHUB_TOKEN on GitHub, a project access token's bot on GitLab.
    token_user: str | None = None
    users: dict[str, tuple[int, str]] = field(default_factory=lambda: dict(KNOWN_USERS))

    def __post_init__(self) -> None:
        if self.platform == "gitlab" and self.token_user is None:
            self.token_user = GITLAB_PROJECT_BOT

    @property
    def writer(self) -> str:
        """Who the comments this token creates are written by."""
        return self.token_user or ACTIONS_BOT

    def user(self, login: str) -> tuple[int, str]:
        if login not in self.users:
            self.users[login] = (5_000_000 + len(self.users), "User")
        return self.users[login]

    def add_others(self, n: int) -> None:
        for i in range(n):
            self.comments.append(Comment(self.next_id, f"LGTM {i}", system=(self.platform == "gitlab" and i % 10 == 0)))
            self.next_id += 1

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] != "GET"]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        if self.scripted:
            return self.scripted.pop(0)
        if self.platform == "github":
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return httpx.Response(401, json={"message": "Bad credentials"})
            return self._github(request)
        if request.headers.get("private-token") != self.token:
            return httpx.Response(401, json={"message": "401 Unauthorized"})
        return self._gitlab(request)

    def _github(self, request: httpx.Request) -> httpx.Response:
        base = f"/repos/{self.project}"
        path = request.url.path
        if path == "/user" and request.method == "GET":
            if self.token_user is None:
                return httpx.Response(403, json=GITHUB_TOKEN_USER_403)
            return httpx.Response(200, json=self._github_user(self.token_user) | {"name": None, "public_repos": 0})
        collection = f"{base}/issues/{self.number}/comments"
        if request.url.path == collection and request.method == "GET":
            return self._page(request, GITHUB_API + collection, {})
        if request.url.path == collection and request.method == "POST":
            return httpx.Response(201, json=self._github_json(self._create(request)))
        prefix = f"{base}/issues/comments/"
        if path.startswith(prefix) and request.method == "PATCH":
            comment = self._update(int(path.removeprefix(prefix)), request)
            return httpx.Response(200, json=self._github_json(comment)) if comment else self._missing()
        return self._missing()

    def _gitlab(self, request: httpx.Request) -> httpx.Response:
        collection = f"/projects/{self.project.replace('/', '%2F')}/merge_requests/{self.number}/notes"
        raw = request.url.raw_path.decode().split("?")[0].removeprefix("/api/v4")
        if raw == "/user" and request.method == "GET":
            assert self.token_user is not None
            bot = self.token_user.startswith("project_")
            return httpx.Response(200, json=self._gitlab_user(self.token_user) | {"bot": bot, "locked": False})
        if raw == collection and request.method == "GET":
            assert request.url.params.get("sort") == "asc"
            return self._page(request, GITLAB_API + collection, {"sort": "asc", "order_by": "created_at"})
        if raw == collection and request.method == "POST":
            return httpx.Response(201, json=self._gitlab_json(self._create(request)))
        if raw.startswith(collection + "/") and request.method == "PUT":
            comment = self._update(int(raw.rsplit("/", 1)[1]), request)
            return httpx.Response(200, json=self._gitlab_json(comment)) if comment else self._missing()
        return self._missing()

    def _page(self, request: httpx.Request, url: str, extra: dict[str, str]) -> httpx.Response:
        per_page = min(int(request.url.params.get("per_page", "30")), 100)
        page = int(request.url.params.get("page", "1"))
        items = self.comments[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(self.comments) // per_page))
        links = []
        if page < last:
            links.append(f'<{url}?{urlencode({"per_page": per_page, **extra, "page": page + 1})}>; rel="next"')
        links.append(f'<{url}?{urlencode({"per_page": per_page, **extra, "page": last})}>; rel="last"')
        headers = {"Link": ", ".join(links)} if self.link_header else {}
        render = self._github_json if self.platform == "github" else self._gitlab_json
        if self.platform == "gitlab":
            headers |= {"X-Page": str(page), "X-Next-Page": str(page + 1) if page < last else ""}
        return httpx.Response(200, json=[render(c) for c in items], headers=headers)

    def _create(self, request: httpx.Request) -> Comment:
        comment = Comment(self.next_id, self._body(request), author=self.writer)
        self.next_id += 1
        self.comments.append(comment)
        return comment

    def _update(self, comment_id: int, request: httpx.Request) -> Comment | None:
        for comment in self.comments:
            if comment.id == comment_id:
                comment.body = self._body(request)
                return comment
        return None

    @staticmethod
    def _body(request: httpx.Request) -> str:
        body: Any = json.loads(request.content)["body"]
        assert isinstance(body, str)
        assert len(body) <= 65_536, "GitHub refuses a comment body over 65,536 characters"
        return body

    def _github_json(self, c: Comment) -> dict[str, Any]:
        return {
            "id": c.id,
            "body": c.body,
            "user": self._github_user(c.author),
            "html_url": f"https://github.test/{self.project}/pull/{self.number}#issuecomment-{c.id}",
        }

    def _gitlab_json(self, c: Comment) -> dict[str, Any]:
        return {"id": c.id, "body": c.body, "author": self._gitlab_user(c.author), "system": c.system}

    def _github_user(self, login: str) -> dict[str, Any]:
        user_id, kind = self.user(login)
        return {
            "login": login,
            "id": user_id,
            "node_id": f"U_{user_id}",
            "avatar_url": f"https://avatars.github.test/u/{user_id}?v=4",
            "html_url": f"https://github.test/{login}",
            "type": kind,
            "site_admin": False,
        }

    def _gitlab_user(self, username: str) -> dict[str, Any]:
        user_id, _ = self.user(username)
        return {
            "id": user_id,
            "username": username,
            "name": username,
            "state": "active",
            "avatar_url": None,
            "web_url": f"https://gitlab.test/{username}",
        }

    @staticmethod
    def _missing() -> httpx.Response:
        return httpx.Response(404, json={"message": "Not Found"})

    def ours(self) -> list[Comment]:
        return [c for c in self.comments if c.body.startswith("<!-- reconcile:pr-comment")]
