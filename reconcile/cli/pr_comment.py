"""`reconcile pr-comment FILE`: post FILE (a Markdown plan) as the one sticky comment of a pull request.

One comment per pull request and `--key` (default: the workspace, RECONCILE_WORKSPACE, else `default`), so
two environments planned in one repository get two comments. The first run creates it; every later run
edits that same comment, found by a hidden marker on its first line and by its author: only a comment written
by the token's own identity (on GitHub with GITHUB_TOKEN, the github-actions[bot]) is edited; a marked comment
by anyone else is left alone and reported. GitHub Actions and GitLab CI are
detected from their variables; options override them. The token comes only from the environment
(GITHUB_TOKEN / GITLAB_TOKEN) and is never printed.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import click
import httpx

from reconcile.cli.common import EXIT_OK, FatalError, log_level_option
from reconcile.cloud.endpoints import is_loopback
from reconcile.forge.ci import PLATFORMS, CiConfigError, CiContext, Platform, from_options
from reconcile.forge.comments import COMMENT_LIMIT, KEY_PATTERN, ForgeError, StickyComments, compose
from reconcile.state.files import FileRefused, read_regular_file

WORKSPACE_ENV = "RECONCILE_WORKSPACE"
# FILE is a Markdown plan (which keeps under 65,000 characters) or a note: far below this. A bigger file, a FIFO
# or a device is refused before it is read (a FIFO would wait for a writer for ever, /dev/zero never ends).
MAX_BODY_FILE_BYTES = 64 * 1024**2


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
        body = read_regular_file(Path(file), MAX_BODY_FILE_BYTES)[0].decode("utf-8")
    except FileRefused as exc:
        raise FatalError(f"{file}: cannot read the comment body: it {exc.reason}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise FatalError(f"{file}: cannot read the comment body: {reason}") from None
    try:
        target = from_options(os.environ, platform=platform, api_url=api_url, project=repository, number=number)
    except CiConfigError as exc:
        raise FatalError(str(exc)) from None
    if target is not None:
        _check_api_url(target)
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
    if posted.ignored:
        click.echo(
            f"Ignored the '{key}' marker in comments by {', '.join(posted.ignored)}: only a comment written by "
            f"{posted.owner}, whose token this run uses, is edited; theirs were left untouched.",
            err=True,
        )
    where = f": {posted.url}" if posted.url else ""
    cut = "" if text.endswith(body) else " (cut to fit)"
    click.echo(
        f"{posted.action.capitalize()} the '{key}' comment on {target.review_name}{where} "
        f"({len(text)} of {COMMENT_LIMIT} characters{cut})."
    )
    return EXIT_OK


def _check_api_url(target: CiContext) -> None:
    """The token goes to the API root in a header: only over https, or plain http to a literal loopback address
    (a local stand-in), and never with user information in the URL (which an error message would repeat)."""
    origin = "--api-url / " + ("GITHUB_API_URL" if target.platform == "github" else "CI_API_V4_URL")
    if "@" in target.api_url:
        raise FatalError(f"{origin}: the URL contains '@' (user information, not shown here); give just the API root")
    try:
        parts = urlsplit(target.api_url)
        host = parts.hostname or ""
    except ValueError as exc:
        raise FatalError(f"{origin}: {target.api_url!r} is not a valid URL ({exc})") from None
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and is_loopback(host):
        return
    raise FatalError(
        f"{origin}: {target.api_url!r} is not an https:// URL; the token is sent only over https "
        "(plain http only to a literal loopback address such as 127.0.0.1)"
    )


def comment_transport() -> httpx.BaseTransport | None:
    """The HTTP transport for the forge API: None for the real network (tests substitute a local stand-in)."""
    return None
