"""A no-op `reconcile plan`: what a user waits for at the account's real QPS limits, and its CPU cost.

Setup per size: manifests declaring N media (and a few input buckets); the emulator's `--state-file` and the
reconcile state written directly (the account and the state a finished apply leaves, without paying for the
apply); an emulator process. Three tables:
- real limits (20k, 50k): the emulator at `--qps-scale 1` and the client at its defaults, so the refresh's
  reads are paced at 100/s per read action. Its floor is the read plan's: max over actions of calls / limit.
- CPU-bound (10k, 100k): emulator limits x1000 and the client told the same, so pacing does not dominate.
- large (100k, 1M, CPU-bound): only under `make bench-large` (RECONCILE_BENCH_LARGE=1): minutes of set-up.
The measured command is `reconcile plan ... --detailed-exitcode` in a child process spawned by a bare
interpreter (bench/child.py): wall time, CPU time and peak RSS are that child's alone, start-up included.
The refresh must make exactly the calls its read plan chose; the emulator's own counters confirm it.
"""

from __future__ import annotations

import math
import os
import re
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.child import run_child
from reconcile.cloud.limits import LIST_BUCKETS_PAGE_MAX, QPS_LIMITS
from reconcile.emulator.backend import EmulatorBackend
from reconcile.emulator.clock import SystemClock
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from reconcile.emulator.persistence import save_state
from reconcile.emulator.process import start_emulator
from reconcile.emulator.vod import RegisterItem
from reconcile.engine.attributes import applied_state
from reconcile.engine.reads import plan_reads
from reconcile.manifest import load_desired_state
from reconcile.manifest.desired import DesiredState
from reconcile.state import ResourceState, StateDocument, open_store

TITLE = "No-op plan at the real QPS limits (20k, 50k media) and CPU-bound (10k, 100k)"
REAL_SIZES = (20_000, 50_000)
CPU_SIZES = (10_000, 100_000)
LARGE_SIZES = (100_000, 1_000_000)
LARGE_ENV = "RECONCILE_BENCH_LARGE"
FILES = 10
BUCKETS = 5
CPU_QPS_SCALE = 1000.0  # emulator limits x1000: GetVideoInfos and SearchMedia 100,000/s each
GOAL_REAL_SECONDS = 8.0  # 50k at the real limits
GOAL_REAL_RSS_MIB = 200.0 * 1000 * 1000 / 2**20  # 200 MB
GOAL_CPU_SECONDS = 10.0
GOAL_CPU_GROWTH = 12.0
GOAL_LARGE_RSS_MIB = 2.0 * 1000**3 / 2**20  # 2 GB
GOAL_LARGE_GROWTH = 11.0
READ_ACTIONS = ("SearchMedia", "GetVideoInfos", "ListAllMediaBucket")
# Figures of the same scenario before the SearchMedia read path and the memory work (commit d1ee5e1: GetVideoInfos
# only), measured on this machine with this file's set-up: (wall s, CPU s, peak RSS MiB, GetVideoInfos calls).
BEFORE_REAL: dict[int, tuple[float, float, float, int]] = {
    20_000: (11.31, 4.44, 163, 1000),
    50_000: (27.74, 10.30, 328, 2500),
}
BEFORE_CPU: dict[int, tuple[float, float, float, int]] = {100_000: (45.26, 16.17, 604, 5000)}

_ACCOUNTING = re.compile(r"API calls made while planning: (\d+) \(([^)]*)\)")
_PHASE = re.compile(r"reconcile\.plan: (load manifests|read state|refresh|diff): ([\d.]+) s \(([\d.]+) s CPU\)")
_LOADED_ASIDE = re.compile(r"reconcile\.plan: load manifests: .* in a child process")
PHASES = ("load manifests", "read state", "refresh", "diff")


@dataclass(frozen=True)
class Measure:
    size: int
    qps_scale: float
    wall: float
    cpu: float
    peak_mib: float
    reads: dict[str, int]  # calls the CLI reports, per action
    served: dict[str, int]  # calls the emulator counted, per action
    expected: dict[str, int]  # the read plan's calls
    floor: float  # seconds: the chosen read plan at the paced limits
    output: str
    phases: dict[str, tuple[float, float]]  # phase → (wall, CPU) seconds, from the CLI's own info log
    loaded_aside: bool  # the manifests loaded in a child process, alongside the state read and refresh

    @property
    def exact(self) -> bool:
        return self.reads == self.expected == self.served

    def calls(self) -> str:
        return ", ".join(f"{a} {self.served[a]:,}" for a in READ_ACTIONS if self.served.get(a))


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
        resources.append(applied_state(b))
    groups: dict[tuple[str, str | None], list[int]] = {}
    for i, m in enumerate(desired.media):
        groups.setdefault((m.storage_location, m.attributes.template_group_id), []).append(i)
    remote_ids: dict[int, str] = {}
    for (_, template_group), indexes in groups.items():
        for start in range(0, len(indexes), 10):
            batch = indexes[start : start + 10]
            items = [_register_item(desired, i) for i in batch]
            result = backend.vod.register_media(items, template_group_id=template_group)
            remote_ids.update(zip(batch, (r.media_id for r in result.registered), strict=True))
    resources += [applied_state(m, remote_ids[i]) for i, m in enumerate(desired.media)]
    save_state(emulator_state, backend.to_state())
    open_store(state_path).write(StateDocument(lineage=str(uuid.uuid4()), resources=resources))


def _register_item(desired: DesiredState, index: int) -> RegisterItem:
    m = desired.media[index]
    a = m.attributes
    tags = ",".join(a.tags) if a.tags else None
    return RegisterItem(file_url=m.file_url, title=a.title or "", description=a.description, tags=tags)


def prepare(workdir: Path, size: int) -> tuple[Path, Path, Path, int, int]:
    """Manifests, emulator state and reconcile state for `size` media (made once per size and reused)."""
    directory = workdir / f"n{size}"
    manifests, emulator_state, state_path = (
        directory / "manifests",
        directory / "emulator.json",
        directory / "state.json",
    )
    if not state_path.exists():
        manifests.mkdir(parents=True, exist_ok=True)
        write_manifests(manifests, size)
        desired = load_desired_state([str(manifests)])
        converge(desired, emulator_state, state_path)
    buckets = sum(1 for number in range(FILES) for _ in range(BUCKETS // FILES + (number < BUCKETS % FILES)))
    return directory, manifests, emulator_state, state_path, buckets


def expected_reads(size: int, buckets: int, limits: Mapping[str, float]) -> dict[str, int]:
    reads = plan_reads(size, limits)
    expected = {"ListAllMediaBucket": math.ceil(buckets / LIST_BUCKETS_PAGE_MAX)}
    expected.update({a: n for a, n in (("SearchMedia", reads.search_calls), ("GetVideoInfos", reads.get_calls)) if n})
    return expected


def measure(workdir: Path, size: int, qps_scale: float) -> Measure:
    directory, manifests, emulator_state, state_path, buckets = prepare(workdir, size)
    limits = {action: limit * qps_scale for action, limit in QPS_LIMITS.items()}
    env = {
        **os.environ,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
        "NO_COLOR": "1",
    }
    env.pop("RECONCILE_QPS", None)
    if qps_scale != 1:
        env["RECONCILE_QPS"] = ",".join(f"{action}={limit:g}" for action, limit in limits.items())
    with start_emulator(state_file=emulator_state, qps_scale=qps_scale, auto_objects=True) as emulator:
        command = [sys.executable, "-m", "reconcile", "plan", str(manifests), "--state", str(state_path),
                   "--endpoint", emulator.url, "--detailed-exitcode", "--log-level", "info"]  # fmt: skip
        run = run_child(command, cwd=directory, env=env)
        served = {a: c["calls"] for a, c in emulator.control.stats()["actions"].items() if c["calls"]}
    if run.code != 0:
        raise RuntimeError(f"the no-op plan exited {run.code} (expected 0):\n{run.out[-2000:]}\n{run.err[-2000:]}")
    found = _ACCOUNTING.search(run.out)
    reads = dict(_parse_call(item) for item in found[2].split(", ")) if found else {}
    expected = expected_reads(size, buckets, limits)
    floor = max(calls / (limits[action] * 0.97) for action, calls in expected.items() if action != "ListAllMediaBucket")
    phases = {name: (float(w), float(c)) for name, w, c in _PHASE.findall(run.err)}
    aside = _LOADED_ASIDE.search(run.err) is not None
    first = run.out.splitlines()[0] if run.out else ""
    return Measure(size, qps_scale, run.wall_seconds, run.cpu_seconds, run.peak_rss_mib, reads, served, expected,
                   floor, first, phases, aside)  # fmt: skip


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


def _mb(mib: float) -> str:
    return f"{mib:.0f} MiB ({mib * 2**20 / 1e6:.0f} MB)"


def real_table(results: list[Measure]) -> list[str]:
    rows = []
    for m in results:
        rows.append(
            f"| {m.size:,} | {m.wall:.2f} s | {m.floor:.2f} s | {m.wall / m.floor:.2f}x | {m.cpu:.2f} s | "
            f"{_mb(m.peak_mib)} | {m.calls()} | {'yes' if m.exact else 'NO'} |"
        )
        before = BEFORE_REAL.get(m.size)
        if before:
            wall, cpu, rss, calls = before
            rows.append(
                f"| {m.size:,} before | {wall:.2f} s | {calls / 97:.2f} s | {wall / (calls / 97):.2f}x | {cpu:.2f} s | "
                f"{_mb(rss)} | GetVideoInfos {calls:,} | yes |"
            )
    return [
        "| media | wall | read floor | wall / floor | CPU | peak RSS | read calls (emulator's count) | as planned |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ]


def cpu_table(results: list[Measure], before: Mapping[int, tuple[float, float, float, int]]) -> list[str]:
    rows = []
    for m in results:
        rows.append(
            f"| {m.size:,} | {m.wall:.2f} s | {m.cpu:.2f} s | {_mb(m.peak_mib)} | {m.calls()} | "
            f"{'yes' if m.exact else 'NO'} |"
        )
        if m.size in before:
            wall, cpu, rss, calls = before[m.size]
            rows.append(
                f"| {m.size:,} before | {wall:.2f} s | {cpu:.2f} s | {_mb(rss)} | GetVideoInfos {calls:,} | yes |"
            )
    return [
        "| media | wall | CPU | peak RSS | read calls (emulator's count) | as planned |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def run_large(workdir: Path) -> list[str]:
    results = [measure(workdir, size, CPU_QPS_SCALE) for size in LARGE_SIZES]
    small, large = results[0], results[-1]
    growth = large.cpu / small.cpu
    goals = [
        (f"1M peak RSS <= {GOAL_LARGE_RSS_MIB:.0f} MiB (2 GB)", large.peak_mib <= GOAL_LARGE_RSS_MIB, _mb(large.peak_mib)),
        (f"CPU growth 100k → 1M <= {GOAL_LARGE_GROWTH:.0f}x", growth <= GOAL_LARGE_GROWTH, f"{growth:.1f}x"),
        ("read calls as planned", all(m.exact for m in results), "exact" if all(m.exact for m in results) else "differs"),
    ]  # fmt: skip
    return [
        f"### 1,000,000 media (`make bench-large`; CPU-bound, emulator x{CPU_QPS_SCALE:g})",
        "",
        *cpu_table(results, {}),
        "",
        "| media | " + " | ".join(PHASES) + " | rest |",
        "|---|" + "---|" * (len(PHASES) + 1),
        *[_phase_row(m) for m in results],
        "",
        *_goal_rows(goals),
    ]


def _goal_rows(goals: list[tuple[str, bool, str]]) -> list[str]:
    return [
        "| goal | result | met |",
        "|---|---|---|",
        *[f"| {goal} | {value} | {'met' if ok else 'not met'} |" for goal, ok, value in goals],
    ]


def run(workdir: Path) -> str:
    real = [measure(workdir, size, 1.0) for size in REAL_SIZES]
    cpu = [measure(workdir, size, CPU_QPS_SCALE) for size in CPU_SIZES]
    large = run_large(workdir) if os.environ.get(LARGE_ENV) == "1" else []
    at50k, small, big = real[-1], cpu[0], cpu[-1]
    goals = [
        (f"{at50k.size // 1000}k at the real limits: wall <= {GOAL_REAL_SECONDS:.0f} s", at50k.wall <= GOAL_REAL_SECONDS,
         f"{at50k.wall:.2f} s"),
        (f"{at50k.size // 1000}k at the real limits: peak RSS <= 200 MB", at50k.peak_mib <= GOAL_REAL_RSS_MIB,
         _mb(at50k.peak_mib)),
        (f"CPU-bound 100k: wall <= {GOAL_CPU_SECONDS:.0f} s", big.wall <= GOAL_CPU_SECONDS, f"{big.wall:.2f} s"),
        (f"CPU-bound growth 10k → 100k <= {GOAL_CPU_GROWTH:.0f}x", big.wall / small.wall <= GOAL_CPU_GROWTH,
         f"{big.wall / small.wall:.1f}x"),
        ("read calls as planned, no mutating call", all(m.exact for m in real + cpu),
         "exact" if all(m.exact for m in real + cpu) else "differs"),
    ]  # fmt: skip
    return "\n".join(
        [
            f"## {TITLE}",
            "",
            f"Setup: {FILES} manifest files with N media and {BUCKETS} input buckets; the emulator's state file and the "
            "reconcile state written directly as a finished apply leaves them (`bench/scenario_plan.py`). Measured: "
            "`python -m reconcile plan <dir> --state <file> --endpoint <emulator> --detailed-exitcode` in a child "
            "process (exit 0: no changes); wall, CPU (user+system) and peak RSS of that child, start-up included.",
            "",
            "### At the account's real limits (emulator `--qps-scale 1`, client at its defaults)",
            "",
            "The refresh reads the state's media with `SearchMedia` (`VideoId in (...)`, 100 per page) and "
            "`GetVideoInfos` (20 per call) side by side, each paced at 97% of its own 100/s; the read floor is "
            "the slower of the two at that pace. Rows marked *before* are the GetVideoInfos-only refresh this "
            "replaced, measured with the same set-up.",
            "",
            *real_table(real),
            "",
            "| media | " + " | ".join(PHASES) + " | rest |",
            "|---|" + "---|" * (len(PHASES) + 1),
            *[_phase_row(m) for m in real],
            "",
            f"### CPU-bound (emulator `--qps-scale {CPU_QPS_SCALE:g}`, client limits raised to match)",
            "",
            *cpu_table(cpu, BEFORE_CPU),
            "",
            f"Output of the no-op plan: `{big.output}`",
            "",
            "Where the time goes (the CLI's `--log-level info` phase timings; the rest is interpreter start-up, "
            'imports, rendering and exit). A large manifest set loads in a child process ("aside") while this '
            "one reads the state and refreshes, so its time overlaps theirs:",
            "",
            "| media | " + " | ".join(PHASES) + " | rest |",
            "|---|" + "---|" * (len(PHASES) + 1),
            *[_phase_row(m) for m in cpu],
            "",
            *_goal_rows(goals),
            "",
            *(large or ["The 1,000,000-media run takes minutes of set-up: `make bench-large` runs it.", ""]),
            "",
        ]
    )
