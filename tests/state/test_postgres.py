"""What only the PostgreSQL store does: its tables, history, the advisory lock across sessions and schemas, a lost
connection, force-unlock of a hung holder, and libpq's own ways of finding the password."""

from __future__ import annotations

import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from urllib.parse import quote

import pytest

from reconcile.state import LockInfo, PutResource, StateError, StateLockedError, open_store
from reconcile.state.location import parse_postgres
from reconcile.state.postgres import PostgresStateStore, lock_key
from tests.postgres_server import PASSWORD, PostgresServer

from .conftest import bucket, document

FORK = multiprocessing.get_context("fork")


@pytest.fixture
def url(postgres_server: PostgresServer) -> str:
    return postgres_server.url(postgres_server.new_schema())


def schema_of(url: str) -> str:
    return parse_postgres(url).schema


def count(server: PostgresServer, query: str) -> int:
    with server.admin() as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_reading_a_state_that_was_never_written_creates_nothing(postgres_server: PostgresServer, url: str):
    assert open_store(url).read() is None
    assert count(postgres_server, f"SELECT count(*) FROM pg_namespace WHERE nspname = '{schema_of(url)}'") == 0


def test_the_first_write_creates_the_tables_in_the_chosen_schema(postgres_server: PostgresServer, url: str):
    open_store(url).write(document(bucket("in-a")))
    tables = count(
        postgres_server,
        f"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{schema_of(url)}' "
        "AND table_name LIKE 'reconcile_%'",
    )
    assert tables == 5


def test_history_keeps_the_configured_number_of_previous_snapshots(postgres_server: PostgresServer):
    url = postgres_server.url(postgres_server.new_schema(), history="2")
    store = open_store(url)
    doc = store.write(document(bucket("in-a")))
    for _ in range(4):
        doc = store.write(doc)
    kept = f"SELECT string_agg(serial::text, ',' ORDER BY serial) FROM {schema_of(url)}.reconcile_snapshots"
    with postgres_server.admin() as conn:
        row = conn.execute(kept).fetchone()
    assert row == ("3,4,5",)  # the current one and 2 before it


def test_the_same_workspace_in_two_schemas_are_two_locks(postgres_server: PostgresServer):
    # hashicorp/terraform#22833: keyed by a per-schema row id, both would be advisory lock 1.
    first = open_store(postgres_server.url(postgres_server.new_schema()))
    second = open_store(postgres_server.url(postgres_server.new_schema()))
    with first.lock("apply"), second.lock("apply"):
        pass
    assert lock_key("a", "default") != lock_key("b", "default") != lock_key("a", "prod")


def _hold(url: str, ready: Connection, release: Event) -> None:
    store = open_store(url)
    with store.lock("apply") as info:
        store.append([PutResource(resource=bucket("in-a"))])
        ready.send(info.model_dump_json())
        release.wait(30)


def test_a_holder_killed_with_sigkill_releases_the_lock_without_force_unlock(url: str):
    receive, send = FORK.Pipe(duplex=False)
    release = FORK.Event()
    holder = FORK.Process(target=_hold, args=(url, send, release), daemon=True)
    holder.start()
    assert receive.poll(20), "the lock holder did not start"
    info = LockInfo.model_validate_json(receive.recv())
    with pytest.raises(StateLockedError) as refused, open_store(url).lock("apply"):
        pass
    assert refused.value.holder == info
    assert holder.pid is not None
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(10)

    store = PostgresStateStore(parse_postgres(url), poll_interval=0.05)
    with store.lock("apply", timeout=10) as mine:  # the server ends the dead session, and its lock with it
        state = store.read()
        assert state is not None and [r.address for r in state.resources] == ["input_bucket.in-a"]  # kept
        assert mine.id != info.id


def test_a_connection_lost_mid_apply_fails_the_next_append_and_releases_the_lock(
    postgres_server: PostgresServer, url: str
):
    store = open_store(url)
    with store.lock("apply"):
        store.append([PutResource(resource=bucket("in-a"))])
        with postgres_server.admin() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s AND pid <> pg_backend_pid()",
                ["reconcile_ci"],
            )
        with pytest.raises(StateError) as lost:
            store.append([PutResource(resource=bucket("in-b"))])
        assert str(lost.value).startswith(f"lost the connection to state {store.location} while recording a batch: ")
        with pytest.raises(StateError, match="and with it the state lock: nothing more can be recorded"):
            store.append([PutResource(resource=bucket("in-c"))])  # never a new connection without the lock
    state = open_store(url).read()
    assert state is not None and [r.address for r in state.resources] == ["input_bucket.in-a"]
    with open_store(url).lock("apply"):
        pass


def test_force_unlock_ends_the_session_of_a_holder_on_another_machine(postgres_server: PostgresServer, url: str):
    hung = open_store(url)
    with hung.lock("apply") as info:
        with postgres_server.admin() as admin:  # as if it ran on a runner that is now unreachable
            admin.execute(f"UPDATE {schema_of(url)}.reconcile_locks SET host = 'runner-7'")
        with pytest.raises(
            StateError, match=r"lock id 'nope' does not match the lock on state .* the recorded lock is"
        ):
            open_store(url).force_unlock("nope")

        removed = open_store(url).force_unlock(info.id)

        assert (removed.id, removed.host) == (info.id, "runner-7")
        with open_store(url).lock("apply"):
            pass
        with pytest.raises(StateError, match="lost the connection"):
            hung.append([PutResource(resource=bucket("in-a"))])


def test_force_unlock_refuses_a_holder_running_on_this_machine(url: str):
    store = open_store(url)
    with store.lock("apply") as info, pytest.raises(StateError) as refused:
        open_store(url).force_unlock(info.id)
    assert f"is held by pid {os.getpid()} on this machine ('apply', since {info.created}), which is still running" in (
        str(refused.value)
    )


def test_the_lock_holder_records_the_ci_run(url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "media/catalog")
    monkeypatch.setenv("GITHUB_RUN_ID", "812")
    with open_store(url).lock("apply") as info, pytest.raises(StateLockedError) as refused:
        open_store(url).lock("apply").__enter__()
    assert info.ci_run == "https://github.com/media/catalog/actions/runs/812"
    assert ", CI run https://github.com/media/catalog/actions/runs/812." in str(refused.value)


def test_the_password_can_come_from_pgpassword(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch, tmp_path
):
    url = postgres_server.url(postgres_server.new_schema(), password=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    open_store(url).write(document(bucket("in-a")))
    monkeypatch.delenv("PGPASSWORD")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{postgres_server.port}:*:reconcile_ci:{PASSWORD}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    assert open_store(url).read() is not None


def test_a_wrong_password_is_an_error_that_shows_no_password(postgres_server: PostgresServer):
    url = postgres_server.url(postgres_server.new_schema()).replace(quote(PASSWORD, safe=""), "Wrong-s3cret")
    with pytest.raises(StateError) as refused:
        open_store(url).read()
    message = str(refused.value)
    assert message.startswith("cannot connect to state postgresql://reconcile_ci:***@127.0.0.1:")
    assert 'password authentication failed for user "reconcile_ci"' in message
    assert "Wrong-s3cret" not in message


def test_tables_of_a_newer_format_are_refused(postgres_server: PostgresServer, url: str):
    open_store(url).write(document())
    with postgres_server.admin() as admin:
        admin.execute(f"UPDATE {schema_of(url)}.reconcile_meta SET value = '2' WHERE key = 'format'")
    with pytest.raises(
        StateError, match=r"have format '2'; this reconcile uses format 1\. They were written by a newer"
    ):
        open_store(url).read()
