"""`make demo`: reconcile end to end against a local emulator of MPS + VOD, in under a minute.

Starts the emulator on a free loopback port with the OSS objects the example manifests name, then runs
what a user would type: `reconcile validate manifests/` → `plan` → `apply --auto-approve` → `plan` again
(which must say "No changes."). Each command is the real CLI in a child process, echoed with a `$ ` prompt.
The emulator is stopped on every exit path (success, failure, Ctrl-C); nothing is left running.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a fresh clone without relying on the editable install's path hooks

from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET  # noqa: E402
from reconcile.emulator.process import EmulatorStartError, RunningEmulator, start_emulator  # noqa: E402
from reconcile.manifest import ManifestError, load_desired_state  # noqa: E402

MANIFESTS = "manifests/"
NO_CHANGES = "No changes."
EMULATOR_STATE = "emulator-state.json"
# The apply's own closing figure: how long applying took (the calls and state writes, after planning).
APPLY_ELAPSED = re.compile(r"^Elapsed: (?P<seconds>[0-9]+\.[0-9]) s\.$", re.MULTILINE)


class DemoFailed(Exception):
    """A step did not do what the demo expects; the message says which and why."""


def reconcile_command() -> list[str]:
    """The `reconcile` console script next to this interpreter, or `python -m reconcile` without one."""
    script = Path(sys.executable).with_name("reconcile")
    return [str(script)] if script.exists() else [sys.executable, "-m", "reconcile"]


def heading(text: str) -> None:
    print(f"\n\033[1m## {text}\033[0m" if sys.stdout.isatty() else f"\n## {text}", flush=True)


def run(args: list[str], env: dict[str, str], *, expect: int = 0) -> str:
    """Run `reconcile ARGS` as a user would, echoing the command and its output; return its stdout."""
    print(f"$ reconcile {shlex.join(args)}", flush=True)
    completed = subprocess.run(
        [*reconcile_command(), *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.stdout:
        print(completed.stdout.rstrip("\n"), flush=True)
    if completed.stderr:
        print(completed.stderr.rstrip("\n"), file=sys.stderr, flush=True)
    if completed.returncode != expect:
        raise DemoFailed(f"`reconcile {shlex.join(args)}` exited {completed.returncode}, expected {expect}")
    return completed.stdout


def demo(emulator: RunningEmulator, workdir: Path, file_urls: list[str]) -> None:
    emulator.control.put_objects(file_urls)
    state_file = workdir / "state.json"
    env = {
        **os.environ,
        "RECONCILE_ENDPOINT": emulator.url,
        "RECONCILE_STATE": str(state_file),
        "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
        "ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "true",  # use the emulator's keys, never the user's profile
    }
    env.pop("ALIBABA_CLOUD_SECURITY_TOKEN", None)
    print(f"Emulator: {emulator.url} (MPS + VOD at the real QPS limits, {len(file_urls)} OSS objects)")
    print(f"State:    {state_file}")

    heading("1. Validate the manifests (offline: no credentials, no network)")
    run(["validate", MANIFESTS], env)

    heading("2. Plan: read the account, diff it against the manifests, show the exact API calls")
    run(["plan", MANIFESTS], env)

    heading("3. Apply: make exactly those calls, batched and paced, recording each batch in the state")
    elapsed = APPLY_ELAPSED.search(run(["apply", MANIFESTS, "--auto-approve"], env))
    if elapsed is None:
        raise DemoFailed("the apply did not end with its `Elapsed: N s.` line")

    heading("4. Plan again: the account now matches the manifests")
    if NO_CHANGES not in run(["plan", MANIFESTS], env):
        raise DemoFailed(f"the second plan did not say {NO_CHANGES!r}: apply did not converge")

    heading("5. What the state and the account hold now")
    run(["state", "list"], env)
    summarize(emulator, state_file, elapsed["seconds"])


def summarize(emulator: RunningEmulator, state_file: Path, applied_in: str) -> None:
    """What the account holds now; the apply's time is its own `Elapsed:` figure, quoted, not measured again."""
    account = emulator.control.state()
    stats = emulator.control.stats()["actions"]
    mutating = {"BindInputBucket", "UnbindInputBucket", "RegisterMedia", "UpdateVideoInfos", "DeleteVideo"}
    calls = Counter({action: c["successes"] for action, c in stats.items() if action in mutating})
    inputs = sum(1 for b in account["buckets"] if b["type"] == "Input")
    print(
        f"\nWhat happened: the apply bound {inputs} input buckets and registered {len(account['media'])} media "
        f"with {sum(calls.values())} mutating API calls ({', '.join(f'{a}×{n}' for a, n in sorted(calls.items()))}) "
        f"in {applied_in} s (the apply's `Elapsed:` above: its calls and state writes, after planning); "
        "the second plan made none."
    )
    reconcile = typed_command()
    print("Where to look:")
    if reconcile != "reconcile":
        print(f"  `reconcile` is in the venv, not on your PATH: run {reconcile}, or `. .venv/bin/activate` first")
    print(f"  the state (what reconcile manages): {state_file}")
    print(f"      {reconcile} state list --state {state_file}")
    print(f"  the emulated account, saved when the emulator stops: {state_file.parent / EMULATOR_STATE}")
    print(f"  run an emulator yourself: {reconcile} emulator --help (GET /_emulator/state and /_emulator/stats)")
    print(f"  your own account: unset RECONCILE_ENDPOINT, set your access key, run `{reconcile} plan {MANIFESTS}`")


def typed_command() -> str:
    """How to type `reconcile` in this checkout: `.venv/bin/reconcile` when that is the one the demo ran."""
    command = reconcile_command()
    if len(command) > 1:  # python -m reconcile
        return "reconcile"
    try:
        return str(Path(command[0]).relative_to(ROOT))
    except ValueError:
        return "reconcile"


def main() -> int:
    os.chdir(ROOT)
    try:
        desired = load_desired_state([MANIFESTS])
    except ManifestError as exc:
        print("\n".join(str(d) for d in exc.diagnostics), file=sys.stderr)
        print(f"demo: the example manifests in {MANIFESTS} are invalid", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="reconcile-demo-"))
    emulator: RunningEmulator | None = None
    try:
        emulator = start_emulator(port=0, qps_scale=1.0, state_file=workdir / EMULATOR_STATE)
        demo(emulator, workdir, [m.file_url for m in desired.media])
    except DemoFailed as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    except EmulatorStartError as exc:
        print(f"demo failed: the emulator did not start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo interrupted", file=sys.stderr)
        return 130
    finally:
        if emulator is not None:
            emulator.stop()
            print("\nEmulator stopped.", flush=True)
    print(f"Demo complete. (The demo's state stays in {workdir}; delete it with `rm -r {workdir}`.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
