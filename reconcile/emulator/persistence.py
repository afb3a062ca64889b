"""The `--state-file`: the emulated account as JSON, replaced atomically so a crash never leaves half a file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reconcile.util.files import read_text_if_present

_MOVE_ASIDE = "move it aside to start with an empty account"


class StateFileError(Exception):
    """The state file exists but cannot be used; the message says which file and why."""


def load_state(path: Path) -> dict[str, Any] | None:
    """The saved state, or None when the file does not exist yet."""
    text = read_text_if_present(path, "emulator state file", StateFileError)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StateFileError(f"emulator state file {path} is not valid JSON ({exc}); {_MOVE_ASIDE}") from None
    if not isinstance(data, dict):
        raise StateFileError(f"emulator state file {path} does not hold an emulator state; {_MOVE_ASIDE}")
    return data


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write to a temporary file in the same directory, flush it to disk, then rename it over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(state, handle, ensure_ascii=False, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
