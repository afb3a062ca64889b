"""Import: 3,000 media over 3 OSS buckets plus 10 input buckets, at the real QPS limits.

The account is filled by `reconcile apply` (the quickest way to register 3,000 files), its state is then
thrown away, and `reconcile import --region cn-shanghai --out imported` runs in a child process, exactly as
a user runs it, against the emulator at `--qps-scale 1`. Its floor is the reads it must make, one action
after the other: 1 ListAllMediaBucket, 31 SearchMedia (30 pages of video, 1 of audio) at 100/s, then 3,000
GetMezzanineInfo at 100/s: 30.3 s. Goal: within 10% of the floor. Then `reconcile plan imported
--detailed-exitcode` must exit 0 having made no mutating call.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from reconcile.emulator.process import start_emulator

TITLE = "Import: 3,000 media + 10 input buckets, at the real QPS limits"
OSS_BUCKETS = 3
MEDIA_PER_BUCKET = 1_000
INPUT_BUCKETS = 10
MEDIA = OSS_BUCKETS * MEDIA_PER_BUCKET
SEARCH_CALLS = MEDIA // 100 + 1  # video pages, plus the (empty) first page of the audio search
FLOOR_SECONDS = 1 / 10 + SEARCH_CALLS / 100 + MEDIA / 100
GOAL_RATIO = 1.10
MUTATING = ("RegisterMedia", "UpdateVideoInfos", "DeleteVideo", "BindInputBucket", "UnbindInputBucket")


def write_manifests(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    buckets = ["region: cn-shanghai", "input_buckets:"]
    buckets += [f"  - bucket: bench-in-{i:02d}" for i in range(INPUT_BUCKETS)]
    (directory / "buckets.yaml").write_text("\n".join(buckets) + "\n")
    for bucket in range(OSS_BUCKETS):
        lines = ["region: cn-shanghai", "media:"]
        for index in range(MEDIA_PER_BUCKET):
            lines.append(f"  - file_url: https://bench-lib-{bucket}.oss-cn-shanghai.aliyuncs.com/ep-{index:04d}.mp4")
            lines.append(f"    title: Show {bucket} episode {index}")
            lines.append(f"    tags: [show-{bucket}, season-{index % 7}]")
        (directory / f"catalog-{bucket}.yaml").write_text("\n".join(lines) + "\n")


def reconcile(workdir: Path, env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "reconcile", *args], cwd=workdir, env=env, capture_output=True, text=True, check=False
    )
    return done, time.perf_counter() - started


def run(workdir: Path) -> str:
    write_manifests(workdir / "scripts")
    with start_emulator(qps_scale=1.0, auto_objects=True) as emulator:
        env = {
            **os.environ,
            "RECONCILE_ENDPOINT": emulator.url,
            "RECONCILE_STATE": str(workdir / "state.json"),
            "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
            "ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "true",
        }
        env.pop("RECONCILE_QPS", None)
        filled, _ = reconcile(workdir, env, "apply", "scripts/", "--auto-approve", "--json")
        if filled.returncode != 0:
            raise RuntimeError(f"filling the account failed:\n{filled.stderr[-3000:]}")
        for leftover in workdir.glob("state.json*"):
            leftover.unlink()  # the account stays; reconcile forgets it, as if scripts had filled it
        before = {a: s["calls"] for a, s in emulator.control.stats()["actions"].items() if a in MUTATING}
        imported, seconds = reconcile(
            workdir, env, "import", "--region", "cn-shanghai", "--out", "imported", "--log-level", "info"
        )
        if imported.returncode != 0:
            raise RuntimeError(f"reconcile import exited {imported.returncode}:\n{imported.stderr[-3000:]}")
        planned, plan_seconds = reconcile(workdir, env, "plan", "imported", "--detailed-exitcode")
        after = {a: s["calls"] for a, s in emulator.control.stats()["actions"].items() if a in MUTATING}
    calls = re.search(r"API calls made while importing: .*", imported.stdout)
    phases = [line.split("INFO", 1)[-1].strip(" :") for line in imported.stderr.splitlines() if "import: " in line]
    ratio = seconds / FLOOR_SECONDS
    no_op = planned.returncode == 0 and after == before
    met = ratio <= GOAL_RATIO and no_op
    return "\n".join(
        [
            f"## {TITLE}",
            "",
            f"- `reconcile import`, whole command in a child process: **{seconds:.1f} s**, "
            f"**{ratio:.3f}x** the {FLOOR_SECONDS:.1f} s floor of its paced reads (goal ≤ {GOAL_RATIO:.2f}x).",
            f"- {calls.group(0) if calls else 'call accounting missing'}",
            *(f"  - {phase}" for phase in phases),
            f"- then `reconcile plan imported --detailed-exitcode`: exit {planned.returncode} in {plan_seconds:.1f} s; "
            f"mutating calls during import and plan: {sum(after.values()) - sum(before.values())}.",
            f"- Goal {'met' if met else 'NOT met'}.",
            "",
        ]
    )
