"""The cloud client's own overhead: signed requests per second against a transport that answers at once.

Everything a real call does runs (credentials, pacing, concurrency bound, signing with a fresh nonce and
timestamp, httpx request building, response decoding into models, retry bookkeeping, accounting), except
the network. Pacing is lifted (a huge QPS override) so the client itself is the only limit. The goal is
to be far above the 100 QPS the fastest API allows, so the client is never the bottleneck of an apply.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.models import RegisterMediaRequest, RegisterMetadata
from reconcile.cloud.region_client import RegionClient
from reconcile.cloud.settings import ClientSettings

TITLE = "Cloud client overhead (signed requests per second, in-process transport)"

API_CEILING_QPS = 100  # the highest per-action limit of the APIs reconcile calls
GOAL_RATIO = 10  # "far above": an order of magnitude, i.e. at the ceiling the client needs < 10% of one core
CALLS = 3000
BUCKET = "https://media-in.oss-cn-shanghai.aliyuncs.com"

ANSWERS = {
    "RegisterMedia": json.dumps(
        {
            "RequestId": "0F7C2E49-1B3A-4D5E-8F60-A1B2C3D4E5F6",
            "RegisteredMediaList": [
                {"MediaId": f"{n:032x}", "FileURL": f"{BUCKET}/v/{n}.mp4", "NewRegister": True} for n in range(10)
            ],
            "FailedFileURLs": [],
        }
    ).encode(),
    "GetVideoInfos": json.dumps(
        {
            "RequestId": "9A8B7C6D-5E4F-4A3B-2C1D-0E9F8A7B6C5D",
            "VideoList": [{"VideoId": f"{n:032x}", "Title": "t", "Status": "Normal"} for n in range(20)],
            "NonExistVideoIds": [],
        }
    ).encode(),
}


class InstantTransport(httpx.AsyncBaseTransport):
    """Answers every request at once with the canned body of its action (the V3 header or V1 query)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        action = request.headers.get("x-acs-action") or request.url.params["Action"]
        return httpx.Response(200, content=ANSWERS[action], headers={"content-type": "application/json"})


def register_ten(region: RegionClient, n: int) -> Awaitable[object]:
    metadatas = tuple(
        RegisterMetadata(file_url=f"{BUCKET}/v/{n}-{i}.mp4", title=f"title {n} {i}", tags=("a", "b")) for i in range(10)
    )
    return region.register_media(RegisterMediaRequest(metadatas, template_group_id="VOD_NO_TRANSCODE"))


def get_twenty(region: RegionClient, n: int) -> Awaitable[object]:
    return region.get_video_infos([f"{n:012x}{i:020x}" for i in range(20)])


OPERATIONS: dict[str, tuple[str, Callable[[RegionClient, int], Awaitable[object]]]] = {
    "RegisterMedia (10 files)": ("RegisterMedia", register_ten),
    "GetVideoInfos (20 ids)": ("GetVideoInfos", get_twenty),
}


async def measure(
    version: str, action: str, call: Callable[[RegionClient, int], Awaitable[object]], count: int
) -> tuple[float, float]:
    """(calls per wall-clock second, calls per CPU second of this process)."""
    settings = ClientSettings(signature_version=version, qps={action: 1e9})  # type: ignore[arg-type]
    credentials = StaticCredentials("LTAI5tBenchKeyId", "BenchSecret0123456789", "bench-sts-token")
    async with CloudSession(settings, credentials, transport=InstantTransport()) as session:
        region = session.client("cn-shanghai")
        await asyncio.gather(*(call(region, n) for n in range(50)))  # warm up pools and caches
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(call(region, n) for n in range(count)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        assert session.stats.of(action).calls == count + 50 and session.stats.of(action).errors == 0
    return count / elapsed, count / cpu


def run(workdir: Path) -> str:
    rows = []
    rates = []
    for version in ("v3", "v1"):
        for label, (action, call) in OPERATIONS.items():
            wall, cpu = asyncio.run(measure(version, action, call, CALLS))
            rates.append(cpu)
            rows.append(
                f"| {version.upper()} | {label} | {CALLS} | {wall:,.0f} | {cpu:,.0f} | {cpu / API_CEILING_QPS:,.0f}x |"
            )
    worst = min(rates) / API_CEILING_QPS
    met = "met" if worst >= GOAL_RATIO else "NOT met"
    return "\n".join(
        [
            f"## {TITLE}",
            "",
            "Every call goes through `CloudSession` → `RegionClient`: credentials, per-action pacing (lifted with a",
            "huge `qps` override), the 32-in-flight bound, a fresh nonce and timestamp, signing, httpx request",
            "building, JSON decoding into models, retry bookkeeping and stats. The transport answers at once, in",
            "process, so what is measured is the client alone (single process, one event loop). The machine is",
            "shared, so the goal is judged on requests per CPU-second of this process (what the client costs),",
            "with wall-clock requests per second alongside.",
            "",
            "| signature | operation | calls | requests/s (wall) | requests per CPU-s | CPU rate vs the 100 QPS ceiling |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"Goal: the client is never the bottleneck — at least {GOAL_RATIO}x the fastest API limit "
            f"({API_CEILING_QPS} QPS) per CPU-second, so a run at the ceiling costs under a tenth of a core. "
            f"Slowest case: {worst:,.0f}x. **Goal {met}.**",
            "",
            "Run alone with `.venv/bin/python -m bench client`.",
            "",
        ]
    )
