"""The GitOps loop, proven without GitHub: the workflows' own steps replayed on real git and DVC.

Fast tests cover the replay harness itself (expressions, triggers, the cml/gh stand-ins) and lint the
workflows; the slow story plays a data engineer's PRs, merges, a `git revert` rollback and a bad
batch against a bare `origin` and a local-folder DVC remote.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.project import ROOT, env, make_project, run, simulate_batches, write_params
from tests.support.replay import (
    Event,
    FakeGitHub,
    MergeRefused,
    Replayer,
    ReplayError,
    cancelled,
    evaluate,
    install_hooks,
    install_stand_ins,
    link_venv,
    merge_pr,
    permissions_narrowed,
    publish,
    substitute,
    triggered,
)
from tests.support.story import PR, PROMOTE, open_pr

WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONS = ROOT / ".github" / "actions"


# --- the harness ----------------------------------------------------------------------------------


def test_expressions_follow_github_semantics():
    ctx = {"steps": {"rollback": {"outputs": {"rollback": "true"}, "outcome": "success"}},
           "github": {"event": {"pull_request": {"head": {"repo": {"full_name": "Acme/X"}}}},
                      "repository": "acme/x"}, "inputs": {"pr-number": 7}}
    assert evaluate("steps.rollback.outputs.rollback != 'true'", ctx) is False
    assert evaluate("steps.missing.outcome == 'success'", ctx) is False
    assert evaluate("vars.AWS_ROLE_ARN != ''", ctx) is False  # null == '' (both 0)
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
    zizmor = subprocess.run([str(bin_dir / "zizmor"), "--offline", str(WORKFLOWS.parent)],
                            capture_output=True, text=True)  # the workflows and the local actions
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    assert f"completed {ACTIONS / 'setup' / 'action.yml'}" in zizmor.stderr  # audited, not skipped
    schema = subprocess.run([str(bin_dir / "check-jsonschema"), "--builtin-schema",
                             "vendor.github-workflows", *files], capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    actions = sorted(str(p) for p in ACTIONS.glob("*/action.yml"))
    schema = subprocess.run([str(bin_dir / "check-jsonschema"), "--builtin-schema",
                             "vendor.github-actions", *actions], capture_output=True, text=True)
    assert actions and schema.returncode == 0, schema.stdout + schema.stderr
    makefile = (ROOT / "Makefile").read_text()
    assert "zizmor --offline .github\n" in makefile and "vendor.github-workflows" in makefile
    assert "vendor.github-actions .github/actions/*/action.yml" in makefile


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
                if "uses" in step and not step["uses"].startswith("./"):  # a local action: this commit's
                    assert len(step["uses"].split("@")[1]) == 40, step["uses"]
                if step.get("uses", "").startswith("actions/checkout"):
                    pushes = any(w in s.get("run", "") for s in job["steps"]
                                 for w in ("commit-back", "git push", "make monitoring-publish"))
                    assert step["with"]["persist-credentials"] is pushes, f"{path.name}:{job_id}"
    for path in ACTIONS.glob("*/action.yml"):  # the local actions' own steps: the same rules
        for step in yaml.safe_load(path.read_text())["runs"]["steps"]:
            assert "${{" not in step.get("run", ""), f"{path}: expression inside run"
            if "uses" in step:
                assert len(step["uses"].split("@")[1]) == 40, step["uses"]


# --- the story ------------------------------------------------------------------------------------

STORY_PARAMS = {
    # one fast family, small bootstraps, and a gate that lets every candidate through: the story
    # is about the GitOps loop, the gate's decisions are tested in test_compare
    "gate": {"mode": "non_inferiority", "non_inferiority": {"margin": 1.0}, "bootstrap_resamples": 100,
             "max_drop": {"recall_Alto": 1.0}, "max_class_f1_drop": 1.0, "floors": {"accuracy": 0.4}},
    "drift": {"concept": {"bootstrap": 100}},
}


def remote_files(remote: Path) -> set[str]:
    return {str(p.relative_to(remote)) for p in remote.rglob("*") if p.is_file()}


def origin_refs(origin: Path) -> dict[str, str]:
    out = run(["git", "for-each-ref", "--format=%(refname) %(objectname)"], origin).stdout
    return {ref: sha for ref, sha in (line.split(" ", 1) for line in out.splitlines())}


def head(origin: Path, branch: str) -> str:
    return run(["git", "rev-parse", f"refs/heads/{branch}"], origin).stdout.strip()


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    """The expensive part, shared: main protected (required check `gate`), and two data engineers'
    pull requests, both opened from the same main and both reproduced by CI (each commits its
    dvc.lock back). Tests work on copies (copy_world)."""
    base = tmp_path_factory.mktemp("story")
    project = make_project(base, periods=["2024-01", "2024-02", "2024-03"], rows=500,
                           overrides=STORY_PARAMS, families=("logistic",))
    remote = base / "dvc-remote"
    remote.mkdir()
    origin, gh, replay = publish(project, base, remote, env(base))
    gh.protect("main", ("gate",))
    batches = project / "data" / "batches"
    run(["git", "checkout", "-q", "-b", "batch-2024-04"], project)
    simulate_batches(batches, ["2024-04"], 500, seed=4)
    open_pr(project, gh, "batch-2024-04", 1, "Add the 2024-04 batch")
    run(["git", "checkout", "-q", "-b", "drift-2024-05", "main"], project)
    simulate_batches(batches, ["2024-05"], 500, scenario="salary_inflation", seed=5)
    open_pr(project, gh, "drift-2024-05", 2, "Add the 2024-05 batch")
    runs = {n: replay.run(PR, Event.pull_request(origin, n, b, action="opened"))
            for n, b in ((1, "batch-2024-04"), (2, "drift-2024-05"))}
    for result in runs.values():
        assert result.ok, result.log()
    return base, runs


def copy_world(src: Path, dst: Path) -> tuple[Path, Path, FakeGitHub, Replayer, Path]:
    """A private copy of a story world (project, origin with its hooks, fake GitHub, DVC remote)."""
    for name in ("project", "origin.git", "dvc-remote"):
        shutil.copytree(src / name, dst / name, symlinks=True)
    shutil.copy2(src / "github.json", dst / "github.json")
    project, origin, remote = dst / "project", dst / "origin.git", dst / "dvc-remote"
    run(["git", "remote", "set-url", "origin", str(origin)], project)
    gh = FakeGitHub(dst / "github.json")
    install_hooks(origin, gh)
    replay = Replayer(origin, dst / "runner", gh, secrets={"DVC_REMOTE_URL": str(remote)}, env=env(dst))
    return project, origin, gh, replay, remote


@pytest.fixture(scope="module")
def promoted(reproduced, tmp_path_factory):
    """The first PR merged with a merge commit and promoted (v0.1.0 in prod): the story and the
    verdict tests go on from copies of it, so the promotion they share is replayed once."""
    base = tmp_path_factory.mktemp("promoted")
    _, origin, gh, replay, _ = copy_world(reproduced[0], base)
    promote = replay.run(PROMOTE, merge_pr(origin, gh, 1, env=env(base)))
    assert promote.triggered and promote.ok, promote.log()
    return base, promote


@pytest.mark.slow
def test_the_reproduced_head_carries_the_required_check(reproduced, tmp_path):
    """The bot's commit-back is the PR's new head; its push (GITHUB_TOKEN) started nothing, so the
    reproduce job reported the required check on it as a commit status."""
    _, origin, gh, replay, _ = copy_world(reproduced[0], tmp_path)
    first = reproduced[1][1]
    tip = head(origin, "batch-2024-04")
    assert tip != first.event.sha
    assert gh.check(first.event.sha, "gate") == "success"
    assert [(c["kind"], c["conclusion"]) for c in gh.checks(tip) if c["name"] == "gate"] == [
        ("status", "success")]
    push = gh.pushes("refs/heads/batch-2024-04")[-1]
    assert (push["after"], push["token"]) == (tip, "GITHUB_TOKEN")
    assert not replay.run(PR, Event.pull_request(origin, 1, "batch-2024-04", token="GITHUB_TOKEN")).triggered
    bot = run(["git", "log", "-1", "--format=%B%n%an", tip], origin).stdout
    assert "github-actions[bot]" in bot and "skip" not in bot.lower()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_reproduced_pr_merges_and_promotes_under_branch_protection(reproduced, request, tmp_path,
                                                                   method):
    """Every merge method starts promote.yaml on the protected main (the merge commit's run is the
    `promoted` fixture's)."""
    if method == "merge":
        base, promote = request.getfixturevalue("promoted")
        _, origin, gh, replay, _ = copy_world(base, tmp_path)
    else:
        _, origin, gh, replay, _ = copy_world(reproduced[0], tmp_path)
        promote = replay.run(PROMOTE, merge_pr(origin, gh, 1, method, env=env(tmp_path)))
    assert promote.triggered, f"{method}: {promote.reason}"
    assert promote.ok, promote.log()
    assert "refs/tags/credit-risk@v0.1.0" in origin_refs(origin)
    [release] = gh.releases()
    assert release["tag"] == "credit-risk@v0.1.0" and release["latest"]
    if method != "merge":
        return  # the recovery below starts from the promotion, whichever way the PR was merged

    # the release step failed after the tags were pushed: a re-run registers nothing twice and a
    # manual run (workflow_dispatch, for recovery) re-creates the missing release
    state = gh.load()
    state["releases"] = []
    gh.save(state)
    again = replay.rerun(promote)
    assert again.ok and again.jobs["promote"].step("promote").outputs["action"] == "none", again.log()
    assert [r["tag"] for r in gh.releases()] == ["credit-risk@v0.1.0"]
    recover = replay.run(PROMOTE, Event.workflow_dispatch(origin))
    assert recover.triggered and recover.ok, recover.log()
    assert len(gh.releases()) == 1 and origin_refs(origin).keys() >= {"refs/tags/credit-risk@v0.1.0"}


@pytest.mark.slow
def test_gitops_story(promoted, tmp_path):
    project, origin, gh, replay, remote = copy_world(promoted[0], tmp_path)

    # 1. the first PR's report: images served from the repository at the commit that holds them
    [comment] = gh.comments("pr/1")
    assert comment["watermark"] == "credit-risk report" and comment["body"].strip()
    [call] = [c for c in gh.calls("cml") if c["target"] == "pr/1"]
    assert call["uploaded"] == [], "the report's images went to CML's public host"
    links = re.findall(r"!\[[^\]]*\]\(https://github.com/acme/credit-risk/blob/([0-9a-f]{40})/([^?)]+)\?raw=true\)",
                       comment["body"])
    assert links and all(sha == head(origin, "batch-2024-04") for sha, _ in links), comment["body"]
    for sha, path in links:
        run(["git", "cat-file", "-e", f"{sha}:{path}"], origin)
    changed = run(["git", "show", "--name-only", "--format=", "refs/heads/batch-2024-04"], origin).stdout
    assert "dvc.lock" in changed.split() and "models/model_card.json" in changed.split()
    assert remote_files(remote), "dvc push sent nothing to the DVC remote"

    # 2. merged (the `promoted` fixture): v0.1.0 registered, tags pushed, a release with the card
    refs = origin_refs(origin)
    assert "refs/tags/credit-risk@v0.1.0" in refs and "refs/tags/credit-risk#prod#1" in refs
    [release] = gh.releases()
    assert {Path(f["path"]).name for f in release["files"] if f["exists"]} >= {"model_card.json",
                                                                               "metrics.json"}
    v1_sha = json.loads(run(["git", "show", "credit-risk@v0.1.0:models/model_card.json"],
                            origin).stdout)["model"]["sha256"]

    # 3. the second engineer's PR changed dvc.lock too: it now conflicts with main, GitHub runs
    # nothing for it and refuses the merge; they update from main, take main's generated files, and
    # CI reproduces both batches together
    assert not Event.pull_request(origin, 2, "drift-2024-05").mergeable
    with pytest.raises(MergeRefused):
        merge_pr(origin, gh, 2, env=env(tmp_path))
    run(["git", "checkout", "-q", "drift-2024-05"], project)
    run(["git", "pull", "-q", "--ff-only"], project)  # the bot's dvc.lock commit
    run(["git", "fetch", "-q", "origin"], project)
    assert run(["git", "merge", "-q", "origin/main"], project, check=False).returncode != 0
    conflicted = run(["git", "diff", "--name-only", "--diff-filter=U"], project).stdout.split()
    assert "dvc.lock" in conflicted
    run(["git", "checkout", "--theirs", "--", *conflicted], project)
    run(["git", "add", "--", *conflicted], project)
    run(["git", "commit", "-q", "--no-edit"], project)
    run(["git", "push", "-q"], project)
    second = replay.run(PR, Event.pull_request(origin, 2, "drift-2024-05"))
    assert second.ok, second.log()
    assert "Running stage" in second.jobs["reproduce/reproduce"].step("repro").stdout
    [comment2] = gh.comments("pr/2")
    assert comment2["updates"] == 1
    tip2 = head(origin, "drift-2024-05")
    assert tip2 != second.event.sha and gh.check(tip2, "gate") == "success"
    tree = run(["git", "ls-tree", "--name-only", tip2, "data/batches/"], origin).stdout.split()
    assert {"data/batches/2024-04.csv", "data/batches/2024-05.csv"} <= set(tree)
    assert run(["git", "diff", "--quiet", "main", tip2, "--", "dvc.lock"], origin, check=False).returncode

    # "Re-run jobs" on that run: the old event (the pre-commit-back head); the commit-back is rebuilt
    # on the branch's tip instead of being refused as non-fast-forward, and the check is re-reported
    rerun = replay.rerun(second)
    assert rerun.ok, rerun.log()
    tip3 = head(origin, "drift-2024-05")
    assert tip3 == tip2 or run(["git", "rev-parse", f"{tip3}^"], origin).stdout.strip() == tip2
    assert gh.checks(tip3)[-1]["name"] == "gate" and gh.check(tip3, "gate") == "success"

    promote2 = replay.run(PROMOTE, merge_pr(origin, gh, 2, env=env(tmp_path)))
    assert promote2.ok, promote2.log()
    assert "refs/tags/credit-risk@v0.2.0" in origin_refs(origin)
    assert [r["tag"] for r in gh.releases() if r["latest"]] == ["credit-risk@v0.2.0"]
    merge2 = head(origin, "main")

    # 4. rollback: git revert of the promotion merge, through a pull request
    run(["git", "fetch", "-q", "origin"], project)
    run(["git", "checkout", "-q", "-b", "revert-pr-2", "origin/main"], project)
    run(["git", "revert", "-m", "1", "--no-edit", merge2], project)
    run(["git", "push", "-q", "-u", "origin", "revert-pr-2"], project)
    gh.add_pr(3, "revert-pr-2")
    revert = replay.run(PR, Event.pull_request(origin, 3, "revert-pr-2", action="opened"))
    assert revert.ok, revert.log()
    job = revert.jobs["reproduce/reproduce"]
    assert job.step("repro").outcome == "skipped" and job.step("compare").outcome == "skipped"
    [comment3] = gh.comments("pr/3")
    assert "Rollback to v0.1.0" in comment3["body"]
    promote3 = replay.run(PROMOTE, merge_pr(origin, gh, 3, env=env(tmp_path)))
    assert promote3.ok, promote3.log()
    assert promote3.jobs["promote"].step("promote").outputs["action"] == "rollback"
    assert len(gh.releases()) == 2  # a rollback is no new release...
    assert [r["tag"] for r in gh.releases() if r["latest"]] == ["credit-risk@v0.1.0"]  # ...but Latest

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

    # 5. a bad batch: the check fails with the clear message; nothing pushed, nothing registered,
    # and the merge button stays disabled
    before_refs, before_remote = origin_refs(origin), remote_files(remote)
    run(["git", "fetch", "-q", "origin"], project)
    run(["git", "checkout", "-q", "-b", "bad-2024-06", "origin/main"], project)
    [bad] = simulate_batches(project / "data" / "batches", ["2024-06"], 300, seed=6)
    lines = bad.read_text().splitlines()
    col = lines[0].split(",").index("salario_mensual")
    cells = lines[5].split(",")
    cells[col] = "doce-mil"  # text in a numeric column
    lines[5] = ",".join(cells)
    bad.write_text("\n".join(lines) + "\n")
    open_pr(project, gh, "bad-2024-06", 4, "Add the 2024-06 batch")
    after_push = origin_refs(origin)
    failed = replay.run(PR, Event.pull_request(origin, 4, "bad-2024-06", action="opened"))
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
    assert gh.check(failed.event.sha, "gate") == "failure"
    with pytest.raises(MergeRefused, match="'gate'.*failure"):
        merge_pr(origin, gh, 4, env=env(tmp_path))


# --- merging applies the verdict: reject, override, revert -----------------------------------------

# a gate nothing clears (a 50-point gain): the second engineer's model is rejected
STRICT_GATE = {"gate": {**STORY_PARAMS["gate"], "mode": "superiority", "superiority": {"margin": 0.5}}}


def update_from_main(project: Path, branch: str) -> None:
    """The engineer brings `branch` up to date with main, taking main's generated files (dvc.lock,
    reports, the card: CI reproduces them for the merged inputs)."""
    run(["git", "checkout", "-q", branch], project)
    run(["git", "pull", "-q", "--ff-only"], project)  # the bot's dvc.lock commit
    run(["git", "fetch", "-q", "origin"], project)
    if run(["git", "merge", "-q", "origin/main"], project, check=False).returncode:
        conflicted = run(["git", "diff", "--name-only", "--diff-filter=U"], project).stdout.split()
        run(["git", "checkout", "--theirs", "--", *conflicted], project)
        run(["git", "add", "--", *conflicted], project)
        run(["git", "commit", "-q", "--no-edit"], project)


def prod_tag(origin: Path, work: Path) -> str:
    """`gto show credit-risk#prod --ref` in a fresh clone of origin: the tag of the production version."""
    clone = work / "prod-clone"
    shutil.rmtree(clone, ignore_errors=True)
    run(["git", "clone", "-q", str(origin), str(clone)], work)
    return run(["gto", "show", "credit-risk#prod", "--ref"], clone).stdout.strip()


@pytest.fixture(scope="module")
def rejected(promoted, tmp_path_factory):
    """PR #1 merged and promoted (v0.1.0 in prod); PR #2 (the 2024-05 batch) brought up to date with
    main under a gate nothing clears, reproduced by CI: its challenger is rejected. Tests merge it on
    copies (copy_world)."""
    base = tmp_path_factory.mktemp("rejected")
    project, origin, gh, replay, _ = copy_world(promoted[0], base)
    update_from_main(project, "drift-2024-05")
    write_params(project, STRICT_GATE)
    run("git commit -qam 'Require a 50-point gain' && git push -q", project)
    result = replay.run(PR, Event.pull_request(origin, 2, "drift-2024-05"))
    assert result.ok, result.log()
    return base, result


@pytest.mark.slow
def test_a_rejected_pr_merged_lands_its_data_and_keeps_prod(rejected, tmp_path):
    """Done when (1): a rejection is a finding, not a failure: the check is green, the report says in
    advance what merging does, and the merge lands the batch while `prod` stays on the champion."""
    project, origin, gh, replay, _ = copy_world(rejected[0], tmp_path)
    tip = head(origin, "drift-2024-05")
    comparison = json.loads(run(["git", "show", f"{tip}:reports/comparison.json"], origin).stdout)
    assert comparison["decision"] == "reject" and comparison["base"]["version"] == "v0.1.0"
    assert gh.check(tip, "gate") == "success"  # a reject is a finding: the merge button is enabled
    [comment] = gh.comments("pr/2")
    first_line = comment["body"].strip().splitlines()[0]
    assert "Merging accepts the data and keeps v0.1.0" in first_line and "promote-anyway" in first_line

    promote = replay.run(PROMOTE, merge_pr(origin, gh, 2, env=env(tmp_path)))
    assert promote.ok, promote.log()
    assert promote.jobs["promote"].step("promote").outputs["action"] == "recorded"
    tree = run(["git", "ls-tree", "--name-only", "main", "data/batches/"], origin).stdout.split()
    assert "data/batches/2024-05.csv" in tree  # the batch is on main...
    assert prod_tag(origin, tmp_path) == "credit-risk@v0.1.0"  # ...and prod is still the champion
    message = run(["git", "tag", "-l", "--format=%(contents)", "credit-risk@v0.2.0"], origin).stdout
    assert "recorded, not promoted" in message and "gate-reasons:" in message
    assert "refs/tags/credit-risk#prod#2" not in origin_refs(origin)  # no new assignment
    assert [r["tag"] for r in gh.releases() if r["latest"]] == ["credit-risk@v0.1.0"]
    [record] = [r for r in gh.releases() if r["tag"] == "credit-risk@v0.2.0"]  # released for the record
    assert "recorded, not promoted (v0.1.0 stays)" in record["notes"]


@pytest.mark.slow
def test_override_label_promotes_and_a_revert_restores_prod(rejected, tmp_path):
    """Done when (2), (3), (5): the `promote-anyway` label applied before merging promotes the rejected
    model, recording the override, who merged and the gate's reasons in the tag; reverting that merge
    puts `prod` back on v0.1.0 with its exact bytes from the DVC remote into an empty cache; `versions
    --timeline` prints who put what in production."""
    project, origin, gh, replay, remote = copy_world(rejected[0], tmp_path)
    gh.label(2, "promote-anyway")
    merged = merge_pr(origin, gh, 2, env=env(tmp_path), merged_by="risk-officer")
    promote = replay.run(PROMOTE, merged)
    assert promote.ok, promote.log()
    assert promote.jobs["promote"].step("promote").outputs["action"] == "registered"
    assert prod_tag(origin, tmp_path) == "credit-risk@v0.2.0"
    message = run(["git", "tag", "-l", "--format=%(contents)", "credit-risk#prod#2"], origin).stdout
    assert "override of the gate by risk-officer" in message
    assert "override-label: promote-anyway" in message and "override-by: risk-officer" in message
    assert "gate-reasons: " in message and "promoted-by: PR #2" in message
    [release] = [r for r in gh.releases() if r["tag"] == "credit-risk@v0.2.0"]
    assert release["latest"] and "**Override**" in release["notes"]

    # the reviewer thinks better of it: `git revert` of the override's merge, through a pull request
    v1_sha = json.loads(run(["git", "show", "credit-risk@v0.1.0:models/model_card.json"],
                            origin).stdout)["model"]["sha256"]
    run(["git", "fetch", "-q", "origin"], project)
    run(["git", "checkout", "-q", "-b", "revert-pr-2", "origin/main"], project)
    run(["git", "revert", "-m", "1", "--no-edit", merged.sha], project)
    run(["git", "push", "-q", "-u", "origin", "revert-pr-2"], project)
    gh.add_pr(3, "revert-pr-2", title="Revert the override")
    revert = replay.run(PR, Event.pull_request(origin, 3, "revert-pr-2", action="opened"))
    assert revert.ok, revert.log()
    assert revert.jobs["reproduce/reproduce"].step("repro").outcome == "skipped"  # nothing retrained
    promote3 = replay.run(PROMOTE, merge_pr(origin, gh, 3, env=env(tmp_path)))
    assert promote3.ok, promote3.log()
    assert promote3.jobs["promote"].step("promote").outputs["action"] == "rollback"
    assert prod_tag(origin, tmp_path) == "credit-risk@v0.1.0"
    message = run(["git", "tag", "-l", "--format=%(contents)", "credit-risk#prod#3"], origin).stdout
    assert "rollback to v0.1.0 (from v0.2.0)" in message and "promoted-by: PR #3" in message

    # a fresh clone, an empty DVC cache: main's dvc.lock brings v0.1.0's exact bytes from the remote
    fresh = tmp_path / "fresh"
    run(["git", "clone", "-q", str(origin), str(fresh)], tmp_path)
    assert not (fresh / ".dvc" / "cache").exists()
    run(["dvc", "remote", "add", "--local", "-d", "storage", str(remote)], fresh)
    run(["dvc", "pull", "-q", "models/model.skops"], fresh)
    assert hashlib.sha256((fresh / "models" / "model.skops").read_bytes()).hexdigest() == v1_sha

    timeline = run([sys.executable, "-m", "pipeline", "versions", "--timeline"], fresh).stdout
    periods = [line.split() for line in timeline.splitlines() if "→" in line]
    assert [p[3] for p in periods] == ["v0.1.0", "v0.2.0", "v0.1.0"], timeline
    assert "PR #1" in timeline and "override by risk-officer (label promote-anyway)" in timeline
    assert "rollback v0.2.0 → v0.1.0 (revert by PR #3" in timeline and periods[-1][2] == "now"


def test_changes_decides_what_retrains(tmp_path):
    """`make changes`: data, params, the pipeline's code, dvc files, the lock files and the Makefile
    retrain; docs and tests do not."""
    project = make_project(tmp_path, rows=50)
    base = run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    cases = {"README.md": "false", "tests/test_x.py": "false", "uv.lock": "true", "Makefile": "true",
             "pyproject.toml": "true", "pipeline/stages/train.py": "true", "params.yaml": "true",
             "data/batches/x.csv": "true"}
    for path, expected in cases.items():
        run(["git", "checkout", "-q", "-B", "t", base], project)
        target = project / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a") as fh:
            fh.write("\n# changed\n")
        run(["git", "add", "-A"], project)
        run(["git", "commit", "-qm", f"change {path}"], project)
        out = tmp_path / "out"
        out.write_text("")
        run(["make", "-s", "changes"], project,
            env={**env(tmp_path), "BASE": base, "GITHUB_OUTPUT": str(out)})
        assert out.read_text().strip() == f"pipeline={expected}", path


def test_ssh_key_on_a_fresh_checkout(tmp_path):
    """`make dvc-remote` with DVC_SSH_KEY in a fresh clone (no .dvc/tmp yet): the key lands, 0600."""
    project = make_project(tmp_path, rows=50)
    fresh = tmp_path / "fresh"
    run(["git", "clone", "-q", str(project), str(fresh)], tmp_path)
    link_venv(fresh)
    assert not (fresh / ".dvc" / "tmp").exists()
    # `-o dvc-plugin`: make skips the plugin install (dvc-ssh from PyPI); the remote config needs none
    run(["make", "-o", "dvc-plugin", "dvc-remote"], fresh, env={
        **env(tmp_path), "DVC_REMOTE_URL": "ssh://dvc@storage.example.invalid/credit-risk",
        "DVC_SSH_KEY": "-----BEGIN OPENSSH PRIVATE KEY-----\nx"})
    key = fresh / ".dvc" / "tmp" / "ssh_key"
    assert key.read_text().startswith("-----BEGIN") and oct(key.stat().st_mode & 0o777) == "0o600"
    assert str(key) in (fresh / ".dvc" / "config.local").read_text()


def _steps(path: str) -> list[dict]:
    wf = yaml.safe_load((WORKFLOWS / path).read_text())
    return [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def test_workflows_follow_githubs_rules():
    """What the replay cannot run: CML's setup action, uv's origin, triggers and the gate's shape."""
    actions = {p: yaml.safe_load(p.read_text())["runs"]["steps"] for p in ACTIONS.glob("*/action.yml")}
    assert ACTIONS / "setup" / "action.yml" in actions
    for path in [*WORKFLOWS.glob("*.yaml"), *actions]:
        text = path.read_text()
        assert "skip ci]" not in text.replace("No `[skip ci]`", ""), f"{path.name}: a skip marker"
        assert "astral-sh/setup-uv" not in text, f"{path.name}: one uv, the Makefile's pinned one"
        for step in actions.get(path) or _steps(path.name):
            if step.get("uses", "").startswith("iterative/setup-cml"):
                assert step["with"] == {"version": "v0.20.6", "vega": False}, path.name
    # a local action is read from the workspace: the job checks the repository out before using it
    for path in WORKFLOWS.glob("*.yaml"):
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            uses = [s.get("uses", "") for s in job.get("steps", [])]
            local = [i for i, u in enumerate(uses) if u.startswith("./.github/actions/")]
            checkout = [i for i, u in enumerate(uses) if u.startswith("actions/checkout@")]
            assert not local or (checkout and checkout[0] < local[0]), f"{path.name} {name}"
    pr = yaml.safe_load((WORKFLOWS / "pr.yaml").read_text())
    on = pr.get("on", pr.get(True))
    assert "paths" not in on["pull_request"], "a paths filter leaves the required check expected forever"
    gate = pr["jobs"]["gate"]
    assert gate["name"] == "gate" and gate["if"] == "always()"
    assert set(gate["needs"]) == set(pr["jobs"]) - {"gate"}
    assert pr["jobs"]["code"]["uses"] == "./.github/workflows/ci.yaml"
    ci = yaml.safe_load((WORKFLOWS / "ci.yaml").read_text())
    ci_on = ci.get("on", ci.get(True))
    assert ci_on["push"]["branches"] == ["main"] and "workflow_call" in ci_on
    assert {s.get("run") for s in _steps("ci.yaml")} >= {"make lint", "make test-fast"}
    assert pr["jobs"]["reproduce"]["permissions"]["statuses"] == "write"
    promote = yaml.safe_load((WORKFLOWS / "promote.yaml").read_text())
    assert "workflow_dispatch" in promote.get("on", promote.get(True))
    assert "git push origin HEAD:main" not in (WORKFLOWS / "scheduled.yaml").read_text()


def test_called_workflows_only_narrow_the_callers_token():
    """Each job calling a local reusable workflow grants at least what the called jobs ask for: GitHub
    refuses to start the run otherwise (the replay raises the same error when it expands the call)."""
    called = 0
    for path in WORKFLOWS.glob("*.yaml"):
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            if str(job.get("uses", "")).startswith("./.github/workflows/"):
                wf = yaml.safe_load((ROOT / job["uses"][2:]).read_text())
                permissions_narrowed(f"{path.name}:{name}", job["uses"], job.get("permissions"), wf)
                called += 1
    assert called >= 5
    with pytest.raises(ReplayError, match="nested job 'reproduce' is requesting 'statuses: write"):
        permissions_narrowed("x", "./.github/workflows/reproduce.yaml",
                             {"contents": "write", "pull-requests": "write"},
                             yaml.safe_load((WORKFLOWS / "reproduce.yaml").read_text()))


def test_promote_queue_is_documented_as_github_applies_it():
    """Three quick merges: GitHub runs the first and the last promote run; the middle one is cancelled
    while pending. The workflow says so (it used to promise that no promotion is ever dropped)."""
    text = (WORKFLOWS / "promote.yaml").read_text()
    spec = yaml.safe_load(text)["concurrency"]
    assert cancelled([spec] * 3) == [False, True, False]
    assert "never drop" not in text and "never gets a version" in text
