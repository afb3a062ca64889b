"""Shared fixtures. Per-area fixtures live in each test folder's conftest.

No test may reach beyond loopback. The official credentials package probes the ECS metadata service
(100.100.100.200) when nothing else is configured, and reads its environment at import time, so the
switch is set here, before anything imports it, for this process and every child process.
"""

import os
from collections.abc import Iterator

os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"


import pytest

from tests.postgres_server import PostgresServer, running_server, server_bin_dir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole session (see tests/postgres_server.py).

    Skipped only when no server binaries exist and this is not CI; in CI (CI=true) that is a failure:
    .ci/run installs the `postgresql` package when initdb is missing."""
    bin_dir = server_bin_dir()
    if bin_dir is None:
        reason = "no PostgreSQL server binaries (initdb) in /usr/lib/postgresql/*/bin or on PATH; install the postgresql package"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    with running_server(bin_dir) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_workspace_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A RECONCILE_WORKSPACE in the developer's shell must not move the tests' states."""
    monkeypatch.delenv("RECONCILE_WORKSPACE", raising=False)
