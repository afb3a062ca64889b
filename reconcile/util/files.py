"""Reading small files the caller may not have written yet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def read_text_if_present(path: Path, what: str, refusal: Callable[[str], Exception]) -> str | None:
    """The UTF-8 text of `path`, or None when it does not exist. Any other failure to read it raises
    `refusal("cannot read <what> <path>: <why>")`, the caller's own error."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise refusal(f"cannot read {what}{' ' if what else ''}{path}: {exc.strerror or exc}") from None
