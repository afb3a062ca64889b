"""`reconcile plan`, `show` and `drift` through main([...]): output streams, saved plans and exit codes.

The commands run in-process against an in-process emulator: only the client session is substituted (its
transport), everything else is the real CLI, manifest loader and local state file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconcile.cli import apply as apply_cli
from reconcile.cli import drift as drift_cli
from reconcile.cli import plan as plan_cli
from reconcile.cli.main import main
from reconcile.cloud.client import CloudSession
from reconcile.cloud.credentials import StaticCredentials
from reconcile.cloud.settings import ClientSettings
from reconcile.emulator.app import emulator_transport
from reconcile.emulator.config import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from reconcile.emulator.faults import FaultRules
from reconcile.engine.plan import PlanSource
from reconcile.manifest import load_desired_state
from reconcile.state import open_store
from tests.engine.builders import write_manifest

MANIFEST = """
region: cn-shanghai
input_buckets:
  - bucket: media-in
    referer: https://www.example.org
media:
  - name: intro
    file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/videos/intro.mp4
    title: Intro
    tags: [launch, promo]
"""
STATE = ".reconcile/state.json"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


class Cli:
    def __init__(self, directory: Path, account, capsys) -> None:
        self.directory = directory
        self.account = account
        self.capsys = capsys

    def write(self, text: str, name: str = "prod.yaml") -> str:
        return write_manifest(self.directory, text, name)

    def converge(self, text: str = MANIFEST) -> None:
        """The account and the state as a finished apply of `text` leaves them."""
        document = self.account.converge(load_desired_state([self.write(text)]))
        open_store(STATE).write(document.model_copy(update={"serial": 0}))

    def run(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = main(list(args))
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def cli(tmp_path, account, capsys, monkeypatch) -> Cli:
    def session(settings):
        credentials = StaticCredentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
        return CloudSession(settings, credentials, transport=emulator_transport(account.app))

    monkeypatch.setattr(plan_cli, "open_session", session)
    monkeypatch.setattr(apply_cli, "open_session", session)
    monkeypatch.setattr(drift_cli, "open_session", session)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILE_STATE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return Cli(tmp_path, account, capsys)


PLANNING_CALLS = "API calls made while planning: 2 (GetVideoInfos×1, ListAllMediaBucket×1); 0 retries, 0 throttled"


# plan


def test_converged_plan_exits_0_even_with_detailed_exitcode(cli):
    cli.converge()
    for extra in ([], ["--detailed-exitcode"]):
        result = cli.run("plan", "manifests", *extra)
        assert result.code == 0
        assert result.out == f"No changes. The account matches the manifests.\n\n{PLANNING_CALLS}\n"
        assert result.err == ""


def test_changes_exit_2_only_with_detailed_exitcode(cli):
    cli.write(MANIFEST)
    assert cli.run("plan", "manifests/prod.yaml").code == 0
    result = cli.run("plan", "manifests/prod.yaml", "--detailed-exitcode")
    assert result.code == 2
    assert "Plan: 1 to register, 1 to bind, 0 to update, 0 to replace, 0 to unbind, 0 to delete — " in result.out
    assert result.out.endswith(
        "API calls: BindInputBucket×1, RegisterMedia×1\n\n"
        "API calls made while planning: 2 (HeadObject×1, ListAllMediaBucket×1); 0 retries, 0 throttled\n"
    )


def test_json_goes_to_stdout_and_accounting_to_stderr(cli):
    cli.converge()
    result = cli.run("plan", "manifests", "--format", "json")
    document = json.loads(result.out)
    assert (document["format_version"], document["has_changes"]) == ("1.4", False)
    assert result.err == PLANNING_CALLS + "\n"


def test_markdown_goes_to_stdout_and_accounting_to_stderr(cli):
    cli.write(MANIFEST)
    result = cli.run("plan", "manifests", "--format", "markdown")
    assert result.out.startswith("### reconcile plan\n\n**Plan: 1 to register, 1 to bind,")
    assert (
        result.err == "API calls made while planning: 2 (HeadObject×1, ListAllMediaBucket×1); 0 retries, 0 throttled\n"
    )


def test_saved_plan_is_shown_exactly_as_planned(cli):
    cli.write(MANIFEST)
    planned = cli.run("plan", "manifests", "--out", "plan.bin")
    assert planned.code == 0
    assert "Saved the plan to plan.bin: `reconcile apply plan.bin` applies exactly these calls." in planned.out
    shown = cli.run("show", "plan.bin")
    assert shown.code == 0
    assert planned.out.startswith(shown.out)
    for fmt in ("json", "markdown"):
        # The same plan, made again: only its creation time may differ (a second can tick in between).
        shown, again = (_created_blanked(cli.run(*args, "--format", fmt).out) for args in SHOW_AND_PLAN_AGAIN)
        assert shown == again


SHOW_AND_PLAN_AGAIN = (("show", "plan.bin"), ("plan", "manifests"))


def _created_blanked(out: str) -> str:
    return re.sub(r'"created": "[0-9T:Z-]+"', '"created": "…"', out)


def test_without_refresh_no_call_is_made(cli):
    cli.converge()
    cli.account.unbind("media-in")  # invisible without refresh
    result = cli.run("plan", "manifests", "--refresh=false", "--detailed-exitcode")
    assert (result.code, result.out) == (
        0,
        "No changes against the state (the account was not read: --refresh=false).\n",
    )
    assert cli.account.stats() == {}


def test_a_plan_with_errors_exits_1_and_is_not_saved(cli):
    cli.account.bind_output("media-in")
    cli.write(MANIFEST)
    result = cli.run("plan", "manifests", "--out", "plan.bin")
    assert result.code == 1
    assert "manifests/prod.yaml:3:5: error: input_bucket.media-in: bucket 'media-in' is bound to MPS" in result.out
    assert result.err == "error: the plan has 1 error(s), listed above; fix them and plan again\n"
    assert not Path("plan.bin").exists()


def test_manifest_problems_are_reported_with_their_location(cli):
    cli.write("region: cn-shanghai\nmedia:\n  - file_url: https://media-in.oss-cn-shanghai.aliyuncs.com/a.txt\n")
    result = cli.run("plan", "manifests")
    assert result.code == 1
    assert result.out == ""
    lines = result.err.splitlines()
    # the loader's diagnostics, each at its path:line:col (their wording is the manifest tests' business)
    assert [line.split(" ", 1)[0] for line in lines[:2]] == ["manifests/prod.yaml:3:5:", "manifests/prod.yaml:3:15:"]
    assert lines[2:] == ["error: the manifests have 2 problem(s), listed above"]


def test_an_unreadable_state_is_an_error_not_a_traceback(cli):
    cli.write(MANIFEST)
    Path(".reconcile").mkdir()
    Path(STATE).write_text("{not json")
    result = cli.run("plan", "manifests")
    assert result.code == 1
    assert result.err.startswith("error: state file .reconcile/state.json is not valid JSON (key must be a string")
    assert result.err.count("\n") == 1  # one line, no traceback


def test_cloud_failure_is_an_error_not_a_traceback(cli):
    cli.converge()
    cli.account.app.gateway.faults.rules = FaultRules.from_dict(
        {"rules": [{"action": "ListAllMediaBucket", "error": {"status": 403, "code": "Forbidden"}}]}
    )
    result = cli.run("plan", "manifests")
    assert result.code == 1
    assert re.fullmatch(
        r"error: could not read the account: ListAllMediaBucket: Forbidden \(HTTP 403\): User not authorized to "
        r"operate on the specified resource\. \(request id [0-9A-F-]{36}\)\n",
        result.err,
    )


# show


def test_a_plan_saved_as_release_plan_is_recognised_shown_and_applied(cli):
    cli.write(MANIFEST)
    assert cli.run("plan", "manifests/", "--out", "release.plan").code == 0
    assert re.match(
        r'\{"reconcile_saved_plan":2,"sha256":"[0-9a-f]{64}","plan":\{"format_version":"1\.4",',
        Path("release.plan").read_text(),
    )
    assert cli.run("show", "release.plan").out.startswith("Reconcile will perform the following actions:\n")
    applied = cli.run("apply", "release.plan")
    assert applied.code == 0, applied.err
    assert "Apply complete! Resources: 1 bound, 1 registered." in applied.out
    assert cli.account.stats() == {"BindInputBucket": 1, "HeadObject": 1, "ListAllMediaBucket": 2, "RegisterMedia": 1}


def test_apply_json_summary_counts_the_state_writes_that_moved_the_serial(cli):
    cli.converge()
    assert open_store(STATE).read().serial == 1
    cli.write(MANIFEST.replace("title: Intro", "title: Intro (final)"))
    result = cli.run("apply", "manifests/", "--auto-approve", "--json")
    assert result.code == 0, result.err
    summary = json.loads(result.out.splitlines()[-1])
    assert (summary["type"], summary["format_version"]) == ("summary", "1.2")
    # one journal append for the UpdateVideoInfos call, then the snapshot: serial 1 → 3
    assert (summary["state_updates"], summary["state_only_changes"], summary["state"]["serial"]) == (2, 0, 3)


def test_apply_with_a_qps_share_paces_under_it_and_says_so(cli):
    cli.converge()
    cli.write(MANIFEST.replace("title: Intro", "title: Intro (final)"))
    result = cli.run("apply", "manifests/", "--auto-approve", "--qps-share", "UpdateVideoInfos=0.5")
    assert result.code == 0, result.err
    assert "Pacing (other clients of the account share its limits):\n" in result.out
    assert "  UpdateVideoInfos: 14.5 calls/s at the end (limit 30/s, share 0.5)\n" in result.out

    again = cli.run("apply", "manifests/", "--auto-approve", "--json", "--qps-share", "0.25")
    summary = json.loads(again.out.splitlines()[-1])
    assert summary["pacing"]["GetVideoInfos"] == {
        "limit": 100,
        "share": 0.25,
        "ceiling": 24.25,
        "final_rate": 24.25,
        "lowest_rate": 24.25,
        "throttled": 0,
        "rate_cuts": 0,
    }


def test_apply_without_a_terminal_needs_auto_approve(cli):
    cli.write(MANIFEST)
    assert cli.run("apply", "manifests/") == Result(
        1,
        "",
        "error: apply needs --auto-approve when it cannot ask for confirmation (stdin is not a terminal, or --json); "
        "nothing was applied. Or save a reviewed plan with `reconcile plan PATH... --out FILE` and apply that file.\n",
    )


PLAN_VIEW = (
    "this is the JSON view of a plan (`reconcile plan --format json`), not a saved plan; save a plan to apply with "
    "`reconcile plan PATH... --out FILE`, then run `reconcile apply FILE`"
)


def test_the_json_view_of_a_plan_is_refused_by_apply_and_show_with_one_error(cli):
    cli.write(MANIFEST)
    Path("pj.json").write_text(cli.run("plan", "manifests", "--format", "json").out)
    assert cli.run("apply", "pj.json") == Result(1, "", f"error: pj.json: {PLAN_VIEW}; nothing was applied\n")
    assert cli.run("apply", "pj.json", "--auto-approve") == Result(
        1, "", f"error: pj.json: {PLAN_VIEW}; nothing was applied\n"
    )
    assert cli.run("show", "pj.json") == Result(1, "", f"error: pj.json: {PLAN_VIEW}\n")
    assert cli.account.stats() == {"HeadObject": 1, "ListAllMediaBucket": 1}  # the plan's reads; apply made no call


def test_a_stale_saved_plan_says_the_command_that_plans_it_again(cli):
    cli.write(MANIFEST)
    cli.write("region: cn-shanghai\n", "team b.yaml")
    assert cli.run("plan", "manifests/prod.yaml", "manifests/team b.yaml", "--prune", "--out", "my plan.bin").code == 0
    cli.write(MANIFEST.replace("title: Intro", "title: Intro (final)"))
    result = cli.run("apply", "my plan.bin")
    assert result == Result(
        1,
        "",
        "error: saved plan my plan.bin is stale; nothing was applied:\n"
        "  - the manifests changed since the plan was made\n"
        "Run `reconcile plan manifests/prod.yaml 'manifests/team b.yaml' --prune --out 'my plan.bin'` again, review "
        "it, then apply it.\n",
    )
    assert cli.account.stats() == {"HeadObject": 1, "ListAllMediaBucket": 2}  # plan's reads, apply's freshness check


def test_the_replan_advice_keeps_refresh_false():
    source = PlanSource(manifest_paths=("manifests/",), refreshed=False)
    assert apply_cli.replan_command(source, "release.plan") == (
        "reconcile plan manifests/ --refresh=false --out release.plan"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "error: missing.bin: cannot read the plan file: No such file or directory\n"),
        ("{}", "error: missing.bin: not a saved plan; make one with `reconcile plan PATH... --out FILE`\n"),
    ],
)
def test_show_refuses_what_is_not_a_saved_plan(cli, content, message):
    if content is not None:
        Path("missing.bin").write_text(content)
    assert cli.run("show", "missing.bin") == Result(1, "", message)


# drift


def test_no_drift_exits_0(cli):
    cli.converge()
    result = cli.run("drift", "manifests")
    assert result.code == 0
    assert result.out == (
        "No drift: the 2 managed resources match the state (serial 1).\n\n"
        "API calls made while checking drift: 2 (GetVideoInfos×1, ListAllMediaBucket×1); 0 retries, 0 throttled\n"
    )


def test_drift_exits_2_and_says_what_changed(cli):
    cli.converge()
    intro_id = open_store(STATE).read().resources[1].remote_id
    cli.account.edit(intro_id, title="Edited")
    cli.account.unbind("media-in")
    result = cli.run("drift")
    assert result.code == 2
    assert result.out.split("\n\nAPI calls")[0] == (
        "Drift since the last apply, against the state (serial 1):\n"
        "\n"
        "  - input_bucket.media-in: unbound from MPS outside reconcile\n"
        "  ~ media.intro: changed outside reconcile\n"
        '      ~ title = "Intro" -> "Edited"\n'
        "\n"
        "2 of 2 managed resources drifted. `reconcile plan <manifests>` shows the calls that would converge them on "
        "the manifests again."
    )
    document = json.loads(cli.run("drift", "--format", "json").out)
    assert document["drifted"] is True
    assert [(d["address"], d["drift"]) for d in document["drifts"]] == [
        ("input_bucket.media-in", "unbound"),
        ("media.intro", "changed"),
    ]


def test_drift_given_manifests_names_them_in_the_plan_command_it_suggests(cli):
    cli.converge()
    cli.account.unbind("media-in")
    result = cli.run("drift", "manifests/prod.yaml")
    assert result.code == 2
    assert result.out.split("\n\nAPI calls")[0].endswith(
        "\n\n1 of 2 managed resources drifted. `reconcile plan manifests/prod.yaml` shows the calls that would "
        "converge them on the manifests again."
    )


def test_drift_without_state(cli):
    result = cli.run("drift")
    assert result.code == 0
    assert result.out.startswith("No drift: there is no state yet, so reconcile manages nothing.\n")


def test_refresh_keeps_8_reads_in_flight_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("RECONCILE_MAX_CONCURRENCY", raising=False)
    default = ClientSettings()
    assert plan_cli.refresh_concurrency({"max_concurrency": None}, default) == 8
    assert plan_cli.refresh_concurrency({"max_concurrency": 20}, ClientSettings(max_concurrency=20)) == 20
    assert plan_cli.refresh_concurrency({"max_concurrency": None}, ClientSettings(max_concurrency=3)) == 3
    monkeypatch.setenv("RECONCILE_MAX_CONCURRENCY", "40")
    assert plan_cli.refresh_concurrency({"max_concurrency": None}, ClientSettings(max_concurrency=40)) == 40


# --log-level: on the group or on the command


PLAN_PHASES = ["load manifests", "read state", "refresh", "diff"]


def logged_phases(err: str) -> list[str]:
    """The planner's phase lines at INFO (their timings vary; the phases and their order do not)."""
    return re.findall(r" INFO reconcile\.plan: ([a-z ]+): [0-9.]+ s ", err)


@pytest.mark.parametrize(
    "args",
    [
        ["--log-level", "info", "plan", "manifests"],
        ["plan", "manifests", "--log-level", "info"],
        ["--log-level", "error", "plan", "manifests", "--log-level", "info"],
    ],
    ids=["on-the-group", "on-the-command", "the-command-wins"],
)
def test_log_level_works_on_the_group_and_on_the_command(cli, monkeypatch, args):
    monkeypatch.delenv("RECONCILE_LOG_LEVEL", raising=False)
    cli.converge()
    result = cli.run(*args)
    assert result.code == 0
    assert logged_phases(result.err) == PLAN_PHASES


@pytest.mark.parametrize(
    ("env", "args", "logs"),
    [
        ("info", ["plan", "manifests"], True),
        ("warning", ["--log-level", "info", "plan", "manifests"], True),
        ("info", ["--log-level", "warning", "plan", "manifests"], False),
        ("info", ["plan", "manifests", "--log-level", "warning"], False),
    ],
)
def test_an_explicit_log_level_beats_the_environment(cli, monkeypatch, env, args, logs):
    monkeypatch.setenv("RECONCILE_LOG_LEVEL", env)
    cli.converge()
    result = cli.run(*args)
    assert result.code == 0
    assert logged_phases(result.err) == (PLAN_PHASES if logs else [])


def test_apply_of_a_missing_plan_file_says_it_is_missing_not_that_it_needs_auto_approve(cli):
    # A merge job whose reviewed-plan artifact was not downloaded runs `reconcile apply release.plan` without a TTY
    assert cli.run("apply", "release.plan") == Result(
        1,
        "",
        "error: release.plan: no such file or directory; apply takes a saved plan (`reconcile plan PATH... --out "
        "FILE`) or manifest files and directories. Nothing was applied.\n",
    )
