"""Apply on merge exactly the plan reviewed on the pull request, end to end: two working directories play the
pull request's plan job and the main branch's apply job (two checkouts of one commit on two runners), a state
outside both stands in for the shared backend, and the saved plan travels between them as the workflow
artifact does (examples/github/reconcile-plan.yml uploads it, reconcile-apply.yml downloads it)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import Result, Workspace, oss_url
from tests.e2e.test_apply_e2e import call_mps

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# What the action looks for in apply's error output to tell the pipeline to re-run the plan job.
STALE = "is stale; nothing was applied"


class Runner:
    """One CI job: a checkout of the repository in its own directory, and the shared state."""

    def __init__(self, ws: Workspace, name: str, shared_state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ws = ws
        self.directory = ws.directory / name
        self.state = shared_state
        self.monkeypatch = monkeypatch

    def mkdir(self) -> Runner:
        self.directory.mkdir()
        return self

    def checkout(self) -> None:
        """The repository's tree at the commit this job runs for."""
        shutil.rmtree(self.directory / "manifests", ignore_errors=True)
        shutil.copytree(self.ws.directory / "manifests", self.directory / "manifests")

    def reconcile(self, *args: str) -> Result:
        self.monkeypatch.chdir(self.directory)
        try:
            return self.ws.reconcile(*args, "--state", str(self.state))
        finally:
            self.monkeypatch.chdir(self.ws.directory)


@pytest.fixture
def jobs(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> tuple[Runner, Runner]:
    shared = ws.directory / "shared-backend" / "state.json"
    shared.parent.mkdir()
    pull_request, merge = Runner(ws, "pr-job", shared, monkeypatch), Runner(ws, "merge-job", shared, monkeypatch)
    return pull_request.mkdir(), merge.mkdir()


def plan_on_pull_request(job: Runner) -> Path:
    """The plan job: plan, and keep the saved plan (the artifact)."""
    job.checkout()
    planned = job.reconcile("plan", "manifests", "--out", "reconcile.plan", "--detailed-exitcode")
    assert planned.code == 2, planned.err
    artifact = job.ws.directory / "artifacts" / job.directory.name
    artifact.mkdir(parents=True)
    return Path(shutil.copy(job.directory / "reconcile.plan", artifact / "reconcile.plan"))


def apply_on_merge(job: Runner, artifact: Path) -> Result:
    """The apply job: download the artifact, apply exactly it."""
    job.checkout()
    reviewed = job.directory / "reviewed"
    reviewed.mkdir(exist_ok=True)
    shutil.copy(artifact, reviewed / "reconcile.plan")
    return job.reconcile("apply", "reviewed/reconcile.plan")


def test_the_reviewed_plan_applies_in_the_merge_job(ws: Workspace, jobs: tuple[Runner, Runner]):
    pull_request, merge = jobs
    ws.manifest(buckets=[{"bucket": "raw-a"}], media=[{"file_url": oss_url("raw-a", "intro.mp4"), "title": "Intro"}])
    artifact = plan_on_pull_request(pull_request)
    assert ws.successes() == {}

    applied = apply_on_merge(merge, artifact)

    assert applied.code == 0, applied.err
    assert ws.successes() == {"BindInputBucket": 1, "RegisterMedia": 1}
    assert pull_request.state.exists()
    assert not (merge.directory / ".reconcile").exists() and not (pull_request.directory / ".reconcile").exists()
    again = pull_request.reconcile("plan", "manifests", "--detailed-exitcode")
    assert again.code == 0 and "No changes. The account matches the manifests." in again.out


def test_a_plan_overtaken_by_another_merge_is_refused_and_tells_the_pipeline_to_plan_again(
    ws: Workspace, jobs: tuple[Runner, Runner]
):
    pull_request, merge = jobs
    ws.manifest(buckets=[{"bucket": "raw-a"}])
    assert apply_on_merge(merge, plan_on_pull_request(pull_request)).code == 0
    # Two pull requests planned against the same state; the other one is merged and applied first.
    ws.manifest(buckets=[{"bucket": "raw-a"}, {"bucket": "raw-b"}])
    ours = plan_on_pull_request(Runner(ws, "pr-ours", pull_request.state, pull_request.monkeypatch).mkdir())
    ws.manifest(buckets=[{"bucket": "raw-a"}, {"bucket": "raw-c"}])
    theirs = plan_on_pull_request(Runner(ws, "pr-theirs", pull_request.state, pull_request.monkeypatch).mkdir())
    assert apply_on_merge(merge, theirs).code == 0
    before = ws.successes()

    ws.manifest(buckets=[{"bucket": "raw-a"}, {"bucket": "raw-b"}, {"bucket": "raw-c"}])  # main after both merges
    refused = apply_on_merge(merge, ours)

    assert refused.code == 1
    assert f"error: saved plan reviewed/reconcile.plan {STALE}:\n" in refused.err
    assert "  - the manifests changed since the plan was made\n" in refused.err
    assert "  - the state moved from serial 3 to 5: something was applied since the plan was made\n" in refused.err
    assert refused.err.endswith(
        "Run `reconcile plan manifests --out reviewed/reconcile.plan` again, review it, then apply it.\n"
    )
    assert ws.successes() == before  # nothing was applied
    assert STALE in (ROOT / "action.yml").read_text()  # what the action turns into "re-run the plan job"


def test_a_plan_whose_account_changed_since_the_review_is_refused(ws: Workspace, jobs: tuple[Runner, Runner]):
    pull_request, merge = jobs
    ws.manifest(buckets=[{"bucket": "raw-a"}, {"bucket": "raw-b"}])
    assert apply_on_merge(merge, plan_on_pull_request(pull_request)).code == 0
    ws.manifest(buckets=[{"bucket": "raw-a"}, {"bucket": "raw-b"}, {"bucket": "raw-c"}])
    artifact = plan_on_pull_request(Runner(ws, "pr-2", pull_request.state, pull_request.monkeypatch).mkdir())
    asyncio.run(call_mps(ws, "UnbindInputBucket", "raw-b"))  # someone unbinds it in the console
    before = ws.successes()

    refused = apply_on_merge(merge, artifact)

    assert refused.code == 1
    assert STALE in refused.err
    assert "  - the live resources the plan was made against changed (in the account, outside this plan)\n" in (
        refused.err
    )
    assert ws.successes() == before
