"""End to end with the real tools: dvc repro in a git repo, push/pull through a local remote,
byte-identical retraining, predict, and the pipeline on a dataset that is not credit risk."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.support.project import ROOT, cli, copy_project, make_project, run, simulate_batches, write_params

pytestmark = pytest.mark.slow


def digests(project: Path) -> dict[str, str]:
    return {p.relative_to(project).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((project / "models").rglob("*.skops"))}


def tracked_outputs(project: Path) -> dict[str, bytes]:
    """Every git-tracked output (cache: false): nothing volatile may change them on a re-run."""
    files = [project / "models" / "model_card.json", project / "models" / "model_card.md",
             project / "reports" / "metrics.json", *sorted((project / "reports" / "candidates").glob("*"))]
    return {p.relative_to(project).as_posix(): p.read_bytes() for p in files}


def test_repro_push_pull_deterministic_and_predict(tmp_path, reproduced_example):
    project = copy_project(reproduced_example, tmp_path)  # the session's `dvc repro` of make_project
    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    assert metrics["accuracy"] >= metrics["majority_baseline"] + 0.10
    assert metrics["selected"] in metrics["validation"]
    assert "up to date" in run(["dvc", "status"], project).stdout
    noop = run(["dvc", "repro"], project).stdout
    assert "didn't change" in noop and "Running stage" not in noop
    first, outputs = digests(project), tracked_outputs(project)
    assert "models/model.skops" in first and len(first) >= 5

    # a real remote: push, lose the cache and the outputs, pull the exact bytes back
    remote = tmp_path / "dvc-remote"
    run(["dvc", "remote", "add", "-d", "local", str(remote)], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "trained"], project)
    run(["dvc", "push"], project)
    shutil.rmtree(project / ".dvc" / "cache")
    for path in (project / "models").rglob("*.skops"):
        path.unlink()
    shutil.rmtree(project / "data" / "prepared")
    run(["dvc", "pull"], project)
    assert digests(project) == first

    # the same data, params and seed give the same model bytes
    run(["dvc", "repro", "--force"], project)
    assert digests(project) == first
    assert tracked_outputs(project) == outputs

    # predict 500 raw rows (no target), in input order
    raw = simulate_batches(tmp_path / "new", ["2024-07"], 500)[0]
    frame = pd.read_csv(raw).drop(columns=["nivel_riesgo"]).sample(frac=1, random_state=1)
    frame.to_csv(raw, index=False)
    out = cli(["predict", str(raw), "-o", str(tmp_path / "scored.csv")], project)
    assert "500 rows" in out.stdout
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert scored["id_solicitud"].tolist() == frame["id_solicitud"].tolist()
    probas = scored[["proba_Bajo", "proba_Medio", "proba_Alto"]]
    assert (probas.sum(axis=1) - 1).abs().max() < 1e-5
    assert set(scored["prediction"]) <= {"Bajo", "Medio", "Alto"}


def test_predict_refuses_missing_columns_with_one_line(tmp_path, project):
    raw = tmp_path / "raw.csv"
    batch = pd.read_csv(project / "data" / "batches" / "2024-01.csv")
    batch.drop(columns=["dti"]).head(5).to_csv(raw, index=False)
    out = cli(["predict", str(raw), "-o", str(tmp_path / "o.csv")], project, check=False)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "raw.csv" in out.stderr and "'dti'" in out.stderr
    assert not (tmp_path / "o.csv").exists()


def test_any_tabular_dataset_binary_with_missing_values(tmp_path):
    """scikit-learn's breast cancer data: binary, imbalanced, gaps, a categorical, no id or time."""
    from sklearn.datasets import load_breast_cancer

    # two families here, the other two on the imbalanced binary target below: each meets a binary one
    project = make_project(tmp_path, git=False, families=("xgboost", "random_forest"))
    shutil.rmtree(project / "data" / "batches")
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" ", "_"))
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    bands = pd.cut(frame["mean_radius"], [0, 12, 16, 100], labels=["small", "mid", "large"])
    frame["size_band"] = bands.astype(str)
    frame.loc[frame.sample(frac=0.05, random_state=0).index, "mean_texture"] = None
    frame = frame.sample(frac=1, random_state=1).reset_index(drop=True)  # not the gaps first
    batches = project / "data" / "tumours"
    batches.mkdir(parents=True)
    for i, part in enumerate(range(0, len(frame), 190)):
        frame.iloc[part:part + 190].to_csv(batches / f"part-{i}.csv", index=False)
    cli(["schema", "--data", "data/tumours", "--target", "target"], project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["schema"]["classes"] == ["benign", "malignant"]
    assert params["schema"]["critical_class"] == "malignant"
    assert params["schema"]["categorical"] == ["size_band"] and params["schema"]["id"] is None
    assert len(params["schema"]["numeric"]) == 30 and params["data"]["batches_dir"] == "data/tumours"
    assert "# Every knob" in (project / "params.yaml").read_text()  # comments survive
    write_params(project, {"schema": {**params["schema"], "critical_class": "malignant"}})
    run(["git", "init", "-q", "-b", "main"], project)
    run(["dvc", "init", "-q"], project)
    if (project / "pipeline" / "core" / "expectations.py").exists():  # the contract follows the new schema
        cli(["expectations", "init", "--force"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "breast cancer"], project)
    run(["dvc", "repro"], project)
    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    assert set(metrics["per_class"]) == {"benign", "malignant"}
    assert metrics["accuracy"] > 0.9 and metrics["roc_auc"] > 0.95


def test_imbalanced_binary_target_is_judged_by_ranking(tmp_path):
    """5 % positives: predicting the majority already scores 0.95 accuracy, so `schema` picks ROC-AUC
    (and says why); the selected model ranks and finds positives, and the report carries Gini and KS."""
    from sklearn.datasets import make_classification

    project = make_project(tmp_path, git=False, families=("lightgbm", "logistic"))
    shutil.rmtree(project / "data" / "batches")
    x, y = make_classification(n_samples=6000, n_features=8, n_informative=5, weights=[0.95], flip_y=0,
                               class_sep=1.2, random_state=3)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(8)])
    frame["default"] = pd.Series(y).map({0: "paid", 1: "default"})
    batches = project / "data" / "loans"
    batches.mkdir(parents=True)
    for i in range(3):
        frame.iloc[i * 2000:(i + 1) * 2000].to_csv(batches / f"2024-0{i + 1}.csv", index=False)
    out = cli(["schema", "--data", "data/loans", "--target", "default"], project).stdout
    assert "primary metric roc_auc: binary target with 5.0% in its smaller class" in out
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["train"]["primary_metric"] == "roc_auc" and params["train"]["n_jobs"] == 2
    run(["git", "init", "-q", "-b", "main"], project)
    run(["dvc", "init", "-q"], project)
    cli(["expectations", "init", "--force"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "loans"], project)
    run(["dvc", "repro"], project)
    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    assert metrics["primary_metric"] == "roc_auc"
    assert metrics["balanced_accuracy"] > 0.5 and metrics["roc_auc"] > 0.8
    assert metrics["gini"] == pytest.approx(2 * metrics["roc_auc"] - 1, abs=1e-5) and metrics["ks"] > 0.4
    card = (project / "models" / "model_card.md").read_text()
    assert "| gini |" in card and "| ks |" in card


def test_warm_start_continues_boosting_from_production(tmp_path):
    only_xgb = {"models": {"xgboost": {"n_trials": 1, "early_stopping_rounds": 0,
                                       "fixed": {"n_estimators": 20}}}}
    project = make_project(tmp_path, overrides=only_xgb, families=("xgboost",))
    run(["dvc", "repro"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", "first model"], project)
    assert "champion: main" in cli(["champion"], project).stdout  # the pointer names it by md5
    simulate_batches(project / "data" / "batches", ["2024-04"], 1200)
    write_params(project, {"train": {"strategy": "warm_start"}})
    assert "warm start from the champion main (md5" in run(["dvc", "repro"], project).stdout
    report = json.loads((project / "reports" / "candidates" / "xgboost.json").read_text())
    assert report["strategy"] == "warm_start"
    code = ("from pipeline.core.files import load_model; m = load_model('models/model.skops');"
            "print(m.named_steps['model'].get_booster().num_boosted_rounds())")
    rounds = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True)
    assert int(rounds.stdout) == 40  # 20 from production + 20 more on the new window
    # validation comes from the new batch, which the base never saw: every row stays
    manifest = json.loads((project / "data" / "prepared" / "manifest.json").read_text())
    assert report["val_rows"] == manifest["rows"]["val"]
    # the continued model becomes the champion; same batches, another seed: the new validation rows
    # include rows the base (now trained on 2024-04 too) learned from; they go
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", "continued model"], project)
    assert "trained on 4 batch files" in cli(["champion"], project).stdout
    write_params(project, {"seed": 43})
    out = run(["dvc", "repro", "train@xgboost"], project).stdout  # prepare and train: what is asserted
    assert "validation rows left out: rows in the warm-start base model's training or validation" in out
    report = json.loads((project / "reports" / "candidates" / "xgboost.json").read_text())
    manifest = json.loads((project / "data" / "prepared" / "manifest.json").read_text())
    assert 0 < report["val_rows"] < manifest["rows"]["val"]


def test_help_is_instant_and_lists_every_command(tmp_path):
    code = ("import sys\nfrom pipeline.cli import COMMANDS, build_parser\n"
            "for name, _ in COMMANDS: build_parser([name])\n"
            "heavy = [m for m in ('pandas', 'sklearn', 'numpy', 'great_expectations', 'dvc')"
            " if m in sys.modules]\nprint(','.join(heavy) or 'light')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "light"
    root = ROOT
    listing = cli(["--help"], root).stdout
    from pipeline.cli import build_parser

    names = list(build_parser()._subparsers._group_actions[0].choices)
    for name in ("simulate", "schema", "prepare", "train", "evaluate", "predict", "summary"):
        assert name in names
    for name in names:
        assert name in listing
        assert cli([name, "--help"], root).stdout.startswith("usage:")
