"""The GitOps loop, proven without GitHub: the workflows' own steps replayed on real git and DVC.

Fast tests cover the replay harness itself (expressions, triggers, the cml/gh stand-ins) and lint the
workflows; the slow story plays a data engineer's PRs, merges, a `git revert` rollback and a bad
batch against a bare `origin` and a local-folder DVC remote.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, env, make_project, run, simulate_batches
from workflow_replay import (
    Event,
    FakeGitHub,
    Replayer,
    ReplayError,
    evaluate,
    install_stand_ins,
    publish,
    substitute,
    triggered,
)

WORKFLOWS = ROOT / ".github" / "workflows"


# --- the harness ----------------------------------------------------------------------------------


def test_expressions_follow_github_semantics():
    ctx = {"steps": {"rollback": {"outputs": {"rollback": "true"}, "outcome": "success"}},
           "github": {"event": {"pull_request": {"head": {"repo": {"full_name": "Acme/X"}}}},
                      "repository": "acme/x"}, "inputs": {"pr-number": 7}}
    assert evaluate("steps.rollback.outputs.rollback != 'true'", ctx) is False
    assert evaluate("steps.missing.outcome == 'success'", ctx) is False
    # string comparison is case-insensitive on GitHub
    assert evaluate("github.event.pull_request.head.repo.full_name == github.repository", ctx) is True
    assert evaluate("!cancelled() && (1 == 2 || contains('abc', 'B'))", ctx) is True
    assert substitute("pr-${{ inputs.pr-number }}", ctx) == "pr-7"
    assert substitute("${{ inputs.pr-number }}", ctx) == 7


def _workflow(on):
    return {"on": on, "jobs": {}}


def test_triggers_paths_branches_and_skip_ci():
    on = {"pull_request": {"branches": ["main"], "paths": ["data/**", "params.yaml"]}}
    event = Event("pull_request", "refs/pull/1/merge", "abc", {"action": "synchronize"},
                  base_ref="main", changed=["data/batches/2024-04.csv"], head_message="add a batch")
    assert triggered(_workflow(on), event) == (True, "")
    event.changed = ["README.md"]
    assert not triggered(_workflow(on), event)[0]
    event.changed, event.head_message = ["data/x.csv"], "Reproduce the pipeline [skip ci]"
    assert triggered(_workflow(on), event) == (False, "head commit message says [skip ci]")
    # YAML 1.1 reads the key `on` as True: both spellings work
    assert triggered({True: {"push": {"branches": ["main"]}}},
                     Event("push", "refs/heads/main", "abc", head_message="merge"))[0]


def test_stand_ins_record_comments_updated_in_place(tmp_path):
    gh = FakeGitHub(tmp_path / "github.json")
    bin_dir = install_stand_ins(tmp_path / "bin")
    (tmp_path / "plot.png").write_bytes(b"png")
    report = tmp_path / "report.md"
    e = {"PATH": f"{bin_dir}:/usr/bin:/bin", "REPLAY_GITHUB_STATE": str(gh.path),
         "REPO_TOKEN": "replay-token-write"}

    def cml(body: str, token: str = "replay-token-write") -> subprocess.CompletedProcess:
        report.write_text(body)
        return subprocess.run(["cml", "comment", "update", "--target=pr/3", "--watermark-title=r",
                               "--publish", str(report)], env={**e, "REPO_TOKEN": token},
                              capture_output=True, text=True)

    assert cml("first ![p](plot.png)").returncode == 0
    assert cml("second").returncode == 0
    [comment] = gh.comments("pr/3")
    assert comment["body"] == "second" and comment["updates"] == 1
    denied = cml("from a fork", token="replay-token-read-only")
    assert denied.returncode == 1 and "403" in denied.stderr
    assert gh.comments("pr/3")[0]["body"] == "second"

    made = subprocess.run(["gh", "pr", "create", "--head", "retrain", "--title", "t", "--body", "b"],
                          env=e, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    again = subprocess.run(["gh", "pr", "create", "--head", "retrain", "--title", "t", "--body", "b"],
                           env=e, capture_output=True, text=True)
    assert again.returncode == 1 and "already exists" in again.stderr
    listed = subprocess.run(["gh", "pr", "list", "--head", "retrain", "--json", "number", "--jq",
                             ".[].number"], env=e, capture_output=True, text=True)
    assert listed.stdout.strip() == str(gh.prs()[0]["number"])


def test_replay_refuses_expressions_inside_run(tmp_path):
    origin = tmp_path / "origin.git"
    work = tmp_path / "work"
    work.mkdir()
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path)
    run(["git", "init", "-q", "-b", "main"], work)
    wf = work / ".github" / "workflows" / "bad.yaml"
    wf.parent.mkdir(parents=True)
    wf.write_text(yaml.safe_dump({"on": "push", "jobs": {"j": {"runs-on": "ubuntu-latest", "steps": [
        {"run": "echo ${{ github.head_ref }}"}]}}}))
    (work / "a").write_text("a")
    run("git add -A && git commit -qm one && git commit -q --allow-empty -m two && "
        f"git push -q {origin} main", work)
    replay = Replayer(origin, tmp_path / "runner", env=env(tmp_path))
    with pytest.raises(ReplayError, match="inside run"):
        replay.run(".github/workflows/bad.yaml", Event.push(origin))


def test_workflows_lint_clean():
    """`make lint`'s workflow checks: zizmor (offline) and GitHub's workflow schema."""
    bin_dir = Path(sys.executable).parent
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yaml"))
    assert {Path(f).name for f in files} >= {"pr.yaml", "promote.yaml", "reproduce.yaml"}
    zizmor = subprocess.run([str(bin_dir / "zizmor"), "--offline", str(WORKFLOWS)], capture_output=True,
                            text=True)
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    schema = subprocess.run([str(bin_dir / "check-jsonschema"), "--builtin-schema",
                             "vendor.github-workflows", *files], capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    makefile = (ROOT / "Makefile").read_text()
    assert "zizmor --offline .github/workflows" in makefile and "vendor.github-workflows" in makefile


def test_workflow_security_rules():
    """Least privilege, SHA-pinned actions, no pull_request_target, no expressions inside run:."""
    for path in WORKFLOWS.glob("*.yaml"):
        text = path.read_text()
        wf = yaml.safe_load(text)
        assert wf.get("permissions") == {}, path.name
        assert "pull_request_target" not in text, path.name
        for job_id, job in wf["jobs"].items():
            assert "permissions" in job, f"{path.name}:{job_id} has no job-level permissions"
            for step in job.get("steps", []):
                assert "${{" not in step.get("run", ""), f"{path.name}: expression inside run"
                if "uses" in step:
                    assert len(step["uses"].split("@")[1]) == 40, step["uses"]
                if step.get("uses", "").startswith("actions/checkout"):
                    pushes = any("commit-back" in s.get("run", "") or "git push" in s.get("run", "")
                                 for s in job["steps"])
                    assert step["with"]["persist-credentials"] is pushes, f"{path.name}:{job_id}"


# --- the story ------------------------------------------------------------------------------------

STORY_PARAMS = {
    # one fast family, small bootstraps, and a gate that lets every candidate through: the story
    # is about the GitOps loop, the gate's decisions are tested in test_compare
    "gate": {"mode": "non_inferiority", "non_inferiority": {"margin": 1.0}, "bootstrap_resamples": 100,
             "max_drop": {"recall_Alto": 1.0}, "max_class_f1_drop": 1.0, "floors": {"accuracy": 0.4}},
    "drift": {"concept": {"bootstrap": 100}},
}


def story_project(tmp_path: Path) -> Path:
    project = make_project(tmp_path, periods=["2024-01", "2024-02", "2024-03"], rows=500,
                           overrides=STORY_PARAMS, git=False)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["models"] = {"logistic": params["models"]["logistic"]}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    run(["git", "init", "-q", "-b", "main"], project)
    run(["dvc", "init", "-q"], project)
    run(["dvc", "config", "core.analytics", "false"], project)
    run("git add -A && git commit -qm 'initial project'", project)
    return project


def remote_files(remote: Path) -> set[str]:
    return {str(p.relative_to(remote)) for p in remote.rglob("*") if p.is_file()}


def origin_refs(origin: Path) -> dict[str, str]:
    out = run(["git", "for-each-ref", "--format=%(refname) %(objectname)"], origin).stdout
    return {ref: sha for ref, sha in (line.split(" ", 1) for line in out.splitlines())}


def merge(project: Path, branch: str, number: int) -> None:
    """What GitHub's merge button does: a --no-ff merge commit on main, pushed."""
    run(["git", "fetch", "-q", "origin"], project)
    run(["git", "checkout", "-q", "main"], project)
    run(["git", "reset", "-q", "--hard", "origin/main"], project)
    run(["git", "merge", "-q", "--no-ff", f"origin/{branch}", "-m",
         f"Merge pull request #{number} from acme/{branch}"], project)
    run(["git", "push", "-q", "origin", "main"], project)


def open_pr(project: Path, gh: FakeGitHub, branch: str, number: int, message: str) -> None:
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", message], project)
    run(["git", "push", "-q", "-u", "origin", branch], project)
    gh.add_pr(number, branch)


@pytest.mark.slow
def test_gitops_story(tmp_path):
    project = story_project(tmp_path)
    remote = tmp_path / "dvc-remote"
    remote.mkdir()
    origin, gh, replay = publish(project, tmp_path, remote, env(tmp_path))
    batches = project / "data" / "batches"

    # 1. a data engineer adds a batch through a pull request
    run(["git", "checkout", "-q", "-b", "batch-2024-04"], project)
    simulate_batches(batches, ["2024-04"], 500, seed=4)
    open_pr(project, gh, "batch-2024-04", 1, "Add the 2024-04 batch")
    pr1 = replay.run(".github/workflows/pr.yaml",
                     Event.pull_request(origin, 1, "batch-2024-04", action="opened"))
    assert pr1.ok, pr1.log()
    [comment] = gh.comments("pr/1")
    assert comment["watermark"] == "credit-risk report" and comment["body"].strip()
    assert all(image["exists"] for image in comment["images"]), comment["images"]
    bot = run(["git", "log", "-1", "--format=%s%n%an", "refs/heads/batch-2024-04"], origin).stdout
    assert "[skip ci]" in bot and "github-actions[bot]" in bot
    changed = run(["git", "show", "--name-only", "--format=", "refs/heads/batch-2024-04"], origin).stdout
    assert "dvc.lock" in changed.split() and "models/model_card.json" in changed.split()
    assert remote_files(remote), "dvc push sent nothing to the DVC remote"
    # the bot's push does not start another run
    assert not replay.run(".github/workflows/pr.yaml", Event.pull_request(origin, 1, "batch-2024-04"
                                                                          )).triggered

    # 2. merged: v0.1.0 registered, tags pushed, a release with the card
    merge(project, "batch-2024-04", 1)
    promote1 = replay.run(".github/workflows/promote.yaml", Event.push(origin))
    assert promote1.ok, promote1.log()
    refs = origin_refs(origin)
    assert "refs/tags/credit-risk@v0.1.0" in refs and "refs/tags/credit-risk#prod#1" in refs
    [release] = gh.releases()
    assert release["tag"] == "credit-risk@v0.1.0"
    assert {Path(f["path"]).name for f in release["files"] if f["exists"]} >= {"model_card.json",
                                                                               "metrics.json"}
    v1_sha = json.loads(run(["git", "show", "credit-risk@v0.1.0:models/model_card.json"],
                            origin).stdout)["model"]["sha256"]

    # 3. drifted data: one comment, updated in place after a second push, then v0.2.0
    run(["git", "checkout", "-q", "-b", "drift-2024-05"], project)
    simulate_batches(batches, ["2024-05"], 500, scenario="salary_inflation", seed=5)
    open_pr(project, gh, "drift-2024-05", 2, "Add the 2024-05 batch")
    first = replay.run(".github/workflows/pr.yaml", Event.pull_request(origin, 2, "drift-2024-05",
                                                                        action="opened"))
    assert first.ok, first.log()
    run(["git", "pull", "-q", "--ff-only"], project)  # the bot's dvc.lock commit
    (project / "docs").mkdir(exist_ok=True)
    (project / "docs" / "2024-05.md").write_text("Salaries rose: the delivery is correct.\n")
    run("git add -A && git commit -qm 'Explain the 2024-05 delivery' && git push -q", project)
    second = replay.run(".github/workflows/pr.yaml", Event.pull_request(origin, 2, "drift-2024-05"))
    assert second.ok, second.log()
    # the committed-back dvc.lock matches what a fresh runner pulls: nothing is re-run
    assert "Running stage" not in second.jobs["reproduce/reproduce"].step("repro").stdout
    [comment2] = gh.comments("pr/2")
    assert comment2["updates"] == 1
    merge(project, "drift-2024-05", 2)
    promote2 = replay.run(".github/workflows/promote.yaml", Event.push(origin))
    assert promote2.ok, promote2.log()
    assert "refs/tags/credit-risk@v0.2.0" in origin_refs(origin)
    merge2 = run(["git", "rev-parse", "origin/main"], project).stdout.strip()

    # 4. rollback: git revert of the promotion merge, through a pull request
    run(["git", "checkout", "-q", "-b", "revert-pr-2", "main"], project)
    run(["git", "revert", "-m", "1", "--no-edit", merge2], project)
    run(["git", "push", "-q", "-u", "origin", "revert-pr-2"], project)
    gh.add_pr(3, "revert-pr-2")
    revert = replay.run(".github/workflows/pr.yaml", Event.pull_request(origin, 3, "revert-pr-2",
                                                                         action="opened"))
    assert revert.ok, revert.log()
    job = revert.jobs["reproduce/reproduce"]
    assert job.step("repro").outcome == "skipped" and job.step("compare").outcome == "skipped"
    [comment3] = gh.comments("pr/3")
    assert "Rollback to v0.1.0" in comment3["body"]
    merge(project, "revert-pr-2", 3)
    promote3 = replay.run(".github/workflows/promote.yaml", Event.push(origin))
    assert promote3.ok, promote3.log()
    assert promote3.jobs["promote"].step("promote").outputs["action"] == "rollback"
    assert len(gh.releases()) == 2  # a rollback is no new release

    # a fresh clone with an empty DVC cache gets v0.1.0's exact bytes, and sees the history
    fresh = tmp_path / "fresh"
    run(["git", "clone", "-q", str(origin), str(fresh)], tmp_path)
    run(["dvc", "remote", "add", "--local", "-d", "storage", str(remote)], fresh)
    run(["dvc", "pull", "-q", "models/model.skops"], fresh)
    assert hashlib.sha256((fresh / "models" / "model.skops").read_bytes()).hexdigest() == v1_sha
    rows = json.loads(run([sys.executable, "-m", "pipeline", "versions", "--json"], fresh).stdout)
    assert [(r["version"], r["event"]) for r in rows] == [
        ("v0.1.0", "registered"), ("v0.2.0", "registered"), ("v0.1.0", "rollback")]
    assert rows[-1]["current"] and rows[-1]["promoted_by"].startswith("PR #3")

    # 5. a bad batch: the check fails with the clear message; nothing pushed, nothing registered
    before_refs, before_remote = origin_refs(origin), remote_files(remote)
    run(["git", "checkout", "-q", "-b", "bad-2024-06", "origin/main"], project)
    [bad] = simulate_batches(batches, ["2024-06"], 300, seed=6)
    lines = bad.read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("salario_mensual")
    cells = lines[5].split(",")
    cells[col] = "doce-mil"  # text in a numeric column
    lines[5] = ",".join(cells)
    bad.write_text("\n".join(lines) + "\n")
    open_pr(project, gh, "bad-2024-06", 4, "Add the 2024-06 batch")
    after_push = origin_refs(origin)
    failed = replay.run(".github/workflows/pr.yaml", Event.pull_request(origin, 4, "bad-2024-06",
                                                                         action="opened"))
    assert not failed.ok
    job = failed.jobs["reproduce/reproduce"]
    assert job.step("repro").outcome == "failure"
    assert "salario_mensual" in job.step("repro").stdout + job.step("repro").stderr
    assert "salario_mensual" in job.steps[-1].stdout  # the ::error annotation names the column
    assert origin_refs(origin) == after_push  # no bot commit, no tag
    assert {k: v for k, v in after_push.items() if "tags" in k} == {
        k: v for k, v in before_refs.items() if "tags" in k}
    assert remote_files(remote) == before_remote
    [comment4] = gh.comments("pr/4")
    assert "salario_mensual" in comment4["body"]
