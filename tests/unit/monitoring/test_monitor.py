"""Monitoring: alerts on drifting months, quiet on stable ones, history upsert, Prometheus, A/B.

Models are fitted directly in Python (no `dvc repro`) and stored the DVC way (`dvc add` + a model
card committed in git), so `pipeline.core.revision.production` loads them through dvc.api exactly as in
production; monitor runs in-process in a temporary git + DVC repository.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.models import ROWS, add_months, commit_model, fit
from tests.support.project import ROOT, env, make_project, run

TRAIN_PERIODS = ["2024-01", "2024-02", "2024-03"]
NOW = dt.date(2024, 6, 28)  # 88 days after the v1.0.0 tag: not too old yet



@pytest.fixture(scope="module")
def base_project(tmp_path_factory) -> Path:
    """Three stable months, a logistic model trained on them, committed on main (no dvc.yaml stages:
    the model is `dvc add`ed), tagged credit-risk@v1.0.0 on 2024-04-01."""
    base = tmp_path_factory.mktemp("monitor")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env(base).items():
            if key.startswith("DVC_"):
                mp.setenv(key, value)
        return _build_base(base)


def _build_base(base: Path) -> Path:
    from pipeline.core.files import read_csv
    from pipeline.params import load

    project = make_project(base, TRAIN_PERIODS, rows=ROWS)
    run(["git", "rm", "-q", "dvc.yaml"], project)
    run(["git", "commit", "-q", "-m", "model registry layout for the test"], project)
    files = [f"data/batches/{p}.csv" for p in TRAIN_PERIODS]
    params = load(project / "params.yaml")
    with contextlib.chdir(project):
        model = fit([read_csv(project / f) for f in files], params)
        commit_model(project, model, files, "model v1.0.0", tag="credit-risk@v1.0.0",
                     tag_date="2024-04-01T00:00:00+00:00")
    return project


@pytest.fixture
def project(base_project: Path, tmp_path: Path, monkeypatch) -> Path:
    """A private copy of the base project (git history, DVC cache and all), as the cwd."""
    copy = tmp_path / "project"
    shutil.copytree(base_project, copy, symlinks=True)
    monkeypatch.chdir(copy)
    return copy


def monitor(project: Path, **kw) -> dict[str, Any]:
    from pipeline.monitoring.run import run as monitor_run
    from pipeline.params import load

    return monitor_run(load(project / "params.yaml"), now=kw.pop("now", NOW), **kw)


def names(report: dict[str, Any]) -> set[str]:
    return {a["name"] for a in report["alerts"]}


# --- scenarios ----------------------------------------------------------------------------------


def test_stable_months_stay_quiet(project: Path, capsys):
    add_months(project, ["2024-04", "2024-05", "2024-06"], "stable")
    from pipeline import cli as pipeline_cli

    assert pipeline_cli.main(["monitor", "--now", NOW.isoformat(), "--output-dir", "monitoring"]) == 0
    printed = capsys.readouterr().out  # the estimate with its interval: "estimated 0.8512 [0.8301, 0.8723]"
    shown = r"2024-04: accuracy 0\.\d{4} \(estimated 0\.\d{4} \[0\.\d{4}, 0\.\d{4}\]\)"
    assert re.search(shown, printed), printed
    report = monitor(project)
    assert [p["period"] for p in report["periods"]] == ["2024-04", "2024-05", "2024-06"]
    assert report["alerts"] == [], report["alerts"]
    assert report["decision"] == "wait", report["triggers"]
    assert report["drift_checked"] and all(p["drift_share"] == 0 for p in report["periods"])
    for p in report["periods"]:
        assert 0.8 < p["accuracy"] < 0.95
        assert abs(p["estimated_accuracy"] - p["accuracy"]) < 0.05  # CBPE is close without drift
        assert p["estimated_accuracy_low"] <= p["accuracy"] <= p["estimated_accuracy_high"]
        assert set(p["f1_per_class"]) == {"Bajo", "Medio", "Alto"}
    assert report["model"]["version"] == "v1.0.0" and report["model"]["age_days"] == 88


def test_policy_change_alerts_and_retrains(project: Path):
    """Concept drift: accuracy falls below its floor for consecutive months, ADWIN sees the drop,
    the label-free estimate does not (it cannot see concept drift), the trigger says retrain."""
    add_months(project, ["2024-04"], "stable")
    add_months(project, ["2024-05", "2024-06", "2024-07"], "policy_change")
    report = monitor(project)
    assert {"metric_floor", "change_point"} <= names(report), report["alerts"]
    floor = next(a for a in report["alerts"] if a["name"] == "metric_floor")
    assert floor["metric"] == "accuracy" and floor["periods"][-1] == "2024-07"
    assert "2024-04" not in floor["periods"]
    change = next(a for a in report["alerts"] if a["name"] == "change_point")
    detection = change["detections"][-1]
    assert detection["detected_in"] in ("2024-05", "2024-06", "2024-07")
    assert detection["accuracy_after"] < detection["accuracy_before"] - 0.02
    assert report["decision"] == "retrain"
    assert any(t["name"] == "accuracy_below" and t["fired"] for t in report["triggers"])
    last = report["periods"][-1]
    assert last["estimated_accuracy"] - last["accuracy"] > 0.05


def test_salary_inflation_alerts_drift_and_retrains(project: Path):
    """Covariate drift: salaries and property values up ≈9-11 %; the drifted features are named,
    accuracy holds (the risk depends on ratios), sustained drift triggers retraining."""
    add_months(project, ["2024-09", "2024-10", "2024-11"], "salary_inflation")
    report = monitor(project)
    drift_alerts = [a for a in report["alerts"] if a["name"] == "data_drift"]
    assert [a["periods"][0] for a in drift_alerts] == ["2024-09", "2024-10", "2024-11"], report["alerts"]
    for p in report["periods"]:
        assert {"salario_mensual", "valor_inmueble"} <= set(p["data_drift"]["drifted_features"])
        assert p["drift_share"] > 0.1
    assert "metric_floor" not in names(report)
    assert report["decision"] == "retrain"
    assert next(t for t in report["triggers"] if t["name"] == "drift")["fired"]


def test_history_upsert_has_no_duplicates(project: Path):
    add_months(project, ["2024-04", "2024-05"], "stable")
    monitor(project)
    first = (project / "reports/monitoring/history.csv").read_text()
    monitor(project)  # the same months again: same rows, replaced in place
    assert (project / "reports/monitoring/history.csv").read_text().splitlines()[1:] == \
        first.splitlines()[1:]
    add_months(project, ["2024-06"], "stable")
    monitor(project, now=dt.date(2024, 8, 1))
    import pandas as pd

    history = pd.read_csv(project / "reports/monitoring/history.csv")
    assert list(history["period"]) == ["2024-04", "2024-05", "2024-06"]
    assert not history.duplicated(["model_sha", "period"]).any()
    assert set(history["run_date"]) == {"2024-08-01"}
    assert (project / "reports/monitoring/metrics.png").read_bytes()[:4] == b"\x89PNG"
    latest = json.loads((project / "reports/monitoring/latest.json").read_text())
    assert latest["decision"] in ("wait", "retrain") and "triggers" in latest


def test_upsert_keeps_other_rows_byte_for_byte(tmp_path: Path):
    from pipeline.monitoring.outputs import upsert_history

    path = tmp_path / "history.csv"
    row = {"model_version": "v1.0.0", "model_sha": "aaaaaaaaaaaa", "run_date": "2024-06-01", "rows": 10}
    upsert_history(path, [row | {"period": "2024-04", "accuracy": 0.8512345678},
                          row | {"period": "2024-05", "accuracy": 0.84}])
    kept = path.read_text().splitlines()[1]
    upsert_history(path, [row | {"period": "2024-05", "accuracy": 0.7, "run_date": "2024-07-01"},
                          row | {"model_version": "v1.1.0", "model_sha": "000000000123", "period": "2024-05",
                                 "accuracy": 0.9, "run_date": "2024-07-01"}])
    lines = path.read_text().splitlines()
    assert lines[1] == kept and "0.851235" in kept  # rounded once, then never re-parsed
    assert len(lines) == 4 and sum(",2024-05," in line for line in lines) == 2
    assert any(line.startswith("v1.1.0,000000000123,2024-05") for line in lines)


def test_no_new_batches_is_quiet(project: Path):
    report = monitor(project)
    assert report["periods"] == [] and report["alerts"] == [] and report["decision"] == "wait"
    assert (project / "reports/monitoring/history.csv").exists()
    assert (project / "reports/monitoring/metrics.png").exists()


def test_model_age_alert_and_trigger(project: Path):
    add_months(project, ["2024-04"], "stable")
    report = monitor(project, now=dt.date(2024, 9, 1))  # promoted 2024-04-01: 153 days
    assert "model_age" in names(report)
    assert report["decision"] == "retrain"
    assert any("153 days" in r for r in report["reasons"])


def test_unlabelled_batch_gets_an_estimate_only(project: Path):
    from pipeline.simulate import simulate

    frame = simulate("2024-04", ROWS, "stable", 0).drop(columns=["nivel_riesgo"])
    frame.to_csv(project / "data/batches/2024-04.csv", index=False)
    report = monitor(project)
    p = report["periods"][0]
    assert p["labelled_rows"] == 0 and "accuracy" not in p
    assert 0.8 < p["estimated_accuracy"] < 0.95


def test_bad_batch_is_one_clear_error(project: Path):
    from pipeline.errors import PipelineError

    (project / "data/batches/2024-04.csv").write_text("edad,dti\n30,0.2\n")
    with pytest.raises(PipelineError, match=r"2024-04.csv: column '.*': required by the schema"):
        monitor(project)
    assert not (project / "reports/monitoring/history.csv").exists()


# --- A/B after a promotion -------------------------------------------------------------------------


@pytest.mark.parametrize("better", [False, True])
def test_ab_after_promotion(project: Path, better: bool):
    """v1.1.0 is promoted (a merge commit on main); on the next labelled months the monitor scores
    v1.0.0 on the same rows. A worse v1.1.0 (trained on a small, shuffled-label sample) gets a
    rollback recommendation naming `git revert -m 1 <merge>`; a better one (trained on more data
    under the new policy) does not."""
    import numpy as np

    from pipeline.core.files import read_csv
    from pipeline.params import load

    params = load(project / "params.yaml")
    add_months(project, ["2024-04", "2024-05"], "policy_change")
    run(["git", "checkout", "-q", "-b", "retrain"], project)
    files = [f"data/batches/{p}.csv" for p in [*TRAIN_PERIODS, "2024-04", "2024-05"]]
    frames = [read_csv(project / f) for f in files]
    if better:
        model = fit(frames[-2:], params)
    else:
        small = frames[-1].sample(150, random_state=0)
        small["nivel_riesgo"] = np.random.default_rng(0).permutation(small["nivel_riesgo"].to_numpy())
        model = fit([small], params)
    commit_model(project, model, files, "retrain")
    run(["git", "checkout", "-q", "main"], project)
    run(["git", "merge", "-q", "--no-ff", "-m", "Merge retrain", "retrain"], project)
    merge = run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    run(["git", "tag", "-a", "credit-risk@v1.1.0", "-m", "v1.1.0"], project,
        env=env(project.parent) | {"GIT_COMMITTER_DATE": "2024-06-01T00:00:00+00:00"})
    add_months(project, ["2024-06", "2024-07"], "policy_change")

    report = monitor(project, now=dt.date(2024, 8, 1))
    ab = report["ab_test"]
    assert ab["current"] == "credit-risk@v1.1.0" and ab["previous"] == "credit-risk@v1.0.0"
    assert ab["periods"] == ["2024-06", "2024-07"] and not ab["complete"]
    assert ab["ci_low"] <= ab["difference"] <= ab["ci_high"]
    if better:
        assert ab["verdict"] == "better" and "rollback" not in ab
        assert "ab_worse" not in names(report)
    else:
        assert ab["verdict"] == "worse"
        assert ab["rollback"] == f"git revert -m 1 {merge}"
        assert "ab_worse" in names(report)
        assert ab["rollback"] in (project / "reports/monitoring/issue.md").read_text()


# --- Prometheus -------------------------------------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*",?)*)\}'
                    r" (-?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|NaN|[-+]Inf))$")


def parse_exposition(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """A strict reader of the text exposition format: HELP then TYPE gauge before every family's
    samples, every line matching the grammar, no family repeated."""
    families: dict[str, list] = {}
    current, typed = None, False
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in families, f"family {name} repeated"
            families[name], current, typed = [], name, False
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name == current and kind == "gauge", line
            typed = True
        else:
            m = SAMPLE.match(line)
            assert m, f"not a valid sample line: {line!r}"
            assert m.group(1) == current and typed, line
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2)))
            families[current].append((labels, float(m.group(3))))
    return families


def test_prometheus_file_and_rules(project: Path):
    add_months(project, ["2024-04"], "stable")
    add_months(project, ["2024-05", "2024-06"], "policy_change")
    prom = project / "metrics.prom"
    report = monitor(project, prometheus=prom)
    families = parse_exposition(prom.read_text())
    acc = {labels["period"]: v for labels, v in families["model_accuracy"]}
    assert acc == pytest.approx({p["period"]: p["accuracy"] for p in report["periods"]}, abs=1e-9)
    assert all(labels["model_version"] == "v1.0.0" for labels, _ in families["model_accuracy"])
    # schema.costs is set in the example: each labelled period's cost per applicant, as a gauge too,
    # and it grows when the policy changes (more high-risk applicants missed)
    cost = {labels["period"]: v for labels, v in families["model_expected_cost"]}
    assert cost == pytest.approx({p["period"]: p["expected_cost"] for p in report["periods"]}, abs=1e-9)
    assert 0 < cost["2024-04"] < cost["2024-06"]
    assert "| expected cost |" in (project / "reports/monitoring/issue.md").read_text()
    below = dict((labels["metric"], v) for labels, v in families["model_periods_below_floor"])
    assert below == {"accuracy": 2.0}
    assert families["model_retrain_due"] == [({"model_version": "v1.0.0"}, 1.0)]
    assert families["model_monitor_latest_period_info"][0][0]["period"] == "2024-06"
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: apt-get install prometheus (CI installs it in .ci/run)"
    lint = subprocess.run([promtool, "check", "metrics"], input=prom.read_text(), capture_output=True,
                          text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_alert_rules_pass_promtool_and_match_params():
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: apt-get install prometheus (CI installs it in .ci/run)"
    rules = ROOT / "monitoring" / "alert_rules.yml"
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    cfg = yaml.safe_load((ROOT / "params.yaml").read_text())["monitor"]
    exprs = {r["alert"]: r["expr"] for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"]}
    assert f">= {cfg['consecutive']}" in exprs["ModelMetricBelowFloor"]
    assert f"> {cfg['max_drift_share']}" in exprs["ModelDataDrift"]
    assert f"> {cfg['low_confidence']['max_count']}" in exprs["ModelLowConfidence"]
    assert f"> {cfg['low_confidence']['max_share']}" in exprs["ModelLowConfidence"]
    assert f"> {cfg['max_model_age_days']} * 86400" in exprs["ModelTooOld"]
    assert {"ModelAccuracyChangePoint", "ModelRetrainDue", "ModelRollbackRecommended"} <= set(exprs)
    dashboard = json.loads((ROOT / "monitoring" / "grafana-dashboard.json").read_text())
    used = {m for p in dashboard["panels"] for t in p.get("targets", [])
            for m in re.findall(r"\bmodel_[a-z0-9_]+", t["expr"])}
    code = "".join(p.read_text() for p in (ROOT / "pipeline" / "monitoring").glob("*.py"))
    exported = set(re.findall(r'"(model_[a-z0-9_]+)"', code))
    assert used and used <= exported, used - exported


def test_label_free_estimate_has_an_interval_calibrated_on_every_held_out_row():
    """Calibrated on validation + test rows (the card's masks), the interval covers the accuracy of
    stable months; it is narrower than one calibrated on the test rows alone; no calibration, no
    interval (the raw mean confidence)."""
    import pandas as pd

    from pipeline.core.schema import from_params
    from pipeline.core.splits import split
    from pipeline.modeling.predict import predict_proba
    from pipeline.monitoring.scoring import estimated_accuracy
    from pipeline.params import load
    from pipeline.simulate import simulate

    params = load(ROOT / "params.yaml")
    schema = from_params(params)
    frames = [simulate(p, 3000) for p in TRAIN_PERIODS]
    train, val, test = split(frames, schema, params["split"], 0)
    model = fit([train], params)
    held = pd.concat([val, test], ignore_index=True)
    every = (schema.class_index(held[schema.target]), predict_proba(model, held, schema))
    only_test = (schema.class_index(test[schema.target]), predict_proba(model, test, schema))
    widths = []
    for period in ("2024-04", "2024-05", "2024-06"):
        month = simulate(period, 3000)
        proba = predict_proba(model, month, schema)
        real = float((proba.argmax(axis=1) == schema.class_index(month[schema.target])).mean())
        got = estimated_accuracy(proba, every, 0.95, 100)
        low, high = got["interval"]
        assert low <= real <= high and got["calibration_rows"] == len(held)
        before = estimated_accuracy(proba, only_test, 0.95, 100)["interval"]
        widths.append((high - low, before[1] - before[0]))
    assert all(w < w_test for w, w_test in widths) and max(w for w, _ in widths) < 0.05, widths
    raw = estimated_accuracy(proba, None)
    assert raw["interval"] is None and raw["estimate"] == pytest.approx(proba.max(axis=1).mean())
