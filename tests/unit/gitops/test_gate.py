"""The gate on the cost of errors: expected_cost as the primary metric (lower is better), the
gate.max_increase guard judged on the interval, the trivial-model rule for a cost, and the keys
that must fail closed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline import params as P
from pipeline.core.metrics import classification_metrics
from pipeline.errors import PipelineError
from pipeline.gitops.compare import flat_metrics, trivial_baseline
from pipeline.gitops.gate import gate_checks, gate_config, gate_intervals
from tests.support.project import ROOT

CLASSES = ["Bajo", "Medio", "Alto"]
COSTS = ((0.0, 1.0, 1.0), (2.0, 0.0, 1.0), (10.0, 5.0, 0.0))
TABLE = {a: dict(zip(CLASSES, row, strict=True)) for a, row in zip(CLASSES, COSTS, strict=True)}


def params(gate: dict | None = None, costs: dict | None = TABLE, train_metric: str = "accuracy") -> dict:
    """The repository's gate block with `gate` over it, a schema with `costs`."""
    repo = P.load(ROOT / "params.yaml")
    schema = {**P.section(repo, "schema"), "costs": costs}
    return {"schema": schema, "train": {**P.section(repo, "train"), "primary_metric": train_metric},
            "gate": P.section(repo, "gate") | (gate or {})}


def _models(n_alto_missed: int, n_false_alarms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two models' probabilities: the champion calls `n_alto_missed` of 150 Alto applicants
    Bajo (10 each); the challenger gets them right but raises `n_false_alarms` Bajo -> Alto (1 each),
    so it is less accurate yet much cheaper."""
    y = np.array([0] * 900 + [1] * 450 + [2] * 150)
    champ = y.copy()
    champ[1350:1350 + n_alto_missed] = 0
    chall = y.copy()
    chall[:n_false_alarms] = 2
    rng = np.random.default_rng(0)
    # a few shared mistakes elsewhere, so no class's metrics are degenerate
    shared = rng.choice(np.arange(900, 1350), 40, replace=False)
    champ[shared] = chall[shared] = 0
    soft = np.eye(3) * 0.7 + 0.1
    return y, soft[champ], soft[chall]


def _decide(cfg: dict, y, pa, pb) -> list[dict]:
    cand = flat_metrics(classification_metrics(y, pb, CLASSES, COSTS), CLASSES)
    champ = flat_metrics(classification_metrics(y, pa, CLASSES, COSTS), CLASSES)
    intervals, _ = gate_intervals(cfg, y, pa, pb, CLASSES, 0, COSTS)
    return gate_checks(cfg, cand, champ, intervals, False, CLASSES)


def test_the_gate_on_expected_cost_promotes_the_cheaper_challenger_and_rejects_the_costlier():
    no_guards = {"primary_metric": "expected_cost", "max_drop": {}, "max_class_f1_drop": None,
                 "floors": {}}
    cfg = gate_config(params(no_guards))
    y, missing_alto, false_alarms = _models(n_alto_missed=40, n_false_alarms=60)
    promoted = _decide(cfg, y, missing_alto, false_alarms)  # champion misses 40 Alto: cost 400 vs 60
    assert all(c["passed"] for c in promoted), [c["message"] for c in promoted]
    assert promoted[0]["value"] > 0  # the gain (champion cost - challenger cost) clears 0
    # costs (60 + 80) / 1500 vs (400 + 80) / 1500 (the 40 shared Medio -> Bajo mistakes cost 2 each)
    assert "changed by -0.2267 (0.0933 vs 0.3200), a gain of +0.2267 as lower is better; the gain's " \
           "one-sided 70% lower confidence bound is +0.2" in promoted[0]["message"]
    rejected = _decide(cfg, y, false_alarms, missing_alto)  # the same two models, roles swapped
    assert not rejected[0]["passed"] and "sampling noise" in rejected[0]["message"]
    # accuracy alone would have decided the other way: the cheaper model is the less accurate one
    accuracy = gate_config(params(no_guards | {"primary_metric": "accuracy"}))
    assert not _decide(accuracy, y, missing_alto, false_alarms)[0]["passed"]
    assert _decide(accuracy, y, false_alarms, missing_alto)[0]["passed"]


def test_max_increase_rejects_only_when_the_interval_shows_a_larger_cost_increase():
    guard = {"max_drop": {}, "max_class_f1_drop": None, "floors": {},
             "max_increase": {"expected_cost": 0.05}}
    cfg = gate_config(params(guard))
    assert cfg["max_increase"] == {"expected_cost": 0.05}
    y, missing_alto, false_alarms = _models(n_alto_missed=40, n_false_alarms=60)
    # a challenger 20 rows more accurate that misses 40 Alto: 0.23 more per applicant, rejected
    checks = {c["kind"]: c for c in _decide(cfg, y, false_alarms, missing_alto)}
    assert checks["superiority"]["passed"] and not checks["guard"]["passed"]
    assert "shows an increase of at least" in checks["guard"]["message"]
    assert "more than the 0.0500 allowed" in checks["guard"]["message"]
    # judged on the interval, not the point: a +0.04 point increase whose interval reaches +0.07 passes,
    # one whose interval starts above +0.05 fails
    champ = {"accuracy": 0.85, "expected_cost": 0.30}
    cand = {"accuracy": 0.87, "expected_cost": 0.34}
    for interval, passed in (([0.01, 0.07], True), ([0.06, 0.09], False)):
        out = gate_checks(cfg, cand, champ, {"accuracy": [0.01, 0.03], "expected_cost": interval}, False,
                          CLASSES)
        guard_check = next(c for c in out if c["kind"] == "guard")
        assert guard_check["passed"] is passed and guard_check["name"] == "expected_cost"
        assert guard_check["value"] == pytest.approx(interval[0])  # the smallest increase the data allow
    assert "an increase larger than 0.0500 is not shown" in gate_checks(
        cfg, cand, champ, {"accuracy": [0.01, 0.03], "expected_cost": [0.01, 0.07]}, False,
        CLASSES)[1]["message"]


def test_a_first_model_must_cost_less_than_the_cheapest_decision_for_everyone():
    cfg = gate_config(params({"primary_metric": "expected_cost", "floors": {}}))
    worse = gate_checks(cfg, {"expected_cost": 0.90}, None, None, False, CLASSES, baseline=0.82)
    assert [c["kind"] for c in worse if not c["passed"]] == ["baseline"]
    assert worse[0]["message"] == ("expected_cost 0.9000 does not beat the cheapest single decision for "
                                   "everyone, given the training class shares (0.8200)")
    better = gate_checks(cfg, {"expected_cost": 0.29}, None, None, False, CLASSES, baseline=0.82)
    assert all(c["passed"] for c in better)


def test_the_trivial_cost_uses_the_training_shares_and_the_matrix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/prepared").mkdir(parents=True)
    (tmp_path / "data/prepared/manifest.json").write_text(json.dumps(
        {"class_counts": {"train": {"Bajo": 500, "Medio": 320, "Alto": 180}}}))
    y = np.array([0] * 50 + [1] * 32 + [2] * 18)
    # everyone Alto is the cheapest constant decision: (50 * 1 + 32 * 1) / 100; the majority class
    # (Bajo) would cost (32 * 2 + 18 * 10) / 100 = 2.44 and let a useless model through
    assert trivial_baseline("expected_cost", y, CLASSES, COSTS) == pytest.approx(0.82)
    assert trivial_baseline("accuracy", y, CLASSES, COSTS) == pytest.approx(0.50)


@pytest.mark.parametrize(("gate", "costs", "train_metric", "message"), [
    ({"primary_metric": "expected_cost"}, None, "accuracy",
     "params.yaml: gate.primary_metric: expected_cost needs a cost matrix in schema.costs"),
    ({"primary_metric": None}, None, "expected_cost", "params.yaml: train.primary_metric"),
    ({"max_increase": {"expected_cost": 0.05}}, None, "accuracy",
     "params.yaml: gate.max_increase.expected_cost: expected_cost needs a cost matrix"),
    ({"max_increase": {"accuracy": 0.01}}, TABLE, "accuracy",
     "params.yaml: gate.max_increase.accuracy: higher is better"),
    ({"max_increase": {"expected_cost": "high"}}, TABLE, "accuracy",
     "params.yaml: gate.max_increase.expected_cost: expected a number"),
    ({"max_increase": [0.05]}, TABLE, "accuracy", "params.yaml: gate.max_increase: expected a mapping"),
])
def test_cost_settings_fail_closed_naming_the_key(gate, costs, train_metric, message):
    with pytest.raises(PipelineError) as exc:
        gate_config(params(gate, costs, train_metric))
    assert str(exc.value).startswith(message), str(exc.value)


def test_the_gate_block_needs_max_increase():
    p = params()
    del p["gate"]["max_increase"]
    with pytest.raises(PipelineError, match=r"missing key 'gate\.max_increase'"):
        gate_config(p)
