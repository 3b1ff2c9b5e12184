"""Champion vs challenger: the statistics, and the gate on real git + DVC repositories.

One reproduced project (a real `dvc repro`, committed) serves every end-to-end test; tests that change
the work tree or the history work on copies of it. Better and worse challengers are trained directly
in Python (a tiny-sample champion, a shuffled-label challenger) rather than by more repros.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline import cli as pipeline_cli
from pipeline import params as P
from pipeline.core.metrics import classification_metrics, lookup
from pipeline.core.resampling import PER_ROW, mcnemar, paired_bootstrap, resampled_metric
from pipeline.errors import PipelineError
from pipeline.gitops.gate import MODES, gate_checks, gate_config
from tests.support.project import ROOT, cli, copy_project, run, write_params

CLASSES = ["Bajo", "Medio", "Alto"]


def with_gate(gate: dict | None = None, train: dict | None = None) -> dict:
    """Params with `gate` over the repository's gate block (its defaults live in params.yaml only);
    a mode's block given in part keeps the repository's other key."""
    repo = P.load(ROOT / "params.yaml")
    base = P.section(repo, "gate")
    over = {k: base[k] | v if k in MODES and isinstance(v, dict) else v for k, v in (gate or {}).items()}
    return {"train": train or P.section(repo, "train"), "gate": base | over}


# --- statistics ----------------------------------------------------------------------------------


def _paired_sample(rng, n: int, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and one-hot probabilities whose paired correctness follows `cells`
    (P both right, only A right, only B right, both wrong)."""
    y = rng.integers(0, 3, n)
    kind = rng.choice(4, size=n, p=cells)
    right_a, right_b = np.isin(kind, (0, 1)), np.isin(kind, (0, 2))
    eye = np.eye(3)
    return y, eye[np.where(right_a, y, (y + 1) % 3)], eye[np.where(right_b, y, (y + 2) % 3)]


def test_bootstrap_interval_covers_the_true_difference_at_its_nominal_rate():
    cells = np.array([0.74, 0.06, 0.09, 0.11])
    true_delta = cells[2] - cells[1]  # accuracy B - accuracy A = 0.03
    rng = np.random.default_rng(7)
    sims, covered = 200, 0
    for s in range(sims):
        y, pa, pb = _paired_sample(rng, 400, cells)
        low, high = paired_bootstrap(y, pa, pb, "accuracy", CLASSES, 1000, 0.95, seed=s)["interval"]
        covered += low <= true_delta <= high
    assert 0.90 <= covered / sims <= 0.99, covered / sims


def test_bootstrap_of_a_model_against_itself_is_exactly_zero():
    y, pa, _ = _paired_sample(np.random.default_rng(0), 300, np.array([0.8, 0.1, 0.05, 0.05]))
    boot = paired_bootstrap(y, pa, pa.copy(), "f1_macro", CLASSES, 200, 0.95, seed=1)
    assert boot["interval"] == [0.0, 0.0]


def test_resampled_metrics_equal_the_shared_metrics():
    """The vectorised bootstrap metrics are the same numbers as pipeline.core.metrics on one resample."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 250)
    proba = rng.dirichlet([1, 1, 1], 250)
    idx = np.vstack([np.arange(250), rng.integers(0, 250, 250)])
    names = [*PER_ROW, "balanced_accuracy", "precision_weighted", "recall_weighted", "f1_weighted",
             "f1_macro", "roc_auc", "recall_Alto", "precision_Medio", "f1_Bajo"]
    for name in names:
        got = resampled_metric(name, y, proba, CLASSES, idx)
        for row, value in zip(idx, got, strict=True):
            want = lookup(classification_metrics(y[row], proba[row], CLASSES), name)
            assert value == pytest.approx(want, abs=1e-12), name


def test_mcnemar_exact_for_few_discordant_pairs_and_chi_squared_otherwise():
    from scipy import stats

    a = np.array([True] * 3 + [False] * 12 + [True] * 50)
    b = np.array([False] * 3 + [True] * 12 + [True] * 50)
    exact = mcnemar(a, b)
    assert exact["method"] == "exact binomial"
    assert (exact["champion_only_correct"], exact["challenger_only_correct"]) == (3, 12)
    assert exact["p_value"] == pytest.approx(stats.binomtest(12, 15, 0.5).pvalue)

    a = np.array([True] * 30 + [False] * 50 + [True] * 100)
    b = np.array([False] * 30 + [True] * 50 + [True] * 100)
    chi = mcnemar(a, b)
    assert chi["method"].startswith("chi-squared")
    assert chi["statistic"] == pytest.approx(19 ** 2 / 80)
    assert chi["p_value"] == pytest.approx(stats.chi2.sf(19 ** 2 / 80, 1))
    assert mcnemar(a, a)["p_value"] == 1.0


def test_gate_config_defaults_and_errors():
    cfg = gate_config(with_gate(train={"primary_metric": "f1_weighted"}))
    assert cfg["primary_metric"] == "f1_weighted" and cfg["mode"] == "superiority"
    assert (cfg["margin"], cfg["confidence"], cfg["threshold"]) == (0.0, 0.70, 0.0)
    ni = gate_config(with_gate({"mode": "non_inferiority", "non_inferiority": {"margin": 0.02}}))
    assert (ni["threshold"], ni["confidence"]) == (-0.02, 0.975)
    for bad, key in (({"min_improvement": 0.01}, "gate.min_improvement"),
                     ({"mode": "better"}, "gate.mode"), ({"cv_folds": 1}, "gate.cv_folds"),
                     ({"superiority": {"confidence": 95}}, "gate.superiority.confidence"),
                     ({"non_inferiority": {"margin": -0.01}}, "gate.non_inferiority.margin"),
                     ({"floors": {"accuracy": "high"}}, "gate.floors.accuracy")):
        with pytest.raises(PipelineError, match=key.replace(".", r"\.")):
            gate_config(with_gate(bad))


def _flat(**values: float) -> dict[str, float]:
    base = {"accuracy": 0.85, "log_loss": 0.40, "recall_Alto": 0.75}
    base |= {f"f1_{c}": 0.8 for c in CLASSES}
    return base | values


def _intervals(primary: list[float], **others: list[float]) -> dict[str, list[float]]:
    out = {"log_loss": primary, "recall_Alto": [-0.03, 0.01]} | {f"f1_{c}": [-0.02, 0.01] for c in CLASSES}
    return out | others


def test_gate_judges_intervals_in_both_modes_on_a_lower_is_better_metric():
    gate = {"primary_metric": "log_loss", "max_drop": {"recall_Alto": 0.02}, "max_class_f1_drop": 0.03,
            "floors": {"accuracy": 0.8, "log_loss": 0.5}}
    ni = gate_config(with_gate(gate | {"mode": "non_inferiority"}))
    sup = gate_config(with_gate(gate | {"mode": "superiority"}))
    champ = _flat()
    # a slightly worse point estimate (log loss 0.405) whose interval stays within the 0.01 margin:
    # non-inferior (promoted), not superior
    similar = _flat(log_loss=0.405, recall_Alto=0.73, f1_Medio=0.76)
    checks = gate_checks(ni, similar, champ, _intervals([-0.004, 0.009]), False, CLASSES)
    assert all(c["passed"] for c in checks), [c["message"] for c in checks]
    assert checks[0]["kind"] == "non_inferiority" and checks[0]["value"] == pytest.approx(-0.009)
    failed = [c for c in gate_checks(sup, similar, champ, _intervals([-0.004, 0.009]), False, CLASSES)
              if not c["passed"]]
    assert [c["kind"] for c in failed] == ["superiority"] and "sampling noise" in failed[0]["message"]
    # a gain whose interval excludes 0 is superior; beyond the margin on the bad side, not non-inferior
    assert all(c["passed"] for c in gate_checks(sup, _flat(log_loss=0.35), champ,
                                                _intervals([-0.08, -0.01]), False, CLASSES))
    assert not gate_checks(ni, similar, champ, _intervals([-0.004, 0.011]), False, CLASSES)[0]["passed"]

    # guards: a point drop of 0.05 in recall_Alto whose interval still allows a 0.02 drop passes;
    # an interval showing a drop of at least 0.03 fails, and so does an F1 shown to drop 0.04
    noisy = _flat(recall_Alto=0.70)
    ok = gate_checks(ni, noisy, champ, _intervals([-0.01, 0.0], recall_Alto=[-0.10, -0.01]), False, CLASSES)
    assert all(c["passed"] for c in ok), [c["message"] for c in ok]
    worse = _flat(log_loss=0.55, recall_Alto=0.70, f1_Alto=0.70, accuracy=0.79)
    failed = {(c["kind"], c["name"]): c["message"] for c in gate_checks(
        ni, worse, champ, _intervals([0.1, 0.2], recall_Alto=[-0.09, -0.03], f1_Alto=[-0.15, -0.04]),
        False, CLASSES) if not c["passed"]}
    assert set(failed) == {("non_inferiority", "log_loss"), ("guard", "recall_Alto"),
                           ("guard", "class_f1"), ("floor", "accuracy"), ("floor", "log_loss")}
    assert "shows a drop of at least 0.0300" in failed[("guard", "recall_Alto")]
    assert "Alto (at least 0.0400)" in failed[("guard", "class_f1")]
    assert failed[("floor", "log_loss")] == "log_loss 0.5500 is above the floor 0.5000"
    with pytest.raises(PipelineError, match=r"gate\.max_drop\.recall_Nope"):
        bad = gate_config(with_gate({"max_drop": {"recall_Nope": 0.1}}))
        gate_checks(bad, similar, champ, {"accuracy": [0, 0], "recall_Nope": [0, 0]}, False, CLASSES)


@pytest.mark.slow
def test_gate_power_and_false_promotion_at_the_example_size():
    """The simulation of benchmarks/gate_power.py, small: the old rule misses most true +1-point gains;
    superiority promotes them, and neither mode promotes a model that is 2 points worse."""
    from benchmarks.gate_power import old_rule, paired_sample
    from pipeline.core.resampling import bootstrap_deltas as paired_bootstrap_deltas
    from pipeline.gitops.compare import flat_metrics
    from pipeline.gitops.gate import gate_intervals

    no_guards = {"bootstrap_resamples": 300, "max_drop": {}, "max_class_f1_drop": None, "floors": {}}
    cfgs = {m: gate_config(with_gate(no_guards | {"mode": m})) for m in ("non_inferiority", "superiority")}
    rng = np.random.default_rng(11)
    wins = {"old": 0, "non_inferiority": 0, "superiority": 0, "worse": 0}
    trials = 40
    for t in range(trials):
        for delta in (0.01, -0.02):
            y, pa, pb = paired_sample(rng, 1500, 0.05, delta)
            cand = flat_metrics(classification_metrics(y, pb, CLASSES), CLASSES)
            champ = flat_metrics(classification_metrics(y, pa, CLASSES), CLASSES)
            for mode, cfg in cfgs.items():
                passed = all(c["passed"] for c in gate_checks(
                    cfg, cand, champ, gate_intervals(cfg, y, pa, pb, CLASSES, t)[0], False, CLASSES))
                wins[mode if delta > 0 else "worse"] += passed
            if delta > 0:
                deltas = paired_bootstrap_deltas(y, pa, pb, ["accuracy"], CLASSES, 1000, t)["accuracy"]
                wins["old"] += old_rule(cand, champ, deltas, t)
    assert wins["old"] / trials < 0.7 and wins["superiority"] / trials >= 0.75, wins
    assert wins["non_inferiority"] / trials >= 0.8 and wins["worse"] == 0, wins


# --- end to end ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory, reproduced_example) -> Path:
    """A committed project after a real `dvc repro` (the session's): HEAD holds the production model."""
    project = copy_project(reproduced_example, tmp_path_factory.mktemp("compare"))
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", "reproduce the pipeline"], project)
    return project


def _copy(project: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy" / "project"
    shutil.copytree(project, dest, symlinks=True)
    return dest


def _compare(project: Path, monkeypatch, *args: str) -> tuple[int, dict]:
    monkeypatch.chdir(project)
    code = pipeline_cli.main(["compare", *args])
    return code, json.loads((project / "reports/comparison.json").read_text())


def _install(project: Path, model, note: str, card_sha: bool = True) -> None:
    """Put `model` in the work tree as models/model.skops, with its model card updated."""
    from pipeline.core.files import save_model, sha256

    path = project / "models/model.skops"
    save_model(path, model)
    card_path = project / "models/model_card.json"
    card = json.loads(card_path.read_text())
    card["model"] |= {"family": "logistic", "bytes": path.stat().st_size}
    if card_sha:
        card["model"]["sha256"] = sha256(path)
    card["training"] |= {"best_params": {"C": 1.0}, "best_iteration": None, "strategy": note}
    card_path.write_text(json.dumps(card, indent=2))


def _weak_champion_then_a_good_challenger(project: Path) -> None:
    """Commit a champion trained on a tiny sample (the DVC way), then put a logistic model trained on
    the full training split in the work tree as the challenger."""
    good = _logistic(project)
    _install(project, _logistic(project, rows=24), "tiny sample")
    run(["dvc", "commit", "-f", "-q", "evaluate"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "a weak champion"], project)
    _install(project, good, "full training split")


def _logistic(project: Path, rows: int | None = None, shuffle: bool = False):
    """A logistic-regression pipeline on the project's training split (a tiny or shuffled one)."""
    from sklearn.pipeline import Pipeline

    from pipeline.core.files import read_frame
    from pipeline.core.schema import from_params
    from pipeline.modeling.estimators import build_estimator, build_preprocessor
    from pipeline.params import load

    schema = from_params(load(project / "params.yaml"))
    train = read_frame(project / "data/prepared/train.parquet")
    if rows:
        train = train.groupby(schema.target, group_keys=False).head(rows // 3)
    y = schema.class_index(train[schema.target])
    if shuffle:
        y = np.random.default_rng(0).permutation(y)
    pre = build_preprocessor(schema, scale=True).fit(train[schema.features])
    est = build_estimator("logistic", {"C": 1.0}, 3, 0, 1, 0).fit(pre.transform(train[schema.features]), y)
    return Pipeline([("preprocess", pre), ("model", est)])


def _image_paths(markdown: str) -> list[str]:
    from markdown_it import MarkdownIt

    srcs = []
    for tok in MarkdownIt("commonmark").enable("table").parse(markdown):
        srcs += [c.attrs["src"] for c in tok.children or [] if c.type == "image"]
    return srcs


@pytest.mark.slow
def test_self_comparison_rejects_with_zero_delta_and_the_report_says_so(reproduced, tmp_path, monkeypatch):
    project = _copy(reproduced, tmp_path)
    run(["git", "tag", "credit-risk@v1.0.0"], project)
    proc = cli(["compare", "--base", "HEAD"], project, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a rejection is a finding, not a failure
    result = json.loads((project / "reports/comparison.json").read_text())
    assert result["decision"] == "reject" and result["promote"] is False
    assert result["delta"] == 0.0
    low, high = result["confidence_interval"]
    assert low <= 0.0 <= high
    assert result["identical_models"] is True
    assert "nothing changed" in result["reasons"][0]
    assert result["models"]["champion"]["version"] == "v1.0.0"
    assert result["models"]["champion"]["model_sha256"] == result["models"]["challenger"]["model_sha256"]
    assert result["models"]["champion"]["train_rows"] > 0
    assert result["models"]["champion"]["data_files"][0]["sha256"]
    for fig in result["figures"].values():
        assert (project / fig).stat().st_size > 1000
    # the comparison's figures stay out of the evaluate stage's outputs: the pipeline is still clean
    assert "up to date" in run(["dvc", "status"], project).stdout

    monkeypatch.chdir(project)
    assert pipeline_cli.main(["report"]) == 0
    text = (project / "reports/report.md").read_text()
    assert text.startswith("## ❌ Merging accepts the data and keeps v1.0.0 in production: ")
    assert "nothing changed" in text.splitlines()[0] and "`promote-anyway`" in text.splitlines()[0]
    images = _image_paths(text)
    assert {"compare/compare_confusion.png", "compare/compare_roc.png"} <= set(images)
    assert all((project / "reports" / src).is_file() for src in images)

    # dvc's own diffs against the base work on this layout
    write_params(project, {"gate": {"non_inferiority": {"margin": 0.02, "confidence": 0.95}}})
    metrics = json.loads((project / "reports/metrics.json").read_text())
    metrics["accuracy"] = round(metrics["accuracy"] - 0.05, 6)
    (project / "reports/metrics.json").write_text(json.dumps(metrics))
    run(["git", "commit", "-qam", "tweak"], project)
    pdiff = run(["dvc", "params", "diff", "HEAD~1", "--all"], project).stdout
    mdiff = run(["dvc", "metrics", "diff", "HEAD~1"], project).stdout
    assert "reports/metrics.json" in mdiff and "accuracy" in mdiff and "-0.05" in mdiff
    assert "seed" in pdiff  # --all lists the params the stages depend on
    assert pipeline_cli.main(["report", "--base", "HEAD~1"]) == 0
    assert "`gate.non_inferiority.margin` | 0.01 | 0.02" in (project / "reports/report.md").read_text()


@pytest.mark.slow
def test_no_champion_promotes_a_first_model_that_passes_the_floors(reproduced, tmp_path, monkeypatch):
    project = _copy(reproduced, tmp_path)
    code, result = _compare(project, monkeypatch, "--base", "HEAD~1")  # the commit before any model
    assert code == 0 and result["decision"] == "no_champion" and result["promote"] is True
    assert result["models"]["champion"] is None and result["delta"] is None
    monkeypatch.chdir(project)
    pipeline_cli.main(["report"])
    text = (project / "reports/report.md").read_text()
    assert text.startswith("## 🆕 Merging puts the first model in production:")

    write_params(project, {"gate": {"floors": {"accuracy": 0.99}}})
    code, result = _compare(project, monkeypatch, "--base", "HEAD~1")
    assert code == 0 and result["decision"] == "reject"
    assert "below the floor 0.9900" in result["reasons"][0]
    assert pipeline_cli.main(["compare", "--base", "no-such-branch"]) == 2


@pytest.mark.slow
def test_a_challenger_trained_on_shuffled_labels_is_rejected(reproduced, tmp_path, monkeypatch, capsys):
    project = _copy(reproduced, tmp_path)
    _install(project, _logistic(project, shuffle=True), "shuffled labels", card_sha=False)
    monkeypatch.chdir(project)
    assert pipeline_cli.main(["compare", "--base", "HEAD"]) == 2  # a stale card is an error, not a verdict
    assert "does not match" in capsys.readouterr().err

    _install(project, _logistic(project, shuffle=True), "shuffled labels")
    code, result = _compare(project, monkeypatch, "--base", "HEAD")
    assert code == 0 and result["decision"] == "reject"
    assert result["delta"] < -0.1 and result["confidence_interval"][1] < 0
    failed = {c["kind"] for c in result["checks"] if not c["passed"]}
    assert {"superiority", "baseline", "floor"} <= failed  # no better than the class shares
    assert result["identical_models"] is False
    assert result["mcnemar"]["champion_only_correct"] > result["mcnemar"]["challenger_only_correct"]


@pytest.mark.slow
def test_a_clearly_better_challenger_is_promoted_with_cross_validation(reproduced, tmp_path, monkeypatch):
    project = _copy(reproduced, tmp_path)
    _weak_champion_then_a_good_challenger(project)
    write_params(project, {"gate": {"cv_folds": 3}})

    code, result = _compare(project, monkeypatch, "--base", "HEAD")
    assert code == 0, result["reasons"]
    assert result["decision"] == "promote"
    low, high = result["confidence_interval"]
    assert result["delta"] >= 0.01 and 0 < low <= result["delta"] <= high
    assert all(c["passed"] for c in result["checks"])
    cv = result["cv"]
    assert cv["folds"] == 3 and set(cv["scores"]) == {"champion", "challenger"}
    assert all(len(s) == 3 for s in cv["scores"].values())
    assert cv["recipes"]["challenger"]["hyperparameters"] == {"C": 1.0}
    # the two recipes are the same (logistic, C=1) on the same folds: the same scores
    assert cv["scores"]["champion"] == cv["scores"]["challenger"]

    monkeypatch.chdir(project)
    assert pipeline_cli.main(["report"]) == 0
    text = (project / "reports/report.md").read_text()
    assert text.startswith("## ✅ Merging promotes the challenger")
    assert "3-fold cross-validation" in text


@pytest.mark.slow
def test_the_cost_of_errors_from_evaluate_to_the_gate_and_the_report(reproduced, tmp_path, monkeypatch,
                                                                      capsys):
    """The example's schema.costs: evaluate writes the expected cost (metrics, card), and a gate on
    expected_cost with a max_increase guard promotes a cheaper challenger, shown in the report."""
    project = _copy(reproduced, tmp_path)
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert 0 < metrics["expected_cost"] < metrics["trivial_expected_cost"]
    card = json.loads((project / "models/model_card.json").read_text())
    assert card["schema"]["costs"]["Alto"] == {"Bajo": 10.0, "Medio": 5.0, "Alto": 0.0}
    assert "## Cost of errors" in (project / "models/model_card.md").read_text()
    monkeypatch.chdir(project)
    assert pipeline_cli.main(["summary"]) == 0
    assert f"expected cost {metrics['expected_cost']:.4f} per applicant" in capsys.readouterr().out

    _weak_champion_then_a_good_challenger(project)
    write_params(project, {"gate": {"primary_metric": "expected_cost",
                                    "max_increase": {"expected_cost": 0.05}}})
    code, result = _compare(project, monkeypatch, "--base", "HEAD")
    assert code == 0 and result["primary_metric"] == "expected_cost" and not result["higher_is_better"]
    cost = result["metrics"]["expected_cost"]
    low, high = result["costs"]["interval"]
    assert cost["challenger"] < cost["champion"] and low <= cost["delta"] <= high < 0
    assert result["decision"] == "promote", result["reasons"]
    assert [c["passed"] for c in result["checks"] if c["name"] == "expected_cost"] == [True, True, True]
    assert result["costs"]["matrix"]["Alto"]["Bajo"] == 10.0
    assert result["trivial_baseline"] == result["costs"]["trivial"] > cost["challenger"]
    assert pipeline_cli.main(["report"]) == 0
    text = (project / "reports/report.md").read_text()
    assert "### Cost of errors" in text and "The gate judges it." in text
    assert f"champion {cost['champion']:.4f}, challenger {cost['challenger']:.4f}" in text


# --- leakage -------------------------------------------------------------------------------------


def _card_and_test(seed_champion: int, seed_challenger: int):
    """A champion card and a challenger test set as prepare writes them, both on the same batches."""
    from pipeline.core.schema import from_params
    from pipeline.core.splits import BATCH, ROW, row_masks, split
    from pipeline.simulate import simulate

    schema = from_params(P.load())
    frames = []
    for period in ("2024-01", "2024-02"):
        frame = simulate(period, 1000)
        frame[ROW], frame[BATCH] = range(len(frame)), period
        frames.append(frame)
    cfg = {"test_size": 0.3, "val_size": 0.3}
    files = []
    champion = dict(zip(("train", "val", "test"), split(frames, schema, cfg, seed_champion), strict=True))
    for period in ("2024-01", "2024-02"):
        files.append({"path": f"data/batches/{period}.csv", "sha256": period * 4, "rows": 1000,
                      "file_rows": 1000, "splits": row_masks(champion, period, 1000)})
    test = split(frames, schema, cfg, seed_challenger)[2]
    return {"data": {"files": files}}, test, champion, {f"2024-0{i}": f"2024-0{i}" * 4 for i in (1, 2)}


def test_compare_leaves_out_rows_the_champion_learned_from():
    from pipeline.core.splits import unseen_rows
    from pipeline.gitops.compare import TEST_SET

    def evaluation_rows(frame, card, current):
        return unseen_rows(frame, card, current, TEST_SET)

    # a PR that only changes the seed: the new holdout overlaps the champion's train + val rows
    card, test, champion, current = _card_and_test(42, 43)
    keep, info = evaluation_rows(test, card, current)
    learned = set(champion["train"]["id_solicitud"]) | set(champion["val"]["id_solicitud"])
    assert not set(test["id_solicitud"][keep]) & learned  # no row the champion saw is scored
    assert set(test["id_solicitud"][~keep]) <= learned and 0.55 < (~keep).mean() < 0.85
    assert info["rows"] == keep.sum() and info["test_rows"] == 300
    assert info["excluded"] == [{"reason": "rows in the champion's training or validation split",
                                 "rows": int((~keep).sum())}]
    # same seed: the holdout is the champion's own holdout, nothing to leave out
    card, test, _, current = _card_and_test(42, 42)
    keep, info = evaluation_rows(test, card, current)
    assert keep.all() and info["excluded"] == []
    # a batch new to the champion counts whole; a changed file or a card without masks is left out
    assert evaluation_rows(test, {"data": {"files": []}}, current)[0].all()
    changed = {**current, "2024-02": "edited"}
    with pytest.raises(PipelineError, match="none can judge it without leakage"):
        evaluation_rows(test, card, changed)
    old = {"data": {"files": [{"path": "data/batches/2024-02.csv", "sha256": current["2024-02"]}]}}
    with pytest.raises(PipelineError, match="does not record which rows"):
        evaluation_rows(test, old, current)


def test_a_model_no_better_than_the_class_shares_is_never_promoted_nor_a_first_model():
    from pipeline.core.metrics import baseline_proba

    y = np.array([0] * 95 + [1] * 5)
    trivial = classification_metrics(y, baseline_proba([95, 5], 100), ["no", "yes"])
    assert trivial["accuracy"] == 0.95 and trivial["roc_auc"] == 0.5 and trivial["gini"] == 0.0
    cfg = gate_config(with_gate({"primary_metric": "roc_auc", "floors": {}}))
    majority = {"roc_auc": 0.5, "accuracy": 0.95}
    first = gate_checks(cfg, majority, None, None, False, ["no", "yes"], baseline=0.5)
    assert [(c["kind"], c["passed"]) for c in first] == [("baseline", False)]
    assert "does not beat the trivial model" in first[0]["message"]
    ranked = gate_checks(cfg, {"roc_auc": 0.81}, None, None, False, ["no", "yes"], baseline=0.5)
    assert ranked[0]["passed"]


def test_gini_and_ks_for_binary_targets():
    from scipy import stats

    rng = np.random.default_rng(2)
    y = (rng.random(2000) < 0.1).astype(int)
    score = np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0, 1)
    got = classification_metrics(y, np.column_stack([1 - score, score]), ["no", "yes"])
    assert got["gini"] == pytest.approx(2 * got["roc_auc"] - 1)
    assert got["ks"] == pytest.approx(stats.ks_2samp(score[y == 1], score[y == 0]).statistic)
    assert "gini" not in classification_metrics(np.array([0, 1, 2]), np.eye(3), CLASSES)
