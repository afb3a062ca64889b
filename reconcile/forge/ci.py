"""Which CI a command runs in, read from a mapping of its variables (the caller passes os.environ).

GitHub Actions: GITHUB_ACTIONS, GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_EVENT_PATH (the event payload names
the pull request), GITHUB_TOKEN; links use GITHUB_SERVER_URL, GITHUB_WORKSPACE and GITHUB_RUN_ID.
GitLab CI: GITLAB_CI, CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, GITLAB_TOKEN (a project or personal
access token with the `api` scope: the job token cannot write notes); links use CI_PROJECT_URL,
CI_PROJECT_DIR and CI_JOB_URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Platform = Literal["github", "gitlab"]
PLATFORMS: tuple[Platform, ...] = ("github", "gitlab")
TOKEN_VARIABLE: dict[Platform, str] = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN"}
_DEFAULT_API: dict[Platform, str] = {"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}


class CiConfigError(Exception):
    """The CI variables or options contradict each other or cannot be read; the message says which."""


@dataclass(frozen=True, slots=True)
class CiContext:
    """What a command learns from the CI it runs in. `number` is None outside a pull / merge request, and
    `not_in_review` then says why."""

    platform: Platform
    api_url: str
    project: str  # GitHub OWNER/REPO; GitLab project id or path
    number: int | None
    token: str | None = field(repr=False)
    commit: str | None = None  # the pull request's head commit when known, else the pipeline's
    browse_base: str | None = None  # https://github.com/OWNER/REPO/blob/SHA: manifest lines link under it
    workspace: str | None = None  # the checkout directory on the runner
    job_url: str | None = None  # the run or job page: its summary and artifacts hold the full plan
    not_in_review: str = ""

    @property
    def review_name(self) -> str:
        """`acme/media#12` (GitHub) or `group/project!12` (GitLab), as people write them."""
        sign = "#" if self.platform == "github" else "!"
        return f"{self.project}{sign}{self.number}"


def detect(env: Mapping[str, str]) -> CiContext | None:
    """The CI this process runs in, from its variables; None outside GitHub Actions and GitLab CI."""
    if env.get("GITHUB_ACTIONS") == "true":
        return _github(env)
    if env.get("GITLAB_CI") == "true":
        return _gitlab(env)
    return None


def from_options(
    env: Mapping[str, str],
    *,
    platform: Platform | None,
    api_url: str | None,
    project: str | None,
    number: int | None,
) -> CiContext | None:
    """detect(env) with the command-line options applied over it; None when neither names a platform."""
    found = detect(env)
    chosen = platform or (found.platform if found is not None else None)
    if chosen is None:
        return None
    if found is None or found.platform != chosen:
        token = env.get(TOKEN_VARIABLE[chosen]) or None
        found = CiContext(chosen, _DEFAULT_API[chosen], "", None, token, not_in_review="no pull request number given")
    if project is not None:
        found = replace(found, project=project)
    if api_url is not None:
        found = replace(found, api_url=api_url.rstrip("/"))
    if number is not None:
        found = replace(found, number=number, not_in_review="")
    if not found.project:
        what = "--repository OWNER/REPO" if chosen == "github" else "--repository PROJECT_ID"
        raise CiConfigError(f"no {chosen} project: pass {what}, or run inside its CI")
    return found


def _github(env: Mapping[str, str]) -> CiContext:
    repository = env.get("GITHUB_REPOSITORY", "")
    event = _event(env.get("GITHUB_EVENT_PATH"))
    number, why = _pull_request_number(event, env.get("GITHUB_EVENT_NAME", "this event"))
    pull = event.get("pull_request") if isinstance(event.get("pull_request"), dict) else None
    head = pull.get("head") if pull is not None else None
    commit = head.get("sha") if isinstance(head, dict) and isinstance(head.get("sha"), str) else env.get("GITHUB_SHA")
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    run = env.get("GITHUB_RUN_ID")
    return CiContext(
        platform="github",
        api_url=env.get("GITHUB_API_URL", _DEFAULT_API["github"]).rstrip("/"),
        project=repository,
        number=number,
        token=env.get("GITHUB_TOKEN") or None,
        commit=commit or None,
        browse_base=f"{server}/{repository}/blob/{commit}" if repository and commit else None,
        workspace=env.get("GITHUB_WORKSPACE") or None,
        job_url=f"{server}/{repository}/actions/runs/{run}" if repository and run else None,
        not_in_review=why,
    )


def _event(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as file:
            event = json.load(file)
    except (OSError, ValueError) as exc:
        raise CiConfigError(f"cannot read the GitHub event payload GITHUB_EVENT_PATH={path}: {exc}") from None
    return event if isinstance(event, dict) else {}


def _pull_request_number(event: Mapping[str, Any], event_name: str) -> tuple[int | None, str]:
    """The pull request an event is about: pull_request / pull_request_target events, or a comment on a PR."""
    pull = event.get("pull_request")
    if isinstance(pull, dict) and isinstance(pull.get("number"), int):
        return pull["number"], ""
    issue = event.get("issue")
    if isinstance(issue, dict) and issue.get("pull_request") and isinstance(issue.get("number"), int):
        return issue["number"], ""
    return None, f"the {event_name} event is not about a pull request"


def _gitlab(env: Mapping[str, str]) -> CiContext:
    iid = env.get("CI_MERGE_REQUEST_IID", "")
    number = int(iid) if iid.isdigit() else None
    commit = env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") or env.get("CI_COMMIT_SHA") or None
    project_url = env.get("CI_PROJECT_URL", "").rstrip("/")
    return CiContext(
        platform="gitlab",
        api_url=env.get("CI_API_V4_URL", _DEFAULT_API["gitlab"]).rstrip("/"),
        project=env.get("CI_PROJECT_ID", ""),
        number=number,
        token=env.get("GITLAB_TOKEN") or None,
        commit=commit,
        browse_base=f"{project_url}/-/blob/{commit}" if project_url and commit else None,
        workspace=env.get("CI_PROJECT_DIR") or None,
        job_url=env.get("CI_JOB_URL") or None,
        not_in_review="" if number is not None else "this pipeline is not a merge request pipeline",
    )
