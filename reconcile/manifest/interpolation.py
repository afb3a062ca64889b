"""`${VAR}` and `${VAR:-default}` in manifest text, so one set of manifests bootstraps several environments.

Rules (the README's manifest reference repeats them):
- `${NAME}` is the variable's value; an unset variable is an error at its location.
- `${NAME:-default}` is the value, or `default` when the variable is unset or empty (as in the shell).
- `$$` is a literal `$` (write `$${` for a literal `${`); a `$` followed by anything else stays as written.
- Names are letters, digits and `_`, not starting with a digit. Defaults cannot nest another `${...}`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class InterpolationProblem:
    offset: int  # character offset of the `$` in the text
    message: str


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str, list[InterpolationProblem]]:
    """The text with every reference replaced, and the references that could not be."""
    if "$" not in text:
        return text, []
    parts: list[str] = []
    problems: list[InterpolationProblem] = []
    end = 0
    for token in _TOKEN.finditer(text):
        parts.append(text[end : token.start()])
        end = token.end()
        if token[0] == "$$":
            parts.append("$")
            continue
        body = token[1]
        if body is None:
            message = "unterminated `${`: close it with `}`, or write `$${` for a literal `${`"
            problems.append(InterpolationProblem(token.start(), message))
            continue
        name, has_default, default = body.partition(":-")
        if not _NAME.fullmatch(name):
            message = (
                f"`${{{body}}}` is not a variable reference: write `${{NAME}}` or `${{NAME:-default}}`, where NAME "
                "is letters, digits and `_`, not starting with a digit"
            )
            problems.append(InterpolationProblem(token.start(), message))
            continue
        if "${" in default:
            message = f"the default of `${{{name}:-...}}` cannot contain another `${{...}}`"
            problems.append(InterpolationProblem(token.start(), message))
            continue
        value = env.get(name)
        if has_default and not value:
            value = default
        elif value is None:
            message = f"environment variable `{name}` is not set: set it, or give a default with `${{{name}:-value}}`"
            problems.append(InterpolationProblem(token.start(), message))
            continue
        parts.append(value)
    parts.append(text[end:])
    return "".join(parts), problems
