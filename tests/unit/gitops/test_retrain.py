"""The monthly job's inputs: `ingest` from a data source and a `retrain-plan` that really retrains.

Real git, DVC (`dvc import-url`, `dvc repro`), gto tags and the pipeline, on small simulated data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.errors import PipelineError
from pipeline.gitops import retrain as R
from tests.support.project import cli, make_project, run, simulate_batches


def test_ingest_imports_only_new_batches_from_a_folder(tmp_path, monkeypatch):
    source = tmp_path / "incoming"
    simulate_batches(source, ["2024-01", "2024-02"], 50)
    (source / "notes.txt").write_text("not a batch\n")
    work = tmp_path / "repo"
    (work / "data" / "batches").mkdir(parents=True)
    shutil.copy(source / "2024-01.csv", work / "data" / "batches")  # delivered earlier, in git
    run(["git", "init", "-q", "-b", "main"], work)
    run(["dvc", "init", "-q"], work)
    run("git add -A && git commit -qm initial", work)
    monkeypatch.chdir(work)
    params = {"data": {"batches_dir": "data/batches", "pattern": "*.csv", "source": str(source)}}

    first = R.ingest(params)
    assert first["new"] == ["data/batches/2024-02.csv"]
    assert (work / "data/batches/2024-02.csv").read_bytes() == (source / "2024-02.csv").read_bytes()
    tracked = yaml.safe_load((work / "data/batches/2024-02.csv.dvc").read_text())
    assert tracked["deps"][0]["path"] == str(source / "2024-02.csv")  # `dvc update` follows the URL
    assert "`data/batches/2024-02.csv`" in first["body"]
    assert R.ingest(params)["new"] == []  # nothing new the second time
    assert R.ingest({"data": {**params["data"], "source": None}})["source"] is None

    params["data"]["source"] = str(tmp_path / "no-such-folder")
    with pytest.raises(PipelineError, match="data.source .*no-such-folder.*cannot list"):
        R.ingest(params)


def test_retrain_plan_changes_an_input_or_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    simulate_batches(tmp_path / "data" / "batches", ["2024-01", "2024-02", "2024-03", "2024-04"], 20)
    text = "seed: 42\n\n# the window\nwindow:\n  strategy: combine\n  replace_batches: 2\n"
    params_path = tmp_path / "params.yaml"
    params_path.write_text(text)
    data = {"batches_dir": "data/batches", "pattern": "*.csv"}
    report = tmp_path / "latest.json"

    def plan(decision, *fired):
        report.write_text(json.dumps({"run": {"period": "2024-05"}, "decision": decision,
                                      "model": {"version": "v0.1.0"},
                                      "triggers": [{"name": n, "fired": True, "reason": f"{n} fired"}
                                                   for n in fired]}))
        params = {**yaml.safe_load(params_path.read_text()), "data": data}
        return R.plan(params, params_path, report)

    assert plan("wait")["retrain"] is False and params_path.read_text() == text
    drift = plan("retrain", "drift", "accuracy_below")
    assert drift["key"] == "window" and "newest 2 of 4 batches" in drift["change"]
    assert yaml.safe_load(params_path.read_text())["window"]["strategy"] == "replace"
    assert "# the window" in params_path.read_text()  # comments kept
    assert "- **drift**: drift fired" in drift["body"] and "combine` → `replace" in drift["body"]
    again = plan("retrain", "drift")  # the window is already replaced: a fresh search instead
    assert again["key"] == "seed" and yaml.safe_load(params_path.read_text())["seed"] == 43
    report.write_text("{")
    with pytest.raises(PipelineError, match="monitoring report unreadable"):
        R.plan({"data": data}, params_path, report)


def _repro_compare_commit(project: Path, message: str) -> dict:
    """What CI does on a PR: reproduce, compare with prod, commit dvc.lock with the verdict, push."""
    run(["dvc", "repro", "-q"], project)
    cli(["compare"], project)
    run(["dvc", "push", "-q"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", message], project)
    return json.loads((project / "reports/comparison.json").read_text())


@pytest.mark.slow
def test_the_retraining_pr_trains_another_model_and_compares_it_with_prod(tmp_path):
    gate = {"mode": "superiority", "superiority": {"margin": 0.5}, "bootstrap_resamples": 100,
            "floors": {"accuracy": 0.4}}  # nothing clears a 50-point margin: the data PR is rejected
    project = make_project(tmp_path, ["2024-01", "2024-02", "2024-03"], rows=600,
                           overrides={"gate": gate, "drift": {"concept": {"bootstrap": 100}},
                                      "monitor": {"ab_test": {"resamples": 200}}},
                           families=("logistic",))  # one fast family: the story is the loop
    (tmp_path / "dvc-remote").mkdir()
    run(["dvc", "remote", "add", "--local", "-d", "storage", str(tmp_path / "dvc-remote")], project)
    first = _repro_compare_commit(project, "Merge pull request #1 from acme/first-model")
    assert first["decision"] == "no_champion"
    assert "registered v0.1.0" in cli(["promote"], project).stdout
    prod_sha = json.loads((project / "models/model_card.json").read_text())["model"]["sha256"]

    # three months under a new credit policy land; their model does not clear the (strict) gate
    simulate_batches(project / "data" / "batches", ["2024-04", "2024-05", "2024-06"], 600, "policy_change")
    data = _repro_compare_commit(project, "Merge pull request #2 from acme/policy-months")
    assert data["decision"] == "reject" and data["base"]["version"] == "v0.1.0"
    assert "lands its data and keeps v0.1.0 in prod" in cli(["promote"], project).stdout
    shown = run(["gto", "show", "credit-risk#prod", "--ref"], project).stdout
    assert "credit-risk@v0.1.0" in shown  # the batches are on main, prod stays the champion
    main_sha = json.loads((project / "models/model_card.json").read_text())["model"]["sha256"]

    monitor = cli(["monitor", "--now", "2024-07-01"], project).stdout
    assert "decision: retrain" in monitor and "v0.1.0" in monitor
    run(["git", "switch", "-q", "-c", "retrain/2024-07"], project)
    planned = cli(["retrain-plan", "--body", str(tmp_path / "pr.md")], project).stdout
    assert "retrain-plan (2024-07)" in planned
    body = (tmp_path / "pr.md").read_text()
    assert "Triggers that fired for the production model v0.1.0" in body and "**Change**" in body
    assert run(["git", "diff", "--stat"], project).stdout.strip().startswith("params.yaml")

    retrained = _repro_compare_commit(project, "Retrain the model (2024-07)")
    new_sha = json.loads((project / "models/model_card.json").read_text())["model"]["sha256"]
    assert new_sha not in (prod_sha, main_sha)  # the retraining trained something
    assert retrained["models"]["champion"]["model_sha256"] == prod_sha  # ... compared with prod
    assert retrained["base"] == {**retrained["base"], "rev": "credit-risk@v0.1.0", "version": "v0.1.0"}
    cli(["report"], project)
    assert "v0.1.0" in (project / "reports/report.md").read_text().splitlines()[0]
