"""What the Markdown plan learns from the CI it is rendered in: where manifest lines can be browsed, and the
job that holds the full plan. Read here, at the edge; the renderer only receives the result."""

from __future__ import annotations

import os
from collections.abc import Mapping

from reconcile.forge.ci import CiConfigError, CiContext, detect
from reconcile.render.markdown import SourceLinks


def ci_context(env: Mapping[str, str] | None = None) -> CiContext | None:
    """The CI this command runs in, or None (outside CI, or when its variables cannot be read)."""
    try:
        return detect(os.environ if env is None else env)
    except CiConfigError:
        return None  # a view is still worth printing without links


def markdown_links(context: CiContext | None, cwd: str | None = None) -> SourceLinks | None:
    """Links to manifest lines at the commit being planned: paths are relative to the working directory, which
    may be a subdirectory of the checkout."""
    if context is None or context.browse_base is None:
        return None
    prefix = ""
    if context.workspace:
        here = os.path.abspath(cwd or os.getcwd())
        inside = os.path.relpath(here, os.path.abspath(context.workspace))
        if inside.startswith(".."):
            return None
        prefix = "" if inside == "." else inside.replace(os.sep, "/")
    return SourceLinks(context.browse_base, prefix)
