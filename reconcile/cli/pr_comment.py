"""`reconcile pr-comment FILE`: post FILE (a Markdown plan) as the one sticky comment of a pull request.

One comment per pull request and `--key` (default: the workspace, RECONCILE_WORKSPACE, else `default`), so
two environments planned in one repository get two comments. The first run creates it; every later run
edits that same comment, found by a hidden marker on its first line. GitHub Actions and GitLab CI are
detected from their variables; options override them. The token comes only from the environment
(GITHUB_TOKEN / GITLAB_TOKEN) and is never printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import httpx

from reconcile.cli.common import EXIT_OK, FatalError, log_level_option
from reconcile.forge.ci import PLATFORMS, CiConfigError, Platform, from_options
from reconcile.forge.comments import COMMENT_LIMIT, KEY_PATTERN, ForgeError, StickyComments, compose

WORKSPACE_ENV = "RECONCILE_WORKSPACE"


@click.command(name="pr-comment")
@click.argument("file", type=click.Path(dir_okay=False), metavar="FILE")
@click.option(
    "--key",
    default=None,
    help=f"Which sticky comment: one per key on a pull request (default: ${WORKSPACE_ENV}, else 'default').",
)
@click.option(
    "--platform",
    type=click.Choice(PLATFORMS),
    default=None,
    help="github or gitlab (default: detected from GITHUB_ACTIONS / GITLAB_CI).",
)
@click.option(
    "--api-url", default=None, metavar="URL", help="The REST API root (default: GITHUB_API_URL / CI_API_V4_URL)."
)
@click.option(
    "--repository",
    default=None,
    metavar="NAME",
    help="GitHub OWNER/REPO or GitLab project id or path (default: GITHUB_REPOSITORY / CI_PROJECT_ID).",
)
@click.option(
    "--number",
    type=click.IntRange(min=1),
    default=None,
    help="The pull request (GitHub) or merge request iid (GitLab) (default: from the event / CI_MERGE_REQUEST_IID).",
)
@log_level_option
def command(
    file: str,
    key: str | None,
    platform: Platform | None,
    api_url: str | None,
    repository: str | None,
    number: int | None,
) -> int:
    """Post FILE as the sticky comment of the current pull request (GitHub) or merge request (GitLab), or
    update it in place when an earlier run posted it. A body longer than 65,536 characters is cut to fit.

    Exit codes: 0 posted or updated, or not in a pull request (nothing to do; the reason is printed);
    1 the file cannot be read, the token is missing or refused, or the API failed after retrying.
    """
    key = key or os.environ.get(WORKSPACE_ENV, "").strip() or "default"
    if not KEY_PATTERN.fullmatch(key):
        raise FatalError(
            f"--key {key!r}: use up to 100 letters, digits, '.', '_', '/' or '-', starting with one of the first two"
        )
    try:
        body = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise FatalError(f"{file}: cannot read the comment body: {reason}") from None
    try:
        target = from_options(os.environ, platform=platform, api_url=api_url, project=repository, number=number)
    except CiConfigError as exc:
        raise FatalError(str(exc)) from None
    if target is None:
        click.echo("Not running in GitHub Actions or GitLab CI, and no --platform given: nothing posted.", err=True)
        return EXIT_OK
    if target.number is None:
        click.echo(f"Not in a pull request ({target.not_in_review}): nothing posted.", err=True)
        return EXIT_OK
    text = compose(key, body, commit=target.commit)
    try:
        with StickyComments(target, transport=comment_transport()) as comments:
            posted = comments.post(key, text)
    except ForgeError as exc:
        raise FatalError(f"{exc}") from None
    where = f": {posted.url}" if posted.url else ""
    cut = "" if text.endswith(body) else " (cut to fit)"
    click.echo(
        f"{posted.action.capitalize()} the '{key}' comment on {target.review_name}{where} "
        f"({len(text)} of {COMMENT_LIMIT} characters{cut})."
    )
    return EXIT_OK


def comment_transport() -> httpx.BaseTransport | None:
    """The HTTP transport for the forge API: None for the real network (tests substitute a local stand-in)."""
    return None
