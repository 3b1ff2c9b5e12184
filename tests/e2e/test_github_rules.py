"""GitHub's rules as the replay harness models them, each on a tiny repository with toy workflows.

These are the rules the GitOps loop depends on (checks and branch protection, merge methods, which
events trigger what, concurrency, re-runs, conflicts, token scopes); tests/e2e/test_gitops_story.py then runs
the repository's real workflows under them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.project import env, run
from tests.support.replay import (
    Event,
    FakeGitHub,
    MergeRefused,
    Replayer,
    ReplayError,
    install_hooks,
    merge_pr,
)

PUSH_BACK = {  # a job that commits back to the PR branch with the job's GITHUB_TOKEN
    "name": "t", "on": {"pull_request": {"branches": ["main"]}}, "permissions": {},
    "jobs": {"build": {"name": "build", "runs-on": "ubuntu-latest", "permissions": {"contents": "write"},
                       "steps": [
                           {"uses": "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683",
                            "with": {"ref": "${{ github.event.pull_request.head.sha }}",
                                     "persist-credentials": True}},
                           {"env": {"BRANCH": "${{ github.head_ref }}"},
                            "run": "git config user.name bot && git config user.email bot@x && "
                                   "date +%s%N > out.txt && git add out.txt && git commit -qm 'outputs' && "
                                   'git push -q origin "HEAD:refs/heads/$BRANCH"'}]}},
}
ON_MAIN = {"name": "on main", "on": {"push": {"branches": ["main"]}}, "permissions": {},
           "jobs": {"j": {"runs-on": "ubuntu-latest", "permissions": {}, "steps": [{"run": "true"}]}}}


def toy(tmp_path: Path, workflows: dict[str, dict]) -> tuple[Path, Path, FakeGitHub, Replayer]:
    """origin (bare, with GitHub's protection hooks), a clone to work in, the fake GitHub, a replayer."""
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path)
    run(["git", "init", "-q", "-b", "main", str(work)], tmp_path)
    for name, wf in workflows.items():
        path = work / ".github" / "workflows" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(wf, sort_keys=False))
    (work / "a.txt").write_text("a\n")
    run(f"git add -A && git commit -qm initial && git remote add origin {origin} && git push -q origin main",
        work)
    gh = FakeGitHub(tmp_path / "github.json")
    install_hooks(origin, gh)
    return origin, work, gh, Replayer(origin, tmp_path / "runner", gh, env=env(tmp_path),
                                      provision=lambda _: None)


def branch(work: Path, gh: FakeGitHub, name: str, number: int, commits: list[str],
           path: str = "a.txt") -> None:
    run(["git", "checkout", "-q", "-B", name, "origin/main"], work)
    for i, message in enumerate(commits):
        with open(work / path, "a") as fh:
            fh.write(f"{name} {i}\n")
        run(["git", "commit", "-qam", message], work)
    run(["git", "push", "-q", "-u", "origin", name], work)
    gh.add_pr(number, name, title=f"Change {name}")


def test_required_check_gates_the_merge_and_main_refuses_pushes(tmp_path):
    """Branch protection: merge only when the head's required check passed; no direct push to main."""
    origin, work, gh, _ = toy(tmp_path, {"on-main.yaml": ON_MAIN})
    gh.protect("main", ("gate",))
    branch(work, gh, "feature", 1, ["change a"])
    head = run(["git", "rev-parse", "HEAD"], work).stdout.strip()
    with pytest.raises(MergeRefused, match="expected — waiting for status"):
        merge_pr(origin, gh, 1, env=env(tmp_path))
    gh.report_check(head, "gate", "failure")
    with pytest.raises(MergeRefused, match="is failure"):
        merge_pr(origin, gh, 1, env=env(tmp_path))
    gh.report_check(head, "other", "success")  # a check of another name does not count
    with pytest.raises(MergeRefused):
        merge_pr(origin, gh, 1, env=env(tmp_path))
    gh.report_check(head, "gate", "success", kind="status")  # the latest of that name counts
    event = merge_pr(origin, gh, 1, env=env(tmp_path))
    assert event.name == "push" and event.token == "user"
    assert run(["git", "log", "-1", "--format=%s", "main"], origin).stdout.startswith("Merge pull request #1")
    # a direct push to the protected main is refused, by a person and by a workflow's GITHUB_TOKEN
    run("git fetch -q origin && git checkout -q -B main origin/main && git commit -q --allow-empty -m d",
        work)
    refused = run(["git", "push", "origin", "main"], work, check=False)
    assert refused.returncode != 0 and "GH006: Protected branch update failed" in refused.stderr
    bot = run(["git", "push", "origin", "main"], work, check=False, env={
        **env(tmp_path), "REPLAY_TOKEN": "GITHUB_TOKEN", "REPLAY_PERMISSIONS": '{"contents": "write"}'})
    assert bot.returncode != 0 and "GH006" in bot.stderr


def test_github_token_pushes_trigger_nothing_and_checks_stay_on_the_old_head(tmp_path):
    """A job's commit-back is a push made with GITHUB_TOKEN: no workflow runs for it, so the new head
    has no check run; the run's checks sit on the commit it ran for."""
    origin, work, gh, replay = toy(tmp_path, {"t.yaml": PUSH_BACK})
    branch(work, gh, "feature", 1, ["change a"])
    event = Event.pull_request(origin, 1, "feature", action="opened")
    result = replay.run(".github/workflows/t.yaml", event)
    assert result.ok, result.log()
    [push] = gh.pushes("refs/heads/feature")[-1:]
    assert push["token"] == "GITHUB_TOKEN" and push["before"] == event.sha
    assert gh.check(event.sha, "build") == "success" and gh.checks(push["after"]) == []
    again = Event.pull_request(origin, 1, "feature", token=push["token"])
    assert replay.run(".github/workflows/t.yaml", again).reason.startswith("caused by GITHUB_TOKEN")
    # a person's push to the same branch does trigger
    assert replay.run(".github/workflows/t.yaml", Event.pull_request(origin, 1, "feature")).triggered


def test_token_scopes_follow_job_permissions(tmp_path):
    """`permissions:` scope the job's token: no contents: write, no push; no statuses: write, no status."""
    wf = yaml.safe_load(yaml.safe_dump(PUSH_BACK))
    wf["jobs"]["build"]["permissions"] = {"contents": "read"}
    wf["jobs"]["build"]["steps"].append({
        "if": "always()", "env": {"GH_TOKEN": "${{ github.token }}", "SHA": "${{ github.sha }}"},
        "run": 'gh api -X POST "repos/$GITHUB_REPOSITORY/statuses/$SHA" -f state=success -f context=gate'})
    origin, work, gh, replay = toy(tmp_path, {"t.yaml": wf})
    branch(work, gh, "feature", 1, ["change a"])
    result = replay.run(".github/workflows/t.yaml", Event.pull_request(origin, 1, "feature"))
    push, status = result.jobs["build"].steps[1:]
    assert push.outcome == "failure" and "no contents: write" in push.stderr
    assert status.outcome == "failure" and "grants no statuses: write" in status.stderr


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_skip_markers_and_merge_methods(tmp_path, method):
    """A skip marker anywhere in the pushed head commit's message skips push workflows: a squash puts
    every commit message of the branch into it, a rebase makes the branch's last commit the head."""
    origin, work, gh, replay = toy(tmp_path, {"on-main.yaml": ON_MAIN})
    branch(work, gh, "feature", 1, ["Add a batch", "Reproduce the pipeline [skip ci]"])
    event = merge_pr(origin, gh, 1, method, env=env(tmp_path))
    message = run(["git", "log", "-1", "--format=%B", "main"], origin).stdout
    result = replay.run(".github/workflows/on-main.yaml", event)
    if method == "squash":
        assert message.startswith("Change feature (#1)") and "* Add a batch" in message
        assert "* Reproduce the pipeline [skip ci]" in message
    if method == "rebase":
        assert message.strip() == "Reproduce the pipeline [skip ci]"
        parents = run(["git", "log", "-2", "--format=%P", "main"], origin).stdout.split("\n")
        assert all(len(p.split()) == 1 for p in parents if p)  # linear, no merge commit
    assert result.triggered is (method == "merge"), result.reason


def test_concurrency_keeps_one_running_and_one_pending(tmp_path):
    """Three events in one concurrency group while the first runs: the middle one never runs."""
    queued = {**ON_MAIN, "concurrency": {"group": "promote-main", "cancel-in-progress": False}}
    latest = {**ON_MAIN, "concurrency": {"group": "pr", "cancel-in-progress": True}}
    origin, work, gh, replay = toy(tmp_path, {"q.yaml": queued, "c.yaml": latest})
    run("git commit -q --allow-empty -m two && git push -q origin main", work)
    event = Event.push(origin)
    runs = replay.run_concurrently([(".github/workflows/q.yaml", event)] * 3)
    assert [r.cancelled for r in runs] == [False, True, False] and runs[0].ok and runs[2].ok
    runs = replay.run_concurrently([(".github/workflows/c.yaml", event)] * 3)
    assert [r.cancelled for r in runs] == [True, True, False]


def test_conflicting_pr_gets_no_pull_request_run(tmp_path):
    origin, work, gh, replay = toy(tmp_path, {"t.yaml": PUSH_BACK})
    branch(work, gh, "one", 1, ["one"])
    branch(work, gh, "two", 2, ["two"])
    gh.report_check(run(["git", "rev-parse", "origin/one"], work).stdout.strip(), "build", "success")
    merge_pr(origin, gh, 1, env=env(tmp_path))
    event = Event.pull_request(origin, 2, "two")
    assert not event.mergeable
    assert replay.run(".github/workflows/t.yaml", event).reason.startswith("merge conflict")
    with pytest.raises(MergeRefused, match="conflicts"):
        merge_pr(origin, gh, 2, env=env(tmp_path))


def test_rerun_replays_the_original_event(tmp_path):
    """A re-run uses the old event's commit even after the branch moved: a naive push-back is refused."""
    origin, work, gh, replay = toy(tmp_path, {"t.yaml": PUSH_BACK})
    branch(work, gh, "feature", 1, ["change a"])
    first = replay.run(".github/workflows/t.yaml", Event.pull_request(origin, 1, "feature"))
    assert first.ok, first.log()
    again = replay.rerun(first)
    assert again.event.sha == first.event.sha
    assert not again.ok and "rejected" in again.jobs["build"].steps[1].stderr


def test_check_run_names_of_reusable_and_skipped_jobs(tmp_path):
    """Check runs are named by the job's `name:`; inside a reusable workflow "caller / called"; a
    skipped caller reports under its own name, with "skipped" (which passes a required check)."""
    called = {"on": {"workflow_call": {}}, "permissions": {},
              "jobs": {"inner": {"name": "inner job", "runs-on": "ubuntu-latest", "permissions": {},
                                 "steps": [{"run": "true"}]}}}
    caller = {"on": "push", "permissions": {},
              "jobs": {"ran": {"name": "outer", "uses": "./.github/workflows/called.yaml", "permissions": {}},
                       "not": {"name": "skipped one", "if": "false", "permissions": {},
                               "uses": "./.github/workflows/called.yaml"}}}
    origin, work, gh, replay = toy(tmp_path, {"called.yaml": called, "caller.yaml": caller})
    run("git commit -q --allow-empty -m two && git push -q origin main", work)
    event = Event.push(origin)
    assert replay.run(".github/workflows/caller.yaml", event).ok
    assert {(c["name"], c["conclusion"]) for c in gh.checks(event.sha)} == {
        ("outer / inner job", "success"), ("skipped one", "skipped")}


def test_hooks_log_who_pushed(tmp_path):
    origin, work, gh, _ = toy(tmp_path, {"on-main.yaml": ON_MAIN})
    run("git commit -q --allow-empty -m x && git push -q origin main", work)
    subprocess.run(["git", "push", "-q", "origin", "HEAD:refs/heads/bot"], cwd=work, check=True,
                   env={**env(tmp_path), "REPLAY_TOKEN": "GITHUB_TOKEN", "REPLAY_PERMISSIONS": "null"})
    assert [(p["ref"], p["token"]) for p in gh.pushes()][-2:] == [("refs/heads/main", "user"),
                                                                  ("refs/heads/bot", "GITHUB_TOKEN")]


HELLO_ACTION = {
    "name": "hello", "description": "a toy composite action",
    "inputs": {"who": {"description": "who", "required": True},
               "punctuation": {"description": "end", "default": "!"}},
    "outputs": {"said": {"description": "what it said", "value": "${{ steps.say.outputs.said }}"}},
    "runs": {"using": "composite", "steps": [
        {"id": "say", "shell": "bash", "env": {"WHO": "${{ inputs.who }}", "P": "${{ inputs.punctuation }}"},
         "run": 'echo "said=$GREETING $WHO$P" >> "$GITHUB_OUTPUT"\n'
                'mkdir -p "$RUNNER_TEMP/bin"\n'
                'printf \'#!/bin/sh\\necho from-path\\n\' > "$RUNNER_TEMP/bin/hi"\n'
                'chmod +x "$RUNNER_TEMP/bin/hi" && echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"\n'
                'echo "HELLO_ENV=set" >> "$GITHUB_ENV"'},
        {"if": "inputs.who == 'nobody'", "shell": "bash", "run": "exit 1"},
    ]},
}
COMPOSITE = {  # local composite actions: one used before any checkout, one used properly, one shell-less
    "name": "t", "on": {"workflow_dispatch": None}, "permissions": {},
    "defaults": {"run": {"shell": "bash"}},  # does not reach a composite action's steps
    "jobs": {
        "early": {"runs-on": "ubuntu-latest", "steps": [{"uses": "./.github/actions/hello",
                                                          "with": {"who": "x"}}]},
        "ok": {"runs-on": "ubuntu-latest", "steps": [
            {"uses": "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"},
            {"id": "hello", "uses": "./.github/actions/hello", "with": {"who": "replay"},
             "env": {"GREETING": "hi"}},
            {"env": {"SAID": "${{ steps.hello.outputs.said }}"},
             "run": 'echo "$SAID" && hi && echo "$HELLO_ENV"'},
        ]},
        "shell-less": {"runs-on": "ubuntu-latest", "steps": [
            {"uses": "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"},
            {"uses": "./.github/actions/shell-less"},
        ]},
    },
}


def test_local_composite_actions_need_a_checkout_and_a_shell(tmp_path):
    """A local action is read from the checked-out workspace (none yet: GitHub's "did you forget to
    run actions/checkout"); its steps get `inputs`, the calling step's env, and what they write to
    GITHUB_OUTPUT/ENV/PATH reaches the job; a `run:` step without `shell:` fails the action."""
    origin, work, gh, replay = toy(tmp_path, {"t.yaml": COMPOSITE})
    shell_less = {"name": "s", "description": "d", "runs": {"using": "composite", "steps": [{"run": "true"}]}}
    for name, spec in (("hello", HELLO_ACTION), ("shell-less", shell_less)):
        path = work / ".github" / "actions" / name / "action.yml"
        path.parent.mkdir(parents=True)
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
    run("git add -A && git commit -qm actions && git push -q origin main", work)
    result = replay.run(".github/workflows/t.yaml", Event.workflow_dispatch(origin))
    early = result.jobs["early"]
    assert early.status == "failure" and "forget to run actions/checkout" in early.steps[0].stderr
    ok = result.jobs["ok"]
    assert ok.status == "success", result.log()
    assert ok.step("hello").outputs == {"said": "hi replay!"}
    assert [s.outcome for s in ok.step("hello").steps] == ["success", "skipped"]
    assert ok.steps[-1].stdout.split() == ["hi", "replay!", "from-path", "set"]
    shell = result.jobs["shell-less"]
    assert shell.status == "failure" and "Required property is missing: shell" in shell.steps[1].stderr
    bad = yaml.safe_load(yaml.safe_dump(COMPOSITE))
    bad["jobs"] = {"ok": bad["jobs"]["ok"]}
    bad["jobs"]["ok"]["steps"][1]["with"]["whom"] = "typo"
    (work / ".github" / "workflows" / "bad.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    run("git add -A && git commit -qm bad && git push -q origin main", work)
    with pytest.raises(ReplayError, match=r"declares no inputs \['whom'\]"):
        replay.run(".github/workflows/bad.yaml", Event.workflow_dispatch(origin))
