"""promote / versions / rollback-check / commit-back on a tiny real git + DVC repository.

The "model" is a few bytes written by a one-line DVC stage, so each test runs real dvc and git (and
gto's tag creation) in seconds; the full pipeline's GitOps loop is replayed in test_gitops.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import pytest
import yaml

from pipeline import params as P
from pipeline.commands import commit_back as commit_back_cmd
from pipeline.commands import promote as promote_cmd
from pipeline.commands import rollback_check as rollback_cmd
from pipeline.commands import versions as versions_cmd
from pipeline.errors import PipelineError
from pipeline.gitops import promote as PR
from pipeline.gitops import registry as REG
from pipeline.gitops import timeline as TL
from tests.support.project import ROOT, run

# the repository's registry block (its defaults live in params.yaml only)
PARAMS = {"schema": {"critical_class": "Alto"},
          "registry": P.section(P.load(ROOT / "params.yaml"), "registry")}

MAKE_MODEL = '''\
import hashlib, json, pathlib
seed = pathlib.Path("seed.txt").read_text().strip()
data = hashlib.sha256(seed.encode()).digest() * 64
pathlib.Path("models").mkdir(exist_ok=True)
pathlib.Path("models/model.skops").write_bytes(data)
card = {"model": {"sha256": hashlib.sha256(data).hexdigest(), "path": "models/model.skops"},
        "data": {"rows": {"train": 1000 + len(seed)}},
        "metrics": {"test": {"accuracy": 0.8 + len(seed) / 100, "f1_weighted": 0.8, "roc_auc": 0.9,
                             "per_class": {"Alto": {"recall": 0.7}}}}}
pathlib.Path("models/model_card.json").write_text(json.dumps(card))
pathlib.Path("models/model_card.md").write_text("# card\\n")
'''

DVC_YAML = """\
stages:
  evaluate:
    cmd: python make_model.py
    deps: [seed.txt, make_model.py]
    outs:
      - models/model.skops
      - models/model_card.json:
          cache: false
      - models/model_card.md:
          cache: false
"""


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git + DVC repo with a local DVC remote; the cwd is the repo (promote works on '.')."""
    work, remote = tmp_path / "repo", tmp_path / "remote"
    work.mkdir()
    remote.mkdir()
    (work / "make_model.py").write_text(MAKE_MODEL)
    (work / "dvc.yaml").write_text(DVC_YAML)
    (work / "seed.txt").write_text("one\n")
    run(["git", "init", "-q", "-b", "main"], work)
    run(["dvc", "init", "-q"], work)
    with open(work / ".dvc" / "config", "a") as fh:  # = `dvc remote add -d storage REMOTE`
        fh.write(f"[core]\n    remote = storage\n['remote \"storage\"']\n    url = {remote}\n")
    run("git add -A && git commit -qm 'initial'", work)
    monkeypatch.chdir(work)
    # in-process DVC logs to the stream it saw at import, which pytest closes after that test
    monkeypatch.setattr(logging.getLogger("dvc"), "handlers", [logging.NullHandler()])
    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(key, "Test Engineer")
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, "engineer@example.invalid")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return work


def dvc(action: str, work: Path) -> None:
    """In-process DVC (real, but without a process start of seconds per call)."""
    from dvc.repo import Repo

    with Repo(str(work)) as repo:
        getattr(repo, action)()


def new_model(work: Path, seed: str, message: str, push: bool = True,
              decision: str | None = None, champion: str | None = None) -> str:
    """Reproduce a model for `seed` and commit it; with `decision`, CI's comparison for those bytes
    (challenger = the new model, champion = the sha256 `champion`) is committed beside dvc.lock."""
    (work / "seed.txt").write_text(seed + "\n")
    dvc("reproduce", work)
    sha = json.loads((work / "models/model_card.json").read_text())["model"]["sha256"]
    if decision:
        judge(work, decision, sha, champion)
    run(["git", "add", "-A"], work)
    run(["git", "commit", "-qm", message], work)
    if push:
        dvc("push", work)
    return sha


def judge(work: Path, decision: str, challenger: str, champion: str | None) -> None:
    """reports/comparison.json as `compare` writes it (the fields promote reads)."""
    (work / "reports").mkdir(exist_ok=True)
    (work / "reports/comparison.json").write_text(json.dumps({
        "decision": decision, "promote": decision != "reject",
        "reasons": ["accuracy changed by +0.0040, less than required" if decision == "reject"
                    else "accuracy improved by +0.0200"],
        "models": {"challenger": {"model_sha256": challenger},
                   "champion": {"model_sha256": champion} if champion else None}}))


def merge(work: Path, branch: str, number: int, seed: str, decision: str | None, champion: str | None):
    """A pull request from `branch` merged with GitHub's merge-commit message."""
    run(["git", "checkout", "-qb", branch], work)
    sha = new_model(work, seed, f"Add the batch for {seed}", decision=decision, champion=champion)
    run(["git", "checkout", "-q", "main"], work)
    run(["git", "merge", "-q", "--no-ff", "-m", f"Merge pull request #{number} from acme/{branch}",
         branch], work)
    return sha


def prod_now() -> str | None:
    import gto.api

    return {v["version"]: [s["stage"] for s in v["stages"]] for v in gto.api.show(".", "credit-risk")}


def test_merging_applies_the_verdict_and_a_revert_rolls_prod_back(repo, tmp_path, monkeypatch, capsys):
    assert REG.production_ref(PARAMS) == REG.ProductionRef(
        "main", None, "no version of credit-risk in stage prod yet: using the model at main")
    assert REG.production_ref(PARAMS, "some-branch").rev == "some-branch"  # an explicit revision
    one = merge(repo, "batch-1", 1, "one", "no_champion", None)
    out = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    first = promote_cmd.apply(PARAMS, require_remote=True, notes=str(tmp_path / "notes.md"))
    assert first["action"] == "registered" and first["version"] == "v0.1.0" and first["prod"] == "v0.1.0"
    assert "action=registered" in out.read_text() and "tag=credit-risk@v0.1.0" in out.read_text()
    assert "# credit-risk v0.1.0: new production model" in (tmp_path / "notes.md").read_text()
    assert PR.promote(PARAMS)["action"] == "none"  # idempotent on the same commit
    assert REG.production_ref(PARAMS) == REG.ProductionRef("credit-risk@v0.1.0", "v0.1.0", None)

    # rejected, merged anyway (admin, or no protection): the data lands, prod stays
    merge(repo, "batch-2", 2, "second", "reject", one)
    kept = promote_cmd.apply(PARAMS, labels=["data"], notes=str(tmp_path / "notes.md"))
    assert kept == {**kept, "action": "recorded", "version": "v0.2.0", "prod": "v0.1.0"}
    assert prod_now() == {"v0.1.0": ["prod"], "v0.2.0": []}
    assert "recorded, not promoted (v0.1.0 stays)" in (tmp_path / "notes.md").read_text()
    assert (repo / "seed.txt").read_text() == "second\n"  # the PR's change is on main

    # rejected with the override label: promoted, and the tag says who and why it was rejected
    time.sleep(1.1)  # GTO orders stage assignments by their tag's time (seconds); ours by number
    merge(repo, "batch-3", 3, "third", "reject", one)
    over = promote_cmd.apply(PARAMS, labels=["promote-anyway"], actor="alice",
                             notes=str(tmp_path / "notes.md"))
    assert over == {**over, "action": "registered", "version": "v0.3.0", "decision": "override"}
    message = run(["git", "tag", "-l", "--format=%(contents)", "credit-risk#prod#2"], repo).stdout
    assert "override of the gate by alice" in message and "override-label: promote-anyway" in message
    assert "gate-reasons: accuracy changed by +0.0040, less than required" in message
    assert "**Override**" in (tmp_path / "notes.md").read_text()

    # promoted by the gate, then reverted: prod goes back to v0.3.0 with the bytes from the remote
    time.sleep(1.1)
    three = REG.history(REG.settings(PARAMS)).versions["v0.3.0"].sha256
    merge(repo, "batch-4", 4, "fourth", "promote", three)
    assert PR.promote(PARAMS)["version"] == "v0.4.0"
    promotion = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    run(["git", "revert", "--no-edit", "-m", "1", promotion], repo)
    dvc("checkout", repo)  # what CI's `dvc pull` leaves in the work tree of the revert PR
    assert rollback_cmd.check(PARAMS, str(tmp_path / "r.md")) == {
        "rollback": "true", "version": "v0.3.0", "from": "v0.4.0"}
    assert (tmp_path / "r.md").read_text().startswith("## Rollback to v0.3.0")
    shutil.rmtree(repo / ".dvc" / "cache")  # an empty cache: the remote is the source of truth
    time.sleep(1.1)
    back = PR.promote(PARAMS)
    assert back == {**back, "action": "rollback", "version": "v0.3.0", "prod": "v0.3.0"}
    assert prod_now() == {"v0.1.0": [], "v0.2.0": [], "v0.3.0": ["prod"], "v0.4.0": []}
    message = run(["git", "tag", "-l", "--format=%(contents)", "credit-risk#prod#4"], repo).stdout
    assert message.startswith("credit-risk: rollback to v0.3.0 (from v0.4.0)")
    assert f"revert-of: {promotion}" in message
    # a revert of a data-only merge leaves prod alone
    merge(repo, "batch-5", 5, "fifth", "reject", three)
    recorded = PR.promote(PARAMS)
    run(["git", "checkout", "-q", "credit-risk@v0.1.0", "--", "dvc.lock"], repo)  # an old lock by hand
    assert rollback_cmd.check(PARAMS, None)["rollback"] == "false"  # not a revert: reproduce it
    run(["git", "checkout", "-q", "HEAD", "--", "dvc.lock"], repo)
    assert recorded == {**recorded, "action": "recorded", "version": "v0.5.0", "prod": "v0.3.0"}
    run(["git", "revert", "--no-edit", "-m", "1", "HEAD"], repo)
    reverted = PR.promote(PARAMS)
    assert reverted == {**reverted, "action": "none", "version": "v0.3.0", "prod": "v0.3.0"}

    timeline = TL.timeline_rows(PARAMS)
    assert [(t["version"], t["reason"]) for t in timeline] == [
        ("v0.1.0", "promote"), ("v0.3.0", "override"), ("v0.4.0", "promote"), ("v0.3.0", "rollback")]
    assert timeline[0]["to"] == timeline[1]["from"] and timeline[-1]["to"] is None
    assert timeline[1]["by"].startswith("override by alice (label promote-anyway), PR #3")
    assert timeline[3]["by"].startswith("rollback v0.4.0 → v0.3.0 (revert by commit")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(PARAMS))
    assert versions_cmd.main(argparse.Namespace(params=str(params), json=False, timeline=False)) == 0
    text = capsys.readouterr().out
    assert "recorded, not promoted" in text and "production timeline (credit-risk#prod):" in text
    assert "rollback to v0.3.0 (from v0.4.0)" in text


def test_promote_never_assigns_prod_without_a_comparison_for_the_exact_bytes(repo):
    one = merge(repo, "batch-1", 1, "one", "no_champion", None)
    assert PR.promote(PARAMS)["version"] == "v0.1.0"
    # the comparison committed with dvc.lock judged other bytes: the override label does not help
    merge(repo, "batch-2", 2, "second", "promote", one)
    other = json.loads((repo / "reports/comparison.json").read_text())
    other["models"]["challenger"]["model_sha256"] = "f" * 64
    (repo / "reports/comparison.json").write_text(json.dumps(other))
    run("git commit -qam 'edit the verdict by hand'", repo)
    kept = PR.promote(PARAMS, labels=["promote-anyway"], actor="mallory")
    assert kept == {**kept, "action": "recorded", "prod": "v0.1.0", "decision": "keep"}
    # no comparison at all (a direct push to main)
    (repo / "reports/comparison.json").unlink()
    new_model(repo, "third", "push straight to main")
    assert PR.promote(PARAMS, labels=["promote-anyway"])["prod"] == "v0.1.0"
    # a promotion judged against a champion that is no longer in prod is stale
    merge(repo, "batch-4", 4, "fourth", "promote", "a" * 64)
    stale = PR.promote(PARAMS)
    assert stale["prod"] == "v0.1.0" and stale["decision"] == "keep"


def test_promote_reads_labels_and_merger_from_the_event_payload(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "closed", "pull_request": {
        "merged": True, "labels": [{"name": "data"}, {"name": "promote-anyway"}],
        "merged_by": {"login": "alice"}}, "sender": {"login": "bot"}}))
    assert PR.event_labels(str(event)) == (["data", "promote-anyway"], "alice")
    assert PR.event_labels(None) == ([], None)
    event.write_text(json.dumps([{"number": 3, "labels": [{"name": "promote-anyway"}],
                                  "mergedBy": {"login": "bob"}}]))  # `gh pr list --json` on a push
    assert PR.event_labels(str(event)) == (["promote-anyway"], "bob")
    event.write_text("[]")  # a direct push: no pull request
    assert PR.event_labels(str(event)) == ([], None)
    event.write_text("{")
    with pytest.raises(PipelineError, match="event payload unreadable"):
        PR.event_labels(str(event))


def test_promote_refuses_missing_or_mismatched_models(repo):
    new_model(repo, "one", "never pushed", push=False)
    with pytest.raises(PipelineError, match="not in the DVC remote"):
        PR.promote(PARAMS, require_remote=True)
    dvc("push", repo)
    card = json.loads((repo / "models/model_card.json").read_text())
    card["model"]["sha256"] = "0" * 64
    (repo / "models/model_card.json").write_text(json.dumps(card))
    run("git commit -qam 'edit the card by hand'", repo)
    with pytest.raises(PipelineError, match="does not match models/model_card.json"):
        PR.promote(PARAMS)
    assert run(["git", "tag", "-l"], repo).stdout == ""


def test_commit_back_pushes_lock_and_tracked_outputs(repo, tmp_path):
    origin = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path)
    run(["git", "remote", "add", "origin", str(origin)], repo)
    run(["git", "push", "-q", "origin", "main:feature"], repo)
    (repo / "seed.txt").write_text("changed\n")
    run("git commit -qam 'new data' && git push -q origin HEAD:feature", repo)
    reproduced = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    dvc("reproduce", repo)
    sha = commit_back_cmd.push("feature", "origin", "Reproduce the pipeline")
    assert sha == run(["git", "rev-parse", "feature"], origin).stdout.strip()
    log = run(["git", "log", "-1", "--format=%B", "feature"], origin).stdout
    assert log.strip() == "Reproduce the pipeline"  # no skip marker: it would skip main's workflows
    files = run(["git", "show", "--name-only", "--format=", "feature"], origin).stdout.split()
    assert sorted(files) == ["dvc.lock", "models/.gitignore", "models/model_card.json",
                             "models/model_card.md"]
    assert commit_back_cmd.push("feature", "origin", "again") == sha  # nothing left to commit

    # "Re-run jobs": the old event checks out the reproduced commit again; the branch's tip is the
    # earlier commit-back of the same inputs, so the outputs are rebuilt on it, not refused
    run(["git", "checkout", "-q", "--detach", reproduced], repo)
    dvc("reproduce", repo)
    assert commit_back_cmd.push("feature", "origin", "Reproduce again") == sha
    (repo / "models" / "model_card.md").write_text("# card, other bytes\n")  # another machine's floats
    again = commit_back_cmd.push("feature", "origin", "Reproduce again")
    assert run(["git", "rev-parse", f"{again}^"], origin).stdout.strip() == sha

    # someone pushed new inputs since: a re-run of the old event pushes nothing
    run(["git", "checkout", "-q", "-B", "person", again], repo)
    (repo / "seed.txt").write_text("newer\n")
    run("git commit -qam 'newer data' && git push -q origin HEAD:feature", repo)
    newer = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    run(["git", "checkout", "-q", "--detach", reproduced], repo)
    dvc("reproduce", repo)
    assert commit_back_cmd.push("feature", "origin", "stale") is None
    assert run(["git", "rev-parse", "feature"], origin).stdout.strip() == newer


def test_versions_without_tags_shows_the_model_history_from_git(repo, tmp_path, capsys):
    """A clone that did not fetch the version tags still sees which commits changed the model."""
    new_model(repo, "one", "Merge pull request #1 from acme/batch-1", push=False)
    (repo / "notes.txt").write_text("unrelated\n")
    run("git add -A && git commit -qm 'docs only'", repo)
    new_model(repo, "second", "Retrain on batch 2 (#2)", push=False)
    rows = TL.lineage_rows(PARAMS)
    assert [r["promoted_by"].split(" (")[0] for r in rows] == ["PR #1", "PR #2"]
    assert [r["current"] for r in rows] == [False, True]
    assert rows[1]["metrics"]["accuracy"] == pytest.approx(0.86)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(PARAMS))
    assert versions_cmd.main(argparse.Namespace(params=str(params), json=False, timeline=False)) == 0
    out = capsys.readouterr().out
    assert "no version tags in this clone" in out and out.count("unregistered") == 2
