"""A cold apply at the real QPS limits: 5,000 media over 5 OSS buckets plus 50 input buckets.

Ours: `reconcile apply manifests/ --auto-approve --json` in a child process, exactly as a CI job runs it,
against an emulator at `--qps-scale 1` (RegisterMedia 50/s, BindInputBucket 100/s). The minimum is 500
RegisterMedia (10 files each) + 50 BindInputBucket calls, and RegisterMedia's limit makes 500 / 50 = 10 s the
floor for the apply's calls.

Baseline, same run, fresh emulator, same limits: the official VOD SDK (alibabacloud_vod20170321, V3
signatures) registering one file per call from 10 threads (Terraform's default parallelism), retrying
throttled calls with exponential backoff and jitter. Its throughput is bound by the same 50 calls/s, so a
fixed sample is timed and extrapolated to 5,000 files (set RECONCILE_BENCH_BASELINE_FILES=5000 to time all).
"""

from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from reconcile.emulator.process import RunningEmulator, start_emulator

TITLE = "Apply: 5,000 media + 50 input buckets, cold, at the real QPS limits"
OSS_BUCKETS = 5
MEDIA_PER_BUCKET = 1_000
INPUT_BUCKETS = 50
MEDIA = OSS_BUCKETS * MEDIA_PER_BUCKET
MIN_CALLS = {"RegisterMedia": MEDIA // 10, "BindInputBucket": INPUT_BUCKETS}
FLOOR_SECONDS = MIN_CALLS["RegisterMedia"] / 50
GOAL_RATIO = 1.05
GOAL_SPEEDUP = 9.0
BASELINE_THREADS = 10
BASELINE_SAMPLE = int(os.environ.get("RECONCILE_BENCH_BASELINE_FILES", "1000"))


def file_url(bucket: int, index: int) -> str:
    return f"https://bench-raw-{bucket}.oss-cn-shanghai.aliyuncs.com/shows/ep-{index:04d}.mp4"


def write_manifests(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    buckets = ["region: cn-shanghai", "input_buckets:"]
    buckets += [f"  - bucket: bench-in-{i:02d}" for i in range(INPUT_BUCKETS)]
    (directory / "buckets.yaml").write_text("\n".join(buckets) + "\n")
    for bucket in range(OSS_BUCKETS):
        lines = ["region: cn-shanghai", "media_defaults:", "  template_group_id: VOD_NO_TRANSCODE", "media:"]
        for index in range(MEDIA_PER_BUCKET):
            lines.append(f"  - file_url: {file_url(bucket, index)}")
            lines.append(f"    title: Show {bucket}, episode {index}")
        (directory / f"catalog-{bucket}.yaml").write_text("\n".join(lines) + "\n")


@dataclass
class OurRun:
    command_seconds: float
    apply_seconds: float
    summary: dict[str, Any]
    emulator_stats: dict[str, Any]


def apply_env(emulator_url: str, state: str | Path) -> dict[str, str]:
    """The environment of a `reconcile apply` child against the emulator: its URL and key, this state (a path or
    URL), and the documented limits whole (no RECONCILE_QPS or RECONCILE_QPS_SHARE from the caller's environment)."""
    env = {
        **os.environ,
        "RECONCILE_ENDPOINT": emulator_url,
        "RECONCILE_STATE": str(state),
        "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
        "ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "true",
    }
    for variable in ("RECONCILE_QPS", "RECONCILE_QPS_SHARE"):
        env.pop(variable, None)
    return env


def run_ours(workdir: Path, state: str | None = None) -> OurRun:
    """Our apply in `workdir`, its state in `state` (a path or URL; default `workdir/state.json`)."""
    write_manifests(workdir / "manifests")
    with start_emulator(qps_scale=1.0, auto_objects=True) as emulator:
        # Uploaded, as in a real account: plan's object check lists them (5 ListObjectsV2). Auto objects alone
        # cannot be listed, so it would confirm each of the 5,000 with a HeadObject.
        emulator.control.put_objects([file_url(b, i) for b in range(OSS_BUCKETS) for i in range(MEDIA_PER_BUCKET)])
        env = apply_env(emulator.url, state or workdir / "state.json")
        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-m", "reconcile", "apply", "manifests/", "--auto-approve", "--json"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        command_seconds = time.perf_counter() - started
        if completed.returncode != 0:
            raise RuntimeError(f"reconcile apply exited {completed.returncode}:\n{completed.stderr[-3000:]}")
        events = [json.loads(line) for line in completed.stdout.splitlines()]
        summary = events[-1]
        return OurRun(command_seconds, summary["elapsed_seconds"], summary, emulator.control.stats()["actions"])


@dataclass
class BaselineRun:
    files: int
    seconds: float
    calls: int = 0
    throttled: int = 0
    failures: list[str] = field(default_factory=list)
    emulator_throttled: int = 0


def _sdk_client(url: str) -> Any:
    from alibabacloud_tea_openapi import models as open_api_models
    from alibabacloud_vod20170321.client import Client

    return Client(
        open_api_models.Config(
            access_key_id=DEFAULT_ACCESS_KEY_ID,
            access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
            endpoint=url.removeprefix("http://"),
            protocol="http",
            region_id="cn-shanghai",
            read_timeout=10_000,
            connect_timeout=5_000,
        )
    )


def _naive_worker(emulator: RunningEmulator, files: queue.Queue[str], run: BaselineRun, lock: threading.Lock) -> None:
    """One Terraform-style worker: one RegisterMedia per file, retrying throttles with backoff and jitter."""
    from alibabacloud_vod20170321 import models as vod

    client = _sdk_client(emulator.url)
    rng = random.Random()
    while True:
        try:
            url = files.get_nowait()
        except queue.Empty:
            return
        request = vod.RegisterMediaRequest(register_metadatas=json.dumps([{"FileURL": url, "Title": "t"}]))
        for attempt in range(20):
            with lock:
                run.calls += 1
            try:
                client.register_media(request)
                break
            except Exception as exc:  # the SDK raises several exception types; the code says which error
                if "Throttling" not in str(getattr(exc, "code", "")):
                    with lock:
                        run.failures.append(f"{url}: {exc}")
                    break
                with lock:
                    run.throttled += 1
                time.sleep(rng.uniform(0, min(2.0, 0.05 * 2**attempt)))


def run_baseline(files: int) -> BaselineRun:
    with start_emulator(qps_scale=1.0, auto_objects=True) as emulator:
        pending: queue.Queue[str] = queue.Queue()
        for i in range(files):
            pending.put(file_url(i % OSS_BUCKETS, i // OSS_BUCKETS))
        run = BaselineRun(files=files, seconds=0.0)
        lock = threading.Lock()
        threads = [
            threading.Thread(target=_naive_worker, args=(emulator, pending, run, lock), daemon=True)
            for _ in range(BASELINE_THREADS)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        run.seconds = time.perf_counter() - started
        run.emulator_throttled = emulator.control.stats()["actions"].get("RegisterMedia", {}).get("throttled", 0)
        return run


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def run(workdir: Path) -> str:
    ours = run_ours(workdir)
    baseline = run_baseline(min(BASELINE_SAMPLE, MEDIA))
    summary = ours.summary
    made = summary["calls"]["made"]
    client = summary["client"]
    user_throttle_errors = sum(
        1 for f in summary["failures"] if "Throttling" in f["message"]
    )  # throttles that exhausted the client's retries
    client_throttled = sum(stats["throttled"] for stats in client.values())
    emulator_throttled = sum(ours.emulator_stats[a]["throttled"] for a in ("RegisterMedia", "BindInputBucket"))
    calls_ok = made == MIN_CALLS and summary["ok"] and user_throttle_errors == 0
    ratio = ours.apply_seconds / FLOOR_SECONDS
    extrapolated = baseline.seconds * MEDIA / baseline.files
    speedup = extrapolated / ours.apply_seconds
    sampled = (
        f"all {MEDIA:,} files"
        if baseline.files >= MEDIA
        else f"a sample of {baseline.files:,} files, extrapolated linearly to {MEDIA:,} (its rate is QPS-bound)"
    )
    return "\n".join(
        [
            f"## {TITLE}",
            "",
            "Command: `reconcile apply manifests/ --auto-approve --json` in a child process against "
            "`reconcile emulator --qps-scale 1 --auto-objects` (RegisterMedia 50/s, BindInputBucket 100/s); "
            f"{MEDIA:,} media in {OSS_BUCKETS} OSS buckets + {INPUT_BUCKETS} input buckets, empty state.",
            "",
            "| | figure | goal | |",
            "|---|---|---|---|",
            f"| API calls made | RegisterMedia×{made.get('RegisterMedia', 0)}, "
            f"BindInputBucket×{made.get('BindInputBucket', 0)} | = minimum "
            f"(RegisterMedia×{MIN_CALLS['RegisterMedia']}, BindInputBucket×{MIN_CALLS['BindInputBucket']}), "
            f"no throttling error reaching the user | {_met(calls_ok)} |",
            f"| throttling | {user_throttle_errors} reached the user; client saw {client_throttled} throttled "
            f"attempt(s), emulator rejected {emulator_throttled} | | |",
            f"| apply wall time (first call to final state write) | {ours.apply_seconds:.2f} s | | |",
            f"| ÷ QPS floor ({MIN_CALLS['RegisterMedia']} calls / 50 per s = {FLOOR_SECONDS:.0f} s) | "
            f"{ratio:.3f} | <= {GOAL_RATIO} | {_met(ratio <= GOAL_RATIO)} |",
            f"| whole command (start-up, refresh, plan of {MEDIA + INPUT_BUCKETS:,} resources, apply) | "
            f"{ours.command_seconds:.2f} s | | |",
            f"| baseline: official VOD SDK, 1 file per call, {BASELINE_THREADS} threads | "
            f"{extrapolated:.1f} s for {MEDIA:,} files ({baseline.files / baseline.seconds:.1f} files/s; "
            f"{baseline.calls:,} calls for {baseline.files:,} files, {baseline.throttled:,} throttled and retried, "
            f"{len(baseline.failures)} failed) | | |",
            f"| speed-up (baseline ÷ our apply) | {speedup:.1f}x | >= {GOAL_SPEEDUP:g}x | "
            f"{_met(speedup >= GOAL_SPEEDUP)} |",
            f"| speed-up counting our whole command | {extrapolated / ours.command_seconds:.1f}x | | |",
            "",
            f"Baseline timing: {sampled}. It retries a throttled call after a random wait of up to "
            "min(2 s, 0.05 s × 2^attempt), as a simple client would.",
            "",
        ]
    )
