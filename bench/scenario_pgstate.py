"""Shared state on PostgreSQL: what it costs an apply and a no-op plan, against the local file in the same run.

Server: a local PostgreSQL started for the run (initdb + pg_ctl as in the tests, but with the server's durable
defaults: fsync on, every commit flushed), reached over loopback TCP with a password, as a CI runner reaches a
database.

1. Apply: scenario_apply's cold apply (5,000 media in 5 OSS buckets + 50 input buckets) at the real QPS limits,
   once with the state in the local file and once in PostgreSQL: one committed journal row per batch, then
   one snapshot. RegisterMedia's 50/s makes 500 calls a 10 s floor. Goal: the PostgreSQL apply <= 1.05x it.
2. Plan: scenario_plan's no-op plan over 100,000 media (RECONCILE_BENCH_PGSTATE_MEDIA to change), the same
   state read from the local file and from PostgreSQL (moved there with `state migrate`'s code), alternately,
   twice each; the best of each. Figures: the whole command and its "read state" phase.
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.child import run_child
from bench.scenario_apply import FLOOR_SECONDS, GOAL_RATIO, MEDIA, run_ours
from bench.scenario_plan import CPU_QPS_SCALE as QPS_SCALE
from bench.scenario_plan import converge, write_manifests
from reconcile.cloud.limits import QPS_LIMITS
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from reconcile.emulator.process import start_emulator
from reconcile.manifest import load_desired_state
from reconcile.state import open_store, redact
from reconcile.state.migrate import migrate_state
from tests.postgres_server import PostgresServer, running_server, server_bin_dir

TITLE = "Shared state on PostgreSQL: apply and no-op plan against the local file"
PLAN_MEDIA = int(os.environ.get("RECONCILE_BENCH_PGSTATE_MEDIA", "100000"))
PLAN_ROUNDS = 2
_READ_STATE = "reconcile.plan: read state: "


@dataclass(frozen=True)
class PlanRun:
    wall: float
    read_state: float  # the CLI's own "read state" phase, seconds


def apply_runs(workdir: Path, server: PostgresServer) -> tuple[float, float, dict[str, object], dict[str, object]]:
    local = run_ours(workdir / "apply-local")
    shared = run_ours(workdir / "apply-pg", state=server.url("bench_apply"))
    return local.apply_seconds, shared.apply_seconds, local.summary, shared.summary


def plan_runs(workdir: Path, server: PostgresServer) -> tuple[list[PlanRun], list[PlanRun], int]:
    directory = workdir / "plan"
    manifests = directory / "manifests"
    manifests.mkdir(parents=True)
    write_manifests(manifests, PLAN_MEDIA)
    desired = load_desired_state([str(manifests)])
    emulator_state, state_path = directory / "emulator.json", directory / "state.json"
    converge(desired, emulator_state, state_path)
    url = server.url(f"bench_plan_{uuid.uuid4().hex[:6]}")
    local_store, shared_store = open_store(str(state_path)), open_store(url)
    with local_store.lock("bench"), shared_store.lock("bench"):
        copied = migrate_state(local_store, shared_store)
    qps = ",".join(f"{action}={limit * QPS_SCALE:g}" for action, limit in QPS_LIMITS.items())
    env = {
        **os.environ,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
        "RECONCILE_QPS": qps,
        "NO_COLOR": "1",
    }
    runs: dict[str, list[PlanRun]] = {"local": [], "pg": []}
    with start_emulator(state_file=emulator_state, qps_scale=QPS_SCALE, auto_objects=True) as emulator:
        for _ in range(PLAN_ROUNDS):
            for label, state in (("local", str(state_path)), ("pg", url)):
                command = [sys.executable, "-m", "reconcile", "plan", str(manifests), "--endpoint", emulator.url,
                           "--detailed-exitcode", "--log-level", "info"]  # fmt: skip
                run = run_child(command, cwd=directory, env={**env, "RECONCILE_STATE": state})
                out, err, code, wall = run.out, run.err, run.code, run.wall_seconds
                if code != 0:
                    raise RuntimeError(f"the no-op plan ({label}) exited {code}:\n{out[-2000:]}\n{redact(err[-2000:])}")
                line = next(x for x in err.splitlines() if _READ_STATE in x)
                runs[label].append(PlanRun(wall, float(line.split(_READ_STATE, 1)[1].split(" s ", 1)[0])))
    return runs["local"], runs["pg"], len(copied.state.resources)


def run(workdir: Path) -> str:
    bin_dir = server_bin_dir()
    if bin_dir is None:
        return f"## {TITLE}\n\nNot run: no PostgreSQL server binaries (install the postgresql package).\n"
    with running_server(bin_dir, durable=True) as server:
        local_apply, pg_apply, local_summary, pg_summary = apply_runs(workdir, server)
        local_plans, pg_plans, resources = plan_runs(workdir, server)
    ratio = pg_apply / FLOOR_SECONDS
    best_local = min(local_plans, key=lambda r: r.wall)
    best_pg = min(pg_plans, key=lambda r: r.wall)
    met = "met" if ratio <= GOAL_RATIO and pg_summary["ok"] else "NOT met"
    return "\n".join(
        [
            f"## {TITLE}",
            "",
            "A local PostgreSQL server (durable defaults: fsync on) over loopback TCP with a password; "
            "`bench/scenario_pgstate.py`.",
            "",
            f"Apply: `reconcile apply manifests/ --auto-approve --json`, {MEDIA:,} media + 50 input buckets, cold, "
            "at the real QPS limits (scenario_apply), state in the local file then in PostgreSQL "
            f"(`RECONCILE_STATE=postgresql://…`); {pg_summary['state_updates']} state writes (journal rows + the "
            "final snapshot).",
            "",
            "| state | apply wall time | ÷ QPS floor (10 s) | goal | |",
            "|---|---|---|---|---|",
            f"| local file | {local_apply:.2f} s | {local_apply / FLOOR_SECONDS:.3f} | | "
            f"{'ok' if local_summary['ok'] else 'FAILED'} |",
            f"| PostgreSQL | {pg_apply:.2f} s | {ratio:.3f} | <= {GOAL_RATIO} | {met} |",
            f"| PostgreSQL ÷ local file | {pg_apply / local_apply:.3f}x | | | |",
            "",
            f"No-op plan over {PLAN_MEDIA:,} media ({resources:,} resources in state, the same state in both), best of "
            f"{PLAN_ROUNDS} alternate runs each:",
            "",
            "| state | whole command | read state | runs (whole command) |",
            "|---|---|---|---|",
            f"| local file | {best_local.wall:.2f} s | {best_local.read_state:.2f} s | "
            f"{', '.join(f'{r.wall:.2f}' for r in local_plans)} |",
            f"| PostgreSQL | {best_pg.wall:.2f} s | {best_pg.read_state:.2f} s | "
            f"{', '.join(f'{r.wall:.2f}' for r in pg_plans)} |",
            f"| PostgreSQL ÷ local file | {best_pg.wall / best_local.wall:.3f}x | "
            f"{best_pg.read_state / best_local.read_state:.2f}x | |",
            "",
        ]
    )
