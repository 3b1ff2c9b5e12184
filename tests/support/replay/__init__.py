"""Replay GitHub Actions workflows on this machine: the workflows' own `run:` steps, in order.

Its parts: `events` (what GitHub delivers), `expressions` (`${{ }}`), `triggers` (which runs start,
which are cancelled), `github` (the fake GitHub's state, branch protection, the merge button),
`standins` (the `cml` and `gh` commands), `actions` (the `uses:` steps), `runner`, `results`.

There is no GitHub here, so the proof that the workflows work is a replay: parse the workflow YAML
(from the commit the event points at, as GitHub does), decide whether the event triggers it
(branches, paths, types, `[skip ci]`), expand reusable workflows (`uses: ./.github/workflows/x.yaml`
with `with:` and `secrets:`), then run every job's steps like a runner would:

- a fresh runner directory per job; `actions/checkout` becomes a real clone of the bare `origin`
  (full history and tags), checked out at `with.ref`; `persist-credentials: false` leaves the clone
  unable to push (its push URL points nowhere), exactly the failure GitHub would give;
- `run:` steps run as GitHub runs them (`bash -e`, or `-eo pipefail` when `shell: bash` is set),
  with GITHUB_* variables, the
  `env:` blocks of workflow, job and step (their `${{ }}` expressions substituted from a context),
  and the GITHUB_OUTPUT / GITHUB_ENV / GITHUB_PATH / GITHUB_STEP_SUMMARY files; a `${{ }}` inside
  `run:` is refused (the security rule this repository follows);
- `if:` conditions, `continue-on-error`, `steps.<id>.outputs|outcome|conclusion`, `needs`, job
  and reusable-workflow `outputs`;
- local composite actions (`uses: ./.github/actions/x`): read from the checked-out workspace, their
  `runs.steps` run in the job with the `inputs` context (a prior checkout and `shell:` on every
  `run:` step are required, as on GitHub);
- setup actions (setup-python, setup-uv, setup-cml, setup-dvc) are no-ops: the runner is
  provisioned with this repository's environment (`.venv` linked into the clone, marked installed, so
  `make install` is the no-op a cache hit gives; pass another `provision` to run the real install)
  — but it is NOT put on PATH: the workflow must do that itself, as on GitHub;
- `cml` and `gh` are stand-ins on PATH that keep a small fake GitHub in a JSON file (`FakeGitHub`):
  comments (`cml comment create|update`, one per watermark title and target, updated in place),
  pull requests, issues, releases, and every call with its arguments. A read-only token (fork PRs)
  makes every write fail with GitHub's 403 message.

GitHub's own rules, each modelled where it applies and citing the documentation there:
- check runs (one per job, named by its `name:`, "caller / called" inside a reusable workflow;
  skipped jobs report "skipped") and commit statuses (`gh api .../statuses/SHA`) on a commit SHA;
  branch protection with required checks: `merge_pr` refuses a head whose required check is missing
  or not passing, or a conflicting branch (`FakeGitHub.protect`, `FakeGitHub.check`);
- a protected branch refuses pushes, GITHUB_TOKEN's included (origin's pre-receive hook, GH006); a
  job's `permissions:` scope its token (pushes, comments, statuses, issues, releases);
- merge methods: merge commit, squash (GitHub's default message lists the branch's commits) and
  rebase (the branch's last commit becomes the head);
- events caused by GITHUB_TOKEN trigger no workflow (`Event.token`; origin's post-receive hook logs
  who pushed); a skip marker anywhere in the head commit's message skips push workflows;
- concurrency groups: one running, one pending, the older pending run cancelled (`run_concurrently`);
- re-runs replay the original event (`rerun`); a conflicting PR gets no pull_request run.

Deviations from GitHub, on purpose: a pull_request event runs on the PR head (GitHub builds a merge
commit `refs/pull/N/merge`); runs are sequential (concurrency decides which of a batch of events
run, not when); no matrix.

Use:
    gh = FakeGitHub(tmp / "github.json")
    replay = Replayer(origin=bare_repo, workspace=tmp / "runner", github=gh,
                      secrets={"DVC_REMOTE_URL": str(remote)})
    result = replay.run(".github/workflows/pr.yaml", Event.pull_request(origin, 1, "batch-2024-04"))
    assert result.ok, result.log()
    gh.comments()   # what was posted
"""

from __future__ import annotations

from tests.support.replay.actions import link_venv
from tests.support.replay.events import Event, ReplayError
from tests.support.replay.expressions import evaluate, substitute
from tests.support.replay.github import FakeGitHub, MergeRefused, install_hooks, merge_pr
from tests.support.replay.results import JobResult, RunResult, StepResult
from tests.support.replay.runner import Replayer, publish
from tests.support.replay.standins import install_stand_ins
from tests.support.replay.triggers import cancelled, triggered

__all__ = ["Event", "FakeGitHub", "JobResult", "MergeRefused", "ReplayError", "Replayer", "RunResult",
           "StepResult", "cancelled", "evaluate", "install_hooks", "install_stand_ins", "link_venv",
           "merge_pr", "publish", "substitute", "triggered"]
