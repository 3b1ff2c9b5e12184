"""The drift stage: prediction and concept drift on the simulator's scenarios, the two-file CLI, and
the stage inside a real `dvc repro` with the production model's training window as reference."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.core import resampling
from pipeline.core.schema import from_params
from pipeline.drift import model as model_drift
from pipeline.simulate import simulate
from pipeline.stages import drift
from tests.support.project import ROOT, make_project, run, write_params

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
SCHEMA = from_params(PARAMS)
CFG = drift.model_settings(PARAMS, PARAMS["drift"])


def _batches(scenario: str, periods: list[str], rows: int, seed: int) -> pd.DataFrame:
    return pd.concat([simulate(p, rows, scenario, seed) for p in periods], ignore_index=True)


def _model(frame: pd.DataFrame):
    """A real (small) model of the kind the pipeline trains: shared preprocessing + logistic."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from pipeline.modeling.estimators import build_preprocessor

    model = Pipeline([("preprocess", build_preprocessor(SCHEMA, scale=True)),
                      ("model", LogisticRegression(max_iter=1000))])
    return model.fit(frame[SCHEMA.features], SCHEMA.class_index(frame[SCHEMA.target]))


def _analyse(scenario: str, current_period: str):
    reference = _batches(scenario, ["2024-01", "2024-02", "2024-03"], 3000, seed=1)
    current = simulate(current_period, 4000, scenario, seed=2)
    model = _model(reference)
    return drift.analyse(reference, current, SCHEMA, list(SCHEMA.numeric), list(SCHEMA.categorical),
                         CFG, model=model)


def test_policy_change_is_concept_drift_not_data_drift():
    result = _analyse("policy_change", "2024-09")  # dti's weight on risk has fallen from 6 to 1
    concept = result["concept_drift"]
    assert concept["available"] and concept["drifted"]
    dti = concept["relations"]["dti"]
    assert dti["changed"] and "dti" in concept["changed_relations"]
    assert dti["correlation"]["current"] < dti["correlation"]["reference"] - 0.1  # the relation weakens
    perf = concept["performance"]
    assert perf["degraded"] and perf["current_ci"][1] < perf["reference"]
    # the inputs themselves did not move: no data drift, recommendation keep
    assert result["n_drifted"] == 0 and result["recommendation"] == "keep"
    assert not result["prediction_drift"]["drifted"]


def test_concept_drift_judges_the_expected_cost_when_it_is_the_metric():
    import dataclasses

    from pipeline.errors import PipelineError

    reference = _batches("policy_change", ["2024-01", "2024-02", "2024-03"], 3000, seed=1)
    current = simulate("2024-09", 4000, "policy_change", seed=2)
    model = _model(reference)
    cfg = {**CFG, "concept": {**CFG["concept"], "metric": "expected_cost"}}
    # a card from before schema.costs has no expected cost: the reference rows stand in
    concept = model_drift.concept_drift(model, reference, current, SCHEMA, cfg, {"accuracy": 0.87})
    perf = concept["performance"]
    assert perf["metric"] == "expected_cost" and perf["current"] == perf["expected_cost"]
    assert perf["reference_source"].startswith("reference rows")
    low, high = perf["current_ci"]
    assert low < perf["current"] < high and low > perf["reference"]  # a higher cost is the worse one
    assert perf["degraded"] and concept["drifted"]
    with pytest.raises(PipelineError, match=r"params\.yaml: drift\.concept\.metric .*needs a cost matrix"):
        model_drift.concept_drift(model, reference, current, dataclasses.replace(SCHEMA, costs=None), cfg)


def test_salary_inflation_is_data_drift_not_concept_drift():
    result = _analyse("salary_inflation", "2025-06")  # ≈ 19 % higher salaries and property values
    assert {"salario_mensual", "valor_inmueble"} <= set(result["drifted_features"])
    assert set(result["drifted_features"]) <= {"salario_mensual", "valor_inmueble", "monto_credito",
                                               "ingresos_adicionales"}
    f = result["features"]["salario_mensual"]
    assert f["mean"]["rel"] == pytest.approx(0.19, abs=0.05) and f["pvalue_adjusted"] < 1e-10
    assert result["recommendation"] == "consider"
    concept = result["concept_drift"]
    assert concept["available"] and not concept["drifted"] and not concept["changed_relations"]
    assert not concept["performance"]["degraded"]
    pred = result["prediction_drift"]
    assert set(pred["class_mix"]) == set(SCHEMA.classes) and "outputs" in pred


def test_bootstrap_metrics_agree_with_the_shared_metrics():
    import numpy as np

    from pipeline.core.metrics import classification_metrics, lookup

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 500)
    proba = rng.dirichlet([1, 1, 1], 500)
    proba[np.arange(250), y[:250]] += 1
    proba /= proba.sum(axis=1, keepdims=True)
    classes = list(SCHEMA.classes)
    cm = np.bincount(y * 3 + proba.argmax(axis=1), minlength=9).reshape(3, 3)
    values = classification_metrics(y, proba, classes)
    for metric in ("accuracy", "balanced_accuracy", "f1_weighted", "f1_macro", "precision_weighted",
                   "recall_Alto", "f1_Medio"):
        assert resampling.confusion_metric(metric, cm, classes) == pytest.approx(lookup(values, metric))
    lo, hi = resampling.bootstrap_interval(y, proba, classes, "accuracy", 500, 0.95, 0)
    assert lo < values["accuracy"] < hi and hi - lo < 0.15


def test_two_file_mode(tmp_path, capsys):
    from pipeline.cli import main
    from pipeline.core.files import save_model

    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    reference = _batches("salary_inflation", ["2024-01", "2024-02"], 1500, seed=3)
    reference.to_csv(ref, index=False)
    simulate("2025-06", 1500, "salary_inflation", 4).to_csv(cur, index=False)
    save_model(tmp_path / "m.skops", _model(reference))
    out = tmp_path / "drift.json"
    code = main(["--params", str(ROOT / "params.yaml"), "drift", "--reference", str(ref), "--current",
                 str(cur), "-o", str(out), "--model", str(tmp_path / "m.skops"),
                 "--figures", str(tmp_path / "fig")])
    assert code == 0  # drift is a finding, not an error
    text = capsys.readouterr().out
    assert "drifted: salario_mensual" in text and "-> consider" in text
    report = json.loads(out.read_text())
    assert list(report)[:2] == ["share_drifted", "recommendation"]
    assert report["columns"]["source"].startswith("schema from params.yaml")
    f = report["features"]["salario_mensual"]
    assert f["type"] == "numeric" and f["drifted"] and {"ks", "mann_whitney", "psi", "wasserstein_norm",
                                                       "mean", "std", "pvalue_adjusted"} <= set(f)
    assert report["features"]["ciudad"]["type"] == "categorical"
    assert "drifted" in report["prediction_drift"] and report["concept_drift"]["available"]
    assert (tmp_path / "fig" / "drift.png").exists() and (tmp_path / "fig" / "salario_mensual.png").exists()

    # columns that do not match the schema: inferred; id-like text skipped
    other_ref, other_cur = tmp_path / "a.csv", tmp_path / "b.csv"
    pd.DataFrame({"key": [f"k{i}" for i in range(400)], "amount": range(400),
                  "colour": ["red", "blue"] * 200}).to_csv(other_ref, index=False)
    pd.DataFrame({"key": [f"z{i}" for i in range(300)], "amount": [v + 200 for v in range(300)],
                  "colour": ["red", "blue", "blue"] * 100}).to_csv(other_cur, index=False)
    assert main(["--params", str(ROOT / "params.yaml"), "drift", "--reference", str(other_ref),
                 "--current", str(other_cur), "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["columns"]["skipped"] == ["key"]
    assert report["features"]["amount"]["type"] == "numeric" and report["features"]["amount"]["drifted"]
    assert report["features"]["colour"]["type"] == "categorical"
    assert report["concept_drift"] == {"available": False, "reason": "no --model given"}


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    from pipeline.cli import main

    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    pd.DataFrame({"amount": [1.0, 2.0, 3.0] * 20}).to_csv(ref, index=False)
    pd.DataFrame({"amount": ["1", "two", "3"] * 20}).to_csv(cur, index=False)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"schema": {"target": "y", "classes": ["a", "b"],
                                                 "numeric": ["amount"], "categorical": []},
                                      "drift": PARAMS["drift"]}))  # the repository's thresholds
    assert main(["--params", str(params), "drift", "--reference", str(ref), "--current", str(cur),
                 "-o", str(tmp_path / "d.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {cur}: column 'amount': expected numbers") and "'two'" in err
    assert "\n" not in err
    assert not (tmp_path / "d.json").exists()
    assert main(["drift", "--reference", str(empty), "--current", str(cur)]) == 2
    assert "empty.csv: file is empty" in capsys.readouterr().err
    assert main(["drift", "--reference", str(ref)]) == 2


@pytest.mark.slow
def test_stage_in_dvc_repro_uses_the_production_training_window(tmp_path, monkeypatch, capsys):
    from pipeline.cli import main

    project = make_project(tmp_path, families=("logistic",))  # one family: a short repro
    run(["dvc", "repro"], project)
    report = json.loads((project / "reports" / "drift.json").read_text())
    # first run: no model on main yet -> the window except the newest batch, and it says so
    assert report["reference"]["fallback"] and "no production model" in report["reference"]["source"]
    assert report["reference"]["files"] == ["data/batches/2024-01.csv", "data/batches/2024-02.csv"]
    assert report["current"]["file"] == "data/batches/2024-03.csv"
    assert report["recommendation"] == "keep" and report["n_features"] == len(SCHEMA.features)
    assert (project / "reports" / "drift" / "drift.png").exists()
    plot = json.loads((project / "reports" / "plots" / "drift_features.json").read_text())
    assert {r["feature"] for r in plot} == set(SCHEMA.features)
    shown = run(["dvc", "plots", "show", "--json"], project)
    assert "drift_features.json" in shown.stdout and "drift.png" in shown.stdout

    # merge to main: now a production model exists; a new, inflated batch arrives
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", "first model"], project)
    simulate("2025-06", 1200, "salary_inflation", 9).to_csv(project / "data/batches/2025-06.csv",
                                                            index=False)
    monkeypatch.chdir(project)  # the stage command in this process: the imports are already paid for
    assert main(["drift"]) == 0
    assert "drifted: salario_mensual" in capsys.readouterr().out
    report = json.loads((project / "reports" / "drift.json").read_text())
    ref = report["reference"]
    assert not ref["fallback"] and ref["source"].startswith("training window of the production model")
    card = json.loads((project / "models" / "model_card.json").read_text())
    assert ref["files"] == [f["path"] for f in card["data"]["files"]]  # 2024-01..03, all of them
    assert report["current"]["file"] == "data/batches/2025-06.csv"
    assert "salario_mensual" in report["drifted_features"]
    assert report["prediction_drift"]["class_mix"] and report["concept_drift"]["available"]
    assert report["concept_drift"]["performance"]["reference_source"] == "model card (test holdout)"
    assert (project / "reports" / "drift" / "salario_mensual.png").exists()

    # the card lists the current batch (no new batch since training): it leaves the reference;
    # an unknown revision falls back and says so, without failing
    Path(project / "data/batches/2025-06.csv").unlink()
    assert main(["drift"]) == 0
    report = json.loads((project / "reports" / "drift.json").read_text())
    assert report["reference"]["files"] == ["data/batches/2024-01.csv", "data/batches/2024-02.csv"]
    assert not report["reference"]["fallback"]
    write_params(project, {"drift": {"production_rev": "no-such-branch"}})
    assert main(["drift"]) == 0
    report = json.loads((project / "reports" / "drift.json").read_text())
    assert report["reference"]["fallback"] and "no-such-branch" in report["reference"]["source"]
    assert "fallback" in capsys.readouterr().out


def test_a_stable_month_with_a_forest_in_production_shows_no_prediction_drift(tmp_path):
    """Reference predictions on the rows the model held out, not on its training rows: a forest's
    outputs on rows it trained on are sharper than on any new month, so every stable month drifted."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    from pipeline.core.files import read_csv, sha256
    from pipeline.core.splits import BATCH, ROW, row_masks, split
    from pipeline.modeling.estimators import build_preprocessor
    from tests.support.project import simulate_batches

    paths = simulate_batches(tmp_path, ["2024-01", "2024-02", "2024-03"], 2000)
    frames = []
    for path in paths:
        frame = read_csv(path)
        frame[ROW], frame[BATCH] = range(len(frame)), path.stem
        frames.append(frame)
    parts = dict(zip(("train", "val", "test"), split(frames, SCHEMA, {"test_size": 0.3, "val_size": 0.3},
                                                      seed=0), strict=True))
    forest = Pipeline([("preprocess", build_preprocessor(SCHEMA, scale=False)),
                       ("model", RandomForestClassifier(n_estimators=80, random_state=0, n_jobs=1))])
    forest.fit(parts["train"][SCHEMA.features], SCHEMA.class_index(parts["train"][SCHEMA.target]))
    card = {"data": {"files": [{"path": p.as_posix(), "sha256": sha256(p), "file_rows": 2000,
                                "splits": row_masks(parts, p.stem, 2000)} for p in paths]}}
    reference = pd.concat([read_csv(p) for p in paths], ignore_index=True)
    current = simulate("2024-04", 2000, "stable", seed=0)

    keep, note = drift.held_out_rows(paths, [2000] * 3, card)
    assert keep.sum() == len(parts["val"]) + len(parts["test"]) == note["rows"]
    honest = model_drift.prediction_drift(forest, reference[keep], current, SCHEMA, CFG)
    leaky = model_drift.prediction_drift(forest, reference, current, SCHEMA, CFG)
    assert leaky["drifted"], leaky["drifted_outputs"]  # what the stage reported before
    assert not honest["drifted"], {k: v.get("wasserstein_norm") for k, v in honest["outputs"].items()}
    # a card without split masks: no held-out rows known, the note says the training rows are used
    keep, note = drift.held_out_rows(paths, [2000] * 3, {"data": {"files": []}})
    assert keep is None and note["source"].startswith("training rows")
