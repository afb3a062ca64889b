"""A no-op `reconcile plan` over 10,000 and 100,000 registered media: the cost of refresh + diff at scale.

Setup per size: manifests declaring N media (and a few input buckets); the emulator's `--state-file` and the
reconcile state written directly (the account and the state a finished apply leaves, without paying for the
apply); an emulator process with a high `--qps-scale`, and the client told the same limits, so pacing does
not dominate. The measured command is `reconcile plan ... --detailed-exitcode` in a child process: wall
time, CPU time and peak RSS are that child's (os.wait4), start-up included. The refresh must make exactly
⌈N/20⌉ GetVideoInfos plus one ListAllMediaBucket page per 100 bound buckets; the emulator's own counters
confirm it.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from reconcile.cloud.limits import LIST_BUCKETS_PAGE_MAX, QPS_LIMITS, VIDEO_IDS_BATCH
from reconcile.emulator.backend import EmulatorBackend
from reconcile.emulator.clock import SystemClock
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from reconcile.emulator.persistence import save_state
from reconcile.emulator.process import start_emulator
from reconcile.emulator.vod import RegisterItem
from reconcile.engine.attributes import bucket_attributes, media_attributes
from reconcile.manifest import load_desired_state
from reconcile.manifest.desired import DesiredState
from reconcile.state import ResourceState, StateDocument, open_store

TITLE = "No-op plan over 10,000 and 100,000 media"
SIZES = (10_000, 100_000)
FILES = 10
BUCKETS = 5
QPS_SCALE = 1000.0  # emulator limits x1000: GetVideoInfos 100,000/s
GOAL_SECONDS = 10.0
GOAL_GROWTH = 12.0
GOAL_RSS_MIB = 1024.0

_ACCOUNTING = re.compile(r"API calls made while planning: (\d+) \(([^)]*)\)")
_PHASE = re.compile(r"reconcile\.plan: (load manifests|read state|refresh|diff): ([\d.]+) s \(([\d.]+) s CPU\)")
_LOADED_ASIDE = re.compile(r"reconcile\.plan: load manifests: .* in a child process")
PHASES = ("load manifests", "read state", "refresh", "diff")


@dataclass(frozen=True)
class Measure:
    size: int
    wall: float
    cpu: float
    peak_mib: float
    reads: dict[str, int]  # calls the CLI reports, per action
    served: dict[str, int]  # calls the emulator counted, per action
    expected: dict[str, int]
    output: str
    phases: dict[str, tuple[float, float]]  # phase → (wall, CPU) seconds, from the CLI's own info log
    loaded_aside: bool  # the manifests loaded in a child process, alongside the state read and refresh


def write_manifests(directory: Path, size: int) -> None:
    per_file = size // FILES
    for number in range(FILES):
        lines = ["region: cn-shanghai", "input_buckets:"]
        lines += [f"  - bucket: plan-in-{number:02d}-{b}" for b in range(BUCKETS // FILES + (number < BUCKETS % FILES))]
        lines += ["media_defaults:", "  template_group_id: VOD_NO_TRANSCODE", "media:"]
        for index in range(per_file):
            key = f"catalog-{number:02d}/episode-{index:06d}.mp4"
            lines.append(f"  - file_url: https://media-{number % 4}.oss-cn-shanghai.aliyuncs.com/{key}")
            lines.append(f"    title: Episode {index} of catalog {number}")
            if index % 3 == 0:
                lines.append(f"    tags: [catalog-{number:02d}, featured]")
            if index % 5 == 0:
                lines.append(f'    description: "Episode {index}: interviews and notes."')
        (directory / f"catalog-{number:02d}.yaml").write_text("\n".join(lines) + "\n")


def converge(desired: DesiredState, emulator_state: Path, state_path: Path) -> None:
    """Write the account and the state exactly as a finished apply of `desired` would leave them."""
    backend = EmulatorBackend(SystemClock(), auto_objects=True, seed=5)
    resources: list[ResourceState] = []
    for b in desired.buckets:
        backend.mps.bind_input_bucket(b.bucket, b.referer)
        resources.append(
            ResourceState(
                address=b.address,
                kind="input_bucket",
                identity=b.bucket,
                region=b.region,
                attributes=bucket_attributes(b),
            )
        )
    groups: dict[tuple[str, str | None], list[int]] = {}
    for i, m in enumerate(desired.media):
        groups.setdefault((m.storage_location, m.template_group_id), []).append(i)
    remote_ids: dict[int, str] = {}
    for (_, template_group), indexes in groups.items():
        for start in range(0, len(indexes), 10):
            batch = indexes[start : start + 10]
            items = [_register_item(desired, i) for i in batch]
            result = backend.vod.register_media(items, template_group_id=template_group)
            remote_ids.update(zip(batch, (r.media_id for r in result.registered), strict=True))
    for i, m in enumerate(desired.media):
        resources.append(
            ResourceState(
                address=m.address,
                kind="media",
                identity=m.identity,
                region=m.region,
                remote_id=remote_ids[i],
                attributes=media_attributes(m),
            )
        )
    save_state(emulator_state, backend.to_state())
    open_store(state_path).write(StateDocument(lineage=str(uuid.uuid4()), resources=resources))


def _register_item(desired: DesiredState, index: int) -> RegisterItem:
    m = desired.media[index]
    tags = ",".join(m.tags) if m.tags else None
    return RegisterItem(file_url=m.file_url, title=m.title, description=m.description, tags=tags)


def measure(workdir: Path, size: int) -> Measure:
    directory = workdir / f"n{size}"
    manifests = directory / "manifests"
    manifests.mkdir(parents=True)
    write_manifests(manifests, size)
    desired = load_desired_state([str(manifests)])
    emulator_state, state_path = directory / "emulator.json", directory / "state.json"
    converge(desired, emulator_state, state_path)
    qps = ",".join(f"{action}={limit * QPS_SCALE:g}" for action, limit in QPS_LIMITS.items())
    env = {
        **os.environ,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
        "RECONCILE_QPS": qps,
        "NO_COLOR": "1",
    }
    with start_emulator(state_file=emulator_state, qps_scale=QPS_SCALE, auto_objects=True) as emulator:
        command = [sys.executable, "-m", "reconcile", "plan", str(manifests), "--state", str(state_path),
                   "--endpoint", emulator.url, "--detailed-exitcode", "--log-level", "info"]  # fmt: skip
        out, err, code, wall, usage = run_measured(command, env, directory)
        served = {a: c["calls"] for a, c in emulator.control.stats()["actions"].items() if c["calls"]}
    if code != 0:
        raise RuntimeError(f"the no-op plan exited {code} (expected 0):\n{out[-2000:]}\n{err[-2000:]}")
    found = _ACCOUNTING.search(out)
    reads = dict(_parse_call(item) for item in found[2].split(", ")) if found else {}
    expected = {
        "GetVideoInfos": math.ceil(len(desired.media) / VIDEO_IDS_BATCH),
        "ListAllMediaBucket": math.ceil(len(desired.buckets) / LIST_BUCKETS_PAGE_MAX),
    }
    cpu = usage.ru_utime + usage.ru_stime
    phases = {name: (float(w), float(c)) for name, w, c in _PHASE.findall(err)}
    aside = _LOADED_ASIDE.search(err) is not None
    return Measure(size, wall, cpu, usage.ru_maxrss / 1024, reads, served, expected, out.splitlines()[0], phases, aside)


def run_measured(
    command: list[str], env: dict[str, str], directory: Path
) -> tuple[str, str, int, float, os.struct_rusage]:
    """Run `command`; its output, exit code, wall seconds and its own resource usage (reaped with wait4, so
    the figures are this child's alone: CPU user+system, ru_maxrss in KiB)."""
    out_path, err_path = directory / "plan.out", directory / "plan.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return out_path.read_text(), err_path.read_text(), child.returncode, wall, usage


def _phase_row(m: Measure) -> str:
    cells = [f"{m.phases[p][0]:.2f} s" if p in m.phases else "?" for p in PHASES]
    # A load in a child process overlaps the state read and the refresh: only this process's phases add up.
    sequential = [p for p in m.phases if not (p == "load manifests" and m.loaded_aside)]
    if m.loaded_aside:
        cells[0] += " (aside)"
    rest = m.wall - sum(m.phases[p][0] for p in sequential)
    return f"| {m.size:,} | " + " | ".join(cells) + f" | {rest:.2f} s |"


def _parse_call(item: str) -> tuple[str, int]:
    action, count = item.split("×")
    return action, int(count)


def run(workdir: Path) -> str:
    results = [measure(workdir, size) for size in SIZES]
    small, large = results[0], results[-1]
    growth = large.wall / small.wall
    rows = [
        f"| {m.size:,} | {m.wall:.2f} s | {m.cpu:.2f} s | {m.peak_mib:.0f} MiB | "
        f"{m.reads.get('GetVideoInfos', 0):,} (expected {m.expected['GetVideoInfos']:,}) | "
        f"{m.reads.get('ListAllMediaBucket', 0)} (expected {m.expected['ListAllMediaBucket']}) | "
        f"{'yes' if m.reads == m.expected == m.served else 'NO'} |"
        for m in results
    ]
    goals = [
        (f"100k wall time <= {GOAL_SECONDS:.0f} s", large.wall <= GOAL_SECONDS, f"{large.wall:.2f} s"),
        (f"growth 10k → 100k <= {GOAL_GROWTH:.0f}x", growth <= GOAL_GROWTH, f"{growth:.1f}x"),
        (f"peak RSS <= {GOAL_RSS_MIB:.0f} MiB", large.peak_mib <= GOAL_RSS_MIB, f"{large.peak_mib:.0f} MiB"),
        ("refresh calls == ⌈n/20⌉ GetVideoInfos + list pages", all(m.reads == m.expected == m.served for m in results),
         "exact" if all(m.reads == m.expected == m.served for m in results) else "differs"),
    ]  # fmt: skip
    return "\n".join(
        [
            f"## {TITLE}",
            "",
            f"Setup: {FILES} manifest files with N media and {BUCKETS} input buckets; the emulator's state file and the "
            "reconcile state written directly as a finished apply leaves them (`bench/scenario_plan.py`). Emulator "
            f"process at `--qps-scale {QPS_SCALE:g}`, client limits raised to match (RECONCILE_QPS). Measured: "
            "`python -m reconcile plan <dir> --state <file> --endpoint <emulator> --detailed-exitcode` in a child "
            "process (exit 0: no changes); wall, CPU (user+system) and peak RSS of that child, start-up included.",
            "",
            "| media | wall | CPU | peak RSS | GetVideoInfos calls | ListAllMediaBucket pages | calls exact |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Output of the no-op plan: `{large.output}`",
            "",
            "Where the time goes (the CLI's `--log-level info` phase timings; the rest is interpreter start-up, "
            'imports, rendering and exit). A large manifest set loads in a child process ("aside") while this '
            "one reads the state and refreshes, so its time overlaps theirs:",
            "",
            "| media | " + " | ".join(PHASES) + " | rest |",
            "|---|" + "---|" * (len(PHASES) + 1),
            *[_phase_row(m) for m in results],
            "",
            "| goal | result | met |",
            "|---|---|---|",
            *[f"| {goal} | {value} | {'met' if ok else 'not met'} |" for goal, ok, value in goals],
            "",
        ]
    )
