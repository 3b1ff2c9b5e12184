"""The scheduled monitoring workflow, replayed: its own steps on real git, DVC and the pipeline.

A production model trained on three stable months sits on `main` (its bytes in a local-folder DVC
remote); then three months under the new credit policy land on main, which is protected (required
check `gate`; GITHUB_TOKEN cannot push to it). The monthly run must keep the monitoring history on
its own branch, open ONE model-alert issue with the plot, open ONE retraining pull request and run the
reusable reproduce-and-report workflow on it (a PR opened with the default token triggers nothing by
itself), whose pushed-back head carries the required check; a second run the same month opens no
duplicates.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from tests.support.project import ROOT, env, make_project, run, simulate_batches
from tests.support.replay import Event, merge_pr, publish

WORKFLOW = ".github/workflows/scheduled.yaml"
# The story is the scheduled loop, not the promotion gate (tests/unit/gitops/test_compare.py): one
# fast family, small bootstraps, a gate every candidate passes.
OVERRIDES = {
    "gate": {"mode": "non_inferiority", "non_inferiority": {"margin": 1.0}, "bootstrap_resamples": 100,
             "max_drop": {"recall_Alto": 1.0}, "max_class_f1_drop": 1.0, "floors": {"accuracy": 0.4}},
    "drift": {"concept": {"bootstrap": 100}},
    "monitor": {"ab_test": {"resamples": 200}},
}


def test_schedule_and_dispatch_inputs():
    wf = yaml.safe_load((ROOT / WORKFLOW).read_text())
    on = wf.get("on", wf.get(True))
    assert on["schedule"] == [{"cron": "0 2 1 * *"}]  # the 1st of each month, 02:00 UTC
    assert set(on["workflow_dispatch"]["inputs"]) == {"force_retrain", "rev"}
    assert wf["jobs"]["report"]["uses"] == "./.github/workflows/reproduce.yaml"
    assert "make monitor" in json.dumps(wf["jobs"]["monitor"]["steps"])


@pytest.fixture
def world(tmp_path: Path):
    """main with a reproduced model (pushed to the DVC remote), then three policy-change months; the
    data source (params data.source, a folder) holds a fourth month nobody has delivered yet."""
    incoming = tmp_path / "incoming"
    simulate_batches(incoming, ["2024-07"], 600, "policy_change", seed=7)
    project = make_project(tmp_path, ["2024-01", "2024-02", "2024-03"], rows=600, git=False,
                           overrides={**OVERRIDES, "data": {"source": str(incoming)}}, families=("logistic",))
    remote = tmp_path / "dvc-remote"
    remote.mkdir()
    run(["git", "init", "-q", "-b", "main"], project)
    run(["dvc", "init", "-q"], project)
    run(["dvc", "config", "core.analytics", "false"], project)
    run(["dvc", "remote", "add", "--local", "-d", "storage", str(remote)], project)
    run(["dvc", "repro", "-q"], project)
    run(["dvc", "push", "-q"], project)
    run("git add -A && git commit -qm 'Model trained on 2024-01..03'", project)
    simulate_batches(project / "data" / "batches", ["2024-04", "2024-05", "2024-06"], 600, "policy_change")
    run("git add -A && git commit -qm 'Labelled batches 2024-04..06'", project)
    origin, gh, replay = publish(project, tmp_path, remote, env(tmp_path))
    gh.protect("main", ("gate",))
    return origin, gh, replay


@pytest.mark.slow
def test_scheduled_run_opens_one_issue_and_one_retraining_pr(world):
    origin, gh, replay = world
    period = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    branch = f"retrain/{period}"

    # the monthly cron (no inputs), then a manual dispatch: the second run must open no duplicates
    main_before = run(["git", "rev-parse", "main"], origin).stdout
    first = replay.run(WORKFLOW, Event.schedule(origin, "0 2 1 * *"))
    assert first.ok, first.log()
    assert first.jobs["monitor"].outputs["decision"] == "retrain", first.log()

    # the history is on its own branch (main untouched), in a bot commit that starts no workflow
    assert run(["git", "rev-parse", "main"], origin).stdout == main_before
    log = run(["git", "log", "-1", "--format=%s%n%an", "monitoring"], origin).stdout
    assert "github-actions[bot]" in log and "skip" not in log.lower()
    assert gh.pushes("refs/heads/monitoring")[-1]["token"] == "GITHUB_TOKEN"
    history = run(["git", "show", "monitoring:reports/monitoring/history.csv"], origin).stdout.splitlines()
    assert [line.split(",")[2] for line in history[1:]] == ["2024-04", "2024-05", "2024-06"]
    latest = json.loads(run(["git", "show", "monitoring:reports/monitoring/latest.json"], origin).stdout)
    assert "metric_floor" in {a["name"] for a in latest["alerts"]}
    assert gh.load()["enabled"] == ["scheduled.yaml"]  # the 60-day inactivity clock is reset

    # one alert issue, with the alerts and the plot at the monitoring commit
    [issue] = gh.issues()
    assert issue["labels"] == ["model-alert"] and "metric_floor" in issue["body"]
    monitoring_sha = run(["git", "rev-parse", "monitoring"], origin).stdout.strip()
    assert f"blob/{monitoring_sha}/reports/monitoring/metrics.png?raw=true" in issue["body"]

    # one retraining PR, reproduced and reported on by the reusable workflow in the same run
    [pr] = [p for p in gh.prs() if p["headRefName"] == branch]
    assert pr["state"] == "OPEN"
    assert first.jobs["report/reproduce"].status == "success", first.log()
    [comment] = gh.comments(f"pr/{pr['number']}")
    assert comment["watermark"] == "credit-risk report"
    changed = run(["git", "show", "--name-only", "--format=", f"refs/heads/{branch}"], origin).stdout.split()
    assert "dvc.lock" in changed, "the reproduced dvc.lock was not committed back to the PR branch"
    # the retraining PR's head carries the required check, so a reviewer can merge it
    assert gh.check(run(["git", "rev-parse", branch], origin).stdout.strip(), "gate") == "success"

    # the retraining PR's params change trained another model than prod's, and its report compares the
    # two (prod is main's model here: nothing is registered yet, and compare says so)
    comparison = json.loads(run(["git", "show", f"{branch}:reports/comparison.json"], origin).stdout)
    models = comparison["models"]
    prod_card = json.loads(run(["git", "show", "main:models/model_card.json"], origin).stdout)
    assert models["champion"]["model_sha256"] == prod_card["model"]["sha256"]
    assert models["challenger"]["model_sha256"] != models["champion"]["model_sha256"]
    assert "params.yaml" in run(["git", "diff", "--name-only", "main", branch], origin).stdout.split()
    assert "Retrain" in pr["title"] and "**Change**" in pr["body"]

    # the data source had a new month: a data PR, as a data engineer would open, reproduced and
    # reported on by the same run, its head carrying the required check
    ingest = first.jobs["ingest"]
    assert ingest.outputs["created"] == "true", first.log()
    [data_pr] = [p for p in gh.prs() if p["headRefName"] == "ingest/2024-07"]
    assert "data/batches/2024-07.csv" in data_pr["body"]
    tree = run(["git", "ls-tree", "-r", "--name-only", "ingest/2024-07", "data/batches/"], origin).stdout
    assert "data/batches/2024-07.csv.dvc" in tree.split()
    assert first.jobs["report-ingest/reproduce"].status == "success", first.log()
    assert gh.comments(f"pr/{data_pr['number']}")
    assert gh.check(run(["git", "rev-parse", "ingest/2024-07"], origin).stdout.strip(), "gate") == "success"

    # the same month again: the issue gets a comment, no second issue, branch or pull request
    second = replay.run(WORKFLOW, Event.workflow_dispatch(origin, {}))
    assert second.ok, second.log()
    assert len(gh.issues()) == 1 and len(gh.issues()[0]["comments"]) == 1
    assert len([p for p in gh.prs() if p["headRefName"] == branch]) == 1
    assert second.jobs["retrain"].outputs["created"] == "false"
    assert second.jobs["report"].status == "skipped"
    assert second.jobs["ingest"].outputs["created"] == "false"
    assert second.jobs["report-ingest"].status == "skipped"
    # the site went out with the first run's history; the same history is not published twice
    assert first.jobs["pages/deploy"].status == "success", first.log()
    assert second.jobs["pages"].status == "skipped", second.log()
    creates = [c for c in gh.calls("gh") if c["action"] == "pr create"]
    assert sorted(c["argv"][c["argv"].index("--head") + 1] for c in creates) == ["ingest/2024-07", branch]
    # a rerun on the same day rewrites identical files: no new monitoring commit; main never moved
    assert run(["git", "rev-parse", "monitoring"], origin).stdout.strip() == monitoring_sha
    assert run(["git", "rev-parse", "main"], origin).stdout == main_before
    merge_pr(origin, gh, pr["number"], "squash", env=env(origin.parent))
