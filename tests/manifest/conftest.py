"""Helpers for manifest tests: write manifests into a temporary working directory and load them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from reconcile.manifest import DesiredState, ManifestError, load_desired_state

OSS = "https://media-in.oss-cn-shanghai.aliyuncs.com"

Write = Callable[..., None]
Problems = Callable[..., list[str]]
Load = Callable[..., DesiredState]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory, so diagnostics carry short relative paths such as `m.yaml`."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def write(workdir: Path) -> Write:
    def write(path: str, content: str | bytes) -> None:
        target = workdir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")

    return write


@pytest.fixture
def problems(write: Write) -> Problems:
    """The diagnostics for one manifest `m.yaml` holding `text`, as `line:col: message` strings."""

    def problems(text: str | bytes, env: Mapping[str, str] | None = None) -> list[str]:
        write("m.yaml", text)
        with pytest.raises(ManifestError) as caught:
            load_desired_state(["m.yaml"], env=env or {})
        assert all(d.path == "m.yaml" for d in caught.value.diagnostics)
        return [f"{d.line}:{d.col}: {d.message}" for d in caught.value.diagnostics]

    return problems


@pytest.fixture
def load(write: Write) -> Load:
    """The desired state of one valid manifest `m.yaml` holding `text`."""

    def load(text: str, env: Mapping[str, str] | None = None) -> DesiredState:
        write("m.yaml", text)
        return load_desired_state(["m.yaml"], env=env or {})

    return load
