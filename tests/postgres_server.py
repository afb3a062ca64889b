"""A real PostgreSQL server for the tests: initdb + pg_ctl in a temporary directory, on a free loopback port.

The Debian `postgresql` package puts initdb and pg_ctl in /usr/lib/postgresql/<version>/bin, off PATH. The
server refuses to run as root, so under root it runs as the `postgres` OS user (runuser), in a directory that
user owns. Tests connect over TCP as a role with a password (so password redaction is tested for real), each
test in its own schema of one database; the superuser connects over the unix socket in the same directory.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

ROLE = "reconcile_ci"
PASSWORD = "hunter2-Sekret@42"  # an '@' too: it must be %-encoded in a URL, and redacted in both forms
DATABASE = "reconcile_test"


def server_bin_dir() -> Path | None:
    """The newest PostgreSQL server's bin directory: Debian's versioned one, or initdb on PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


@dataclass(frozen=True)
class PostgresServer:
    directory: Path
    bin_dir: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def socket_dir(self) -> str:
        return str(self.directory)

    def url(self, schema: str | None = None, *, password: bool = True, **params: str) -> str:
        """A `postgresql://` location for the test role; `password=False` leaves it to PGPASSWORD / ~/.pgpass."""
        secret = f":{quote(PASSWORD, safe='')}" if password else ""
        query = {**({"schema": schema} if schema else {}), **params}
        suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
        return f"postgresql://{ROLE}{secret}@{self.host}:{self.port}/{DATABASE}{suffix}"

    def admin(self) -> psycopg.Connection:
        """A superuser connection over the unix socket."""
        return psycopg.connect(host=self.socket_dir, port=self.port, user="postgres", dbname=DATABASE, autocommit=True)

    def new_schema(self) -> str:
        return f"t_{uuid.uuid4().hex[:12]}"


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server(bin_dir: Path, *, durable: bool = False) -> Iterator[PostgresServer]:
    """A server for the session. Not `durable` (the tests): no fsync, which only a machine crash would notice;
    `durable` (the benchmarks): the server's defaults, every commit flushed."""
    directory = Path(tempfile.mkdtemp(prefix="reconcile-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(directory, account.pw_uid, account.pw_gid)
    data = directory / "data"
    server = PostgresServer(directory, bin_dir, _free_port())

    def run(*command: str) -> None:
        completed = subprocess.run(
            _as_server_user(list(command)), capture_output=True, text=True, check=False, cwd=directory
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}"
            )

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--no-sync",
            "--auth-local=trust", "--auth-host=scram-sha-256")  # fmt: skip
        options = f"-p {server.port} -k {directory} -c listen_addresses=127.0.0.1 -c max_connections=60"
        if not durable:
            options += " -c fsync=off -c full_page_writes=off"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(directory / "server.log"), "-o", options, "-w",
            "-t", "60", "start")  # fmt: skip
        with psycopg.connect(
            host=server.socket_dir, port=server.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
            conn.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(directory, ignore_errors=True)
