"""Emulator throughput: how many signed requests per second a real emulator process answers, unthrottled.

The apply benchmark runs RegisterMedia at its 50/s limit and the plan benchmark needs ~500 GetVideoInfos/s;
this shows the emulator is never what limits them. A load generator in a second process keeps many
keep-alive connections busy with V3-signed requests (fresh nonce and signature each), written over raw
asyncio streams so the generator costs far less CPU than the server it measures.

Run alone: `python -m bench emulator`. The load generator: `python -m bench.scenario_emulator --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconcile.cloud.limits import VOD_VERSION
from reconcile.cloud.signing import (
    canonical_query,
    sha256_hex,
    v3_authorization,
    v3_canonical_request,
    v3_signature,
    v3_string_to_sign,
)
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from reconcile.emulator.process import start_emulator

TITLE = "Emulator throughput (unthrottled, real process)"
PHASE_SECONDS = 4.0
CONNECTIONS = 32
GOALS = {"RegisterMedia": 50.0, "GetVideoInfos": 500.0}  # what the apply and plan benchmarks need
BUCKET_HOST = "bench-media.oss-cn-shanghai.aliyuncs.com"


# --- load generator (runs in its own process) ------------------------------------------------------------


class SignedRequests:
    """Builds V3-signed RegisterMedia (10 new files each) or GetVideoInfos (20 ids) request bytes."""

    def __init__(self, host: str, action: str, video_ids: list[str], tag: str) -> None:
        self.host = host
        self.action = action
        self.video_ids = ",".join(video_ids)
        self.tag = tag
        self.counter = 0

    def params(self) -> dict[str, str]:
        if self.action == "GetVideoInfos":
            return {"VideoIds": self.video_ids}
        start = self.counter * 10
        files = [{"FileURL": f"https://{BUCKET_HOST}/{self.tag}/{start + i}.mp4", "Title": "bench"} for i in range(10)]
        return {"RegisterMetadatas": json.dumps(files, separators=(",", ":"))}

    def next(self) -> bytes:
        self.counter += 1
        query = self.params()
        headers = {
            "host": self.host,
            "x-acs-action": self.action,
            "x-acs-version": VOD_VERSION,
            "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "x-acs-signature-nonce": f"{self.tag}-{self.counter}",
            "x-acs-content-sha256": sha256_hex(b""),
        }
        signed = sorted(headers)
        canonical = v3_canonical_request("POST", "/", query, headers, signed, headers["x-acs-content-sha256"])
        signature = v3_signature(DEFAULT_ACCESS_KEY_SECRET, v3_string_to_sign(canonical))
        headers["authorization"] = v3_authorization(DEFAULT_ACCESS_KEY_ID, signed, signature)
        lines = [f"POST /?{canonical_query(query)} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
        return ("\r\n".join([*lines, "content-length: 0", "", ""])).encode()


async def _connection(host: str, port: int, requests: SignedRequests, deadline: float, tally: dict[str, int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            writer.write(requests.next())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            key = "ok" if status == 200 else f"http_{status}"
            tally[key] = tally.get(key, 0) + 1
    finally:
        writer.close()


async def generate_load(
    url: str, action: str, seconds: float, connections: int, video_ids: list[str]
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    tally: dict[str, int] = {}
    started = time.perf_counter()
    deadline = started + seconds
    tasks = [
        _connection(
            host, port, SignedRequests(f"{host}:{port}", action, video_ids, f"{os.getpid()}-{i}"), deadline, tally
        )
        for i in range(connections)
    ]
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    cpu = time.process_time()
    return {"action": action, "seconds": elapsed, "tally": tally, "loadgen_cpu_seconds": cpu}


def _loadgen_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scenario_emulator", description="Signed load generator.")
    parser.add_argument("--url", required=True)
    parser.add_argument("--action", choices=sorted(GOALS), required=True)
    parser.add_argument("--seconds", type=float, default=PHASE_SECONDS)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--video-ids", default="")
    args = parser.parse_args(argv)
    ids = [v for v in args.video_ids.split(",") if v]
    result = asyncio.run(generate_load(args.url, args.action, args.seconds, args.connections, ids))
    print(json.dumps(result))
    return 0


# --- scenario ---------------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _phase(url: str, pid: int, action: str, video_ids: list[str]) -> dict[str, Any]:
    before = _cpu_seconds(pid)
    command = [sys.executable, "-m", "bench.scenario_emulator", "--url", url, "--action", action]
    command += ["--seconds", str(PHASE_SECONDS), "--connections", str(CONNECTIONS), "--video-ids", ",".join(video_ids)]
    output = subprocess.run(
        command, check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent
    )
    result: dict[str, Any] = json.loads(output.stdout)
    result["server_cpu_seconds"] = _cpu_seconds(pid) - before
    result["rps"] = sum(result["tally"].values()) / result["seconds"]
    return result


def run(workdir: Path) -> str:
    with start_emulator(auto_objects=True, qps_scale=0, extra_args=["--seed", "1"]) as emulator:
        register = _phase(emulator.url, emulator.pid, "RegisterMedia", [])
        ids = [m["media_id"] for m in emulator.control.state()["media"][:20]]
        infos = _phase(emulator.url, emulator.pid, "GetVideoInfos", ids)
        media_count = len(emulator.control.state()["media"])
        protocol = "httptools" if _importable("httptools") else "h11"
        loop = "uvloop" if _importable("uvloop") else "asyncio"
    rows = []
    verdicts = []
    for result in (register, infos):
        goal = GOALS[result["action"]]
        errors = sum(n for k, n in result["tally"].items() if k != "ok")
        met = result["rps"] >= goal and errors == 0
        verdicts.append(met)
        rows.append(
            f"| {result['action']} | {result['rps']:.0f} | {goal:.0f} | {result['rps'] / goal:.1f}x | {errors} "
            f"| {result['server_cpu_seconds'] / result['seconds']:.0%} | {result['loadgen_cpu_seconds'] / result['seconds']:.0%} "
            f"| {'met' if met else 'NOT met'} |"
        )
    (workdir / "results.json").write_text(json.dumps([register, infos], indent=1))
    return "\n".join(
        [
            f"## {TITLE}",
            "",
            "| action (per request) | requests/s | needed | headroom | errors | emulator CPU | load-gen CPU | goal |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"RegisterMedia registers 10 new files per request ({register['tally'].get('ok', 0) * 10} registered, "
            f"{media_count} media in the account when GetVideoInfos ran); GetVideoInfos asks for 20 ids. "
            f"Every request is V3-signed with a fresh nonce and checked in full (signature, timestamp, nonce).",
            "",
            f"Setup: `reconcile emulator --port 0 --auto-objects --qps-scale 0` (HTTP parser: {protocol}, loop: {loop}); "
            f"a second process keeps {CONNECTIONS} keep-alive connections busy for {PHASE_SECONDS:.0f} s per action. "
            "CPU columns are CPU seconds per wall second (100% = one core): an emulator near 100% is the bottleneck.",
            "",
            f"Goal: the emulator outpaces what the apply (50 RegisterMedia/s) and plan (~500 GetVideoInfos/s) "
            f"benchmarks need: **{'met' if all(verdicts) else 'not met'}**.",
            "",
        ]
    )


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


if __name__ == "__main__":
    sys.exit(_loadgen_main(sys.argv[1:]))
