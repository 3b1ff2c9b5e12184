"""promote / versions / rollback-check / commit-back on a tiny real git + DVC repository.

The "model" is a few bytes written by a one-line DVC stage, so each test runs real dvc and git (and
gto's tag creation) in seconds; the full pipeline's GitOps loop is replayed in test_gitops.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import run

from pipeline import promote as PR
from pipeline.errors import PipelineError

PARAMS = {"schema": {"critical_class": "Alto"},
          "registry": {"model": "credit-risk", "stage": "prod", "artifact": "models/model.skops",
                       "bump": "minor", "first_version": "v0.1.0"}}

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


def new_model(work: Path, seed: str, message: str, push: bool = True) -> None:
    (work / "seed.txt").write_text(seed + "\n")
    dvc("reproduce", work)
    run(["git", "add", "-A"], work)
    run(["git", "commit", "-qm", message], work)
    if push:
        dvc("push", work)


def test_promote_registers_versions_and_rollbacks(repo, tmp_path, monkeypatch, capsys):
    new_model(repo, "one", "Merge pull request #1 from acme/batch-1")
    out = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    first = PR.promote(PARAMS, require_remote=True, notes=str(tmp_path / "notes.md"))
    assert first["action"] == "registered" and first["version"] == "v0.1.0"
    assert "action=registered" in out.read_text() and "tag=credit-risk@v0.1.0" in out.read_text()
    assert "# credit-risk v0.1.0: new production model" in (tmp_path / "notes.md").read_text()
    assert PR.promote(PARAMS)["action"] == "none"  # idempotent on the same commit

    new_model(repo, "second", "Retrain on batch 2 (#2)")
    assert PR.promote(PARAMS)["version"] == "v0.2.0"
    assert PR.rollback_check(PARAMS, str(tmp_path / "r.md"))["rollback"] == "false"  # prod itself

    run(["git", "revert", "--no-edit", "HEAD"], repo)  # the operator's rollback, as a PR would hold it
    dvc("checkout", repo)  # what CI's `dvc pull` leaves in the work tree
    assert PR.rollback_check(PARAMS, str(tmp_path / "r.md")) == {
        "rollback": "true", "version": "v0.1.0", "from": "v0.2.0"}
    assert "rollback=true" in out.read_text()
    report = (tmp_path / "r.md").read_text()
    assert report.startswith("## Rollback to v0.1.0") and "0.8300" in report  # v0.1.0's accuracy
    model = (repo / "models/model.skops").read_bytes()
    (repo / "models/model.skops").write_bytes(b"not the model")
    with pytest.raises(PipelineError, match="is not v0.1.0's"):
        PR.rollback_check(PARAMS, None)
    (repo / "models/model.skops").write_bytes(model)

    time.sleep(1.1)  # GTO orders stage assignments by their tag's time (seconds); ours by number
    back = PR.promote(PARAMS)
    assert back == {**back, "action": "rollback", "version": "v0.1.0", "tag": "credit-risk@v0.1.0"}
    assert PR.promote(PARAMS)["action"] == "none"

    tags = run(["git", "tag", "-l"], repo).stdout.split()
    assert sorted(tags) == ["credit-risk#prod#1", "credit-risk#prod#2", "credit-risk#prod#3",
                            "credit-risk@v0.1.0", "credit-risk@v0.2.0"]
    import gto.api

    # GTO itself agrees (`gto show credit-risk`): prod is v0.1.0 again, v0.2.0 holds no stage
    stages = {v["version"]: [s["stage"] for s in v["stages"]] for v in gto.api.show(".", "credit-risk")}
    assert stages == {"v0.1.0": ["prod"], "v0.2.0": []}

    rows = PR.version_rows(PARAMS)
    assert [(r["version"], r["event"]) for r in rows] == [
        ("v0.1.0", "registered"), ("v0.2.0", "registered"), ("v0.1.0", "rollback")]
    assert rows[0]["promoted_by"].startswith("PR #1") and rows[1]["promoted_by"].startswith("PR #2")
    assert rows[2]["promoted_by"].startswith("commit ") and "Revert" in rows[2]["promoted_by"]
    assert rows[2]["current"] and not rows[0]["current"]
    assert rows[2]["note"] == "rollback to v0.1.0 (from v0.2.0)"
    assert rows[0]["training_rows"] == 1003 and rows[0]["metrics"]["recall_Alto"] == 0.7

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(PARAMS))
    assert PR.versions_cli(argparse.Namespace(params=str(params), json=False)) == 0
    text = capsys.readouterr().out
    assert "rollback to v0.1.0 (from v0.2.0)" in text and "← prod" in text


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
    sha = PR.commit_back("feature", "origin", "Reproduce the pipeline")
    assert sha == run(["git", "rev-parse", "feature"], origin).stdout.strip()
    log = run(["git", "log", "-1", "--format=%B", "feature"], origin).stdout
    assert log.strip() == "Reproduce the pipeline"  # no skip marker: it would skip main's workflows
    files = run(["git", "show", "--name-only", "--format=", "feature"], origin).stdout.split()
    assert sorted(files) == ["dvc.lock", "models/.gitignore", "models/model_card.json",
                             "models/model_card.md"]
    assert PR.commit_back("feature", "origin", "again") == sha  # nothing left to commit

    # "Re-run jobs": the old event checks out the reproduced commit again; the branch's tip is the
    # earlier commit-back of the same inputs, so the outputs are rebuilt on it, not refused
    run(["git", "checkout", "-q", "--detach", reproduced], repo)
    dvc("reproduce", repo)
    assert PR.commit_back("feature", "origin", "Reproduce again") == sha
    (repo / "models" / "model_card.md").write_text("# card, other bytes\n")  # another machine's floats
    again = PR.commit_back("feature", "origin", "Reproduce again")
    assert run(["git", "rev-parse", f"{again}^"], origin).stdout.strip() == sha

    # someone pushed new inputs since: a re-run of the old event pushes nothing
    run(["git", "checkout", "-q", "-B", "person", again], repo)
    (repo / "seed.txt").write_text("newer\n")
    run("git commit -qam 'newer data' && git push -q origin HEAD:feature", repo)
    newer = run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    run(["git", "checkout", "-q", "--detach", reproduced], repo)
    dvc("reproduce", repo)
    assert PR.commit_back("feature", "origin", "stale") is None
    assert run(["git", "rev-parse", "feature"], origin).stdout.strip() == newer


def test_versions_without_tags_shows_the_model_history_from_git(repo, tmp_path, capsys):
    """A clone that did not fetch the version tags still sees which commits changed the model."""
    new_model(repo, "one", "Merge pull request #1 from acme/batch-1", push=False)
    (repo / "notes.txt").write_text("unrelated\n")
    run("git add -A && git commit -qm 'docs only'", repo)
    new_model(repo, "second", "Retrain on batch 2 (#2)", push=False)
    rows = PR.lineage_rows(PARAMS)
    assert [r["promoted_by"].split(" (")[0] for r in rows] == ["PR #1", "PR #2"]
    assert [r["current"] for r in rows] == [False, True]
    assert rows[1]["metrics"]["accuracy"] == pytest.approx(0.86)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(PARAMS))
    assert PR.versions_cli(argparse.Namespace(params=str(params), json=False)) == 0
    out = capsys.readouterr().out
    assert "no version tags in this clone" in out and out.count("unregistered") == 2
