"""The search's speed-ups keep the models honest: shared bins give the model that is saved, pruning
stops a trial that trails the finished ones, and the forest's row cap is the default below it."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.modeling.search import study, suggest
from pipeline.modeling.trials import binned, fit_trial


@pytest.fixture(scope="module")
def data() -> dict:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 6))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=3000), [-0.5, 0.5])
    return {"Xt": X[:2400], "yt": y[:2400], "Xv": X[2400:], "yv": y[2400:], "n_classes": 3}


@pytest.mark.parametrize("family", ["xgboost", "lightgbm"])
def test_a_trial_on_shared_bins_is_the_model_that_is_saved(family, data):
    bins = binned(family, data, 1)
    hp = {"n_estimators": 200, "learning_rate": 0.2}
    cfg = {"early_stopping_rounds": 10}
    proba, finish = fit_trial(family, hp, data, bins, cfg, 0, 1)
    again, _ = fit_trial(family, hp, data, bins, cfg, 0, 1)  # the bins are reused, not consumed
    model = finish()
    assert np.array_equal(proba, again)
    np.testing.assert_allclose(model.predict_proba(data["Xv"]), proba, rtol=0, atol=1e-12)
    rounds = model.best_iteration + 1 if family == "xgboost" else model.n_estimators
    assert 0 < rounds < 200  # early stopping chose the rounds that are saved


def test_a_lightgbm_trial_continued_from_a_base_model_is_saved_and_loads(data, tmp_path):
    """The saved classifier holds the base's rounds and the trial's, predicts as the trial did, and
    loads under the trusted list (a refit from an init model kept an unloadable predictor)."""
    from pipeline.core.files import load_model, save_model

    bins = binned("lightgbm", data, 1)
    base = fit_trial("lightgbm", {"n_estimators": 20}, data, bins, {}, 0, 1)[1]()
    proba, finish = fit_trial("lightgbm", {"n_estimators": 10}, data, bins, {}, 0, 1,
                              init_model=base.booster_)
    model = finish()
    assert model.booster_.current_iteration() == 30 and model.n_estimators == 30
    save_model(tmp_path / "model.skops", model)
    loaded = load_model(tmp_path / "model.skops")
    np.testing.assert_allclose(loaded.predict_proba(data["Xv"]), proba, rtol=0, atol=1e-12)


def test_successive_halving_stops_a_trial_that_is_not_the_best_at_a_rung(data):
    import optuna

    bins = binned("lightgbm", data, 1)
    s = study({"pruning": {"min_rounds": 5, "reduction_factor": 3}}, 0, True)
    stopped_at: list[int] = []

    def objective(trial):
        rate = 0.3 if trial.number != 1 else 0.001  # the second learns ~300x slower: hopeless

        def on_round(step, loss):
            trial.report(-loss, step)
            if trial.should_prune():
                stopped_at.append(step)
                raise optuna.TrialPruned()

        fit_trial("lightgbm", {"n_estimators": 60, "learning_rate": rate}, data, bins,
                  {"early_stopping_rounds": 0}, 0, 1, on_round=on_round)
        return 0.0

    s.optimize(objective, n_trials=3)
    states = [t.state for t in s.trials]
    # the first runs to the end; the slow one stops at the first rung (step min_rounds); a third as
    # good as the first at every rung (the same rate: the same curve) goes on to the end
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
                      optuna.trial.TrialState.COMPLETE]
    assert stopped_at == [5]


def test_forest_row_cap_is_the_default_bootstrap_below_it(data):
    capped, _ = fit_trial("random_forest", {"n_estimators": 5, "max_samples": 10_000}, data, {}, {}, 0, 1)
    default, _ = fit_trial("random_forest", {"n_estimators": 5}, data, {}, {}, 0, 1)
    assert np.array_equal(capped, default)
    small, _ = fit_trial("random_forest", {"n_estimators": 5, "max_samples": 200}, data, {}, {}, 0, 1)
    assert not np.array_equal(small, default)


def test_search_space_is_seeded_and_typed():
    import optuna

    from pipeline.modeling.search import study

    space = {"lr": {"low": 0.01, "high": 0.3, "log": True}, "depth": {"low": 2, "high": 6, "int": True},
             "leaf": [1, 5, None], "fixed": 3}

    def sampled(seed: int) -> list[dict]:
        trials: list[dict] = []
        study({}, seed, True).optimize(lambda t: trials.append(suggest(t, space)) or 0.0, n_trials=5)
        return trials

    a, b = sampled(1), sampled(1)
    assert a == b and len(a) == 5 and a != sampled(2)
    for trial in a:
        assert 0.01 <= trial["lr"] <= 0.3 and isinstance(trial["depth"], int) and 2 <= trial["depth"] <= 6
        assert trial["leaf"] in (1, 5, None) and trial["fixed"] == 3
    pruning = {"pruning": {"min_rounds": 5, "reduction_factor": 3}}
    assert isinstance(study(pruning, 0, True).pruner, optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(study({}, 0, True).pruner, optuna.pruners.NopPruner)


def test_the_search_keeps_the_lowest_cost_trial_when_the_metric_is_the_expected_cost():
    """Three trials: the most accurate one misses Alto applicants (10 each); the expected cost keeps
    the one that misses none, and Optuna's study minimises."""
    from pipeline.modeling.search import search

    costs = ((0.0, 1.0, 1.0), (2.0, 0.0, 1.0), (10.0, 5.0, 0.0))
    y = np.array([0] * 60 + [1] * 25 + [2] * 15)
    eye = np.eye(3)
    accurate = y.copy()
    accurate[85:90] = 0  # 5 Alto called Bajo: 95 % accurate, cost 0.50
    cautious = y.copy()
    cautious[:12] = 2  # 12 false alarms: 88 % accurate, cost 0.12
    middling = y.copy()
    middling[:8] = 1
    middling[85:87] = 1  # cost (8 + 10) / 100 = 0.18
    outputs = iter([eye[accurate], eye[cautious], eye[middling]])

    def fit_score(hp, on_round):
        return next(outputs), lambda: hp

    cfg = {"n_trials": 3, "search": {"C": [0.1, 1.0, 10.0]}}
    found = search("logistic", cfg, {"pruning": None}, "expected_cost", ["Bajo", "Medio", "Alto"], y,
                   fit_score, 0, lambda line: None, costs=costs)
    assert found["best"]["score"] == pytest.approx(0.12)
    assert [t["expected_cost"] for t in found["history"]] == pytest.approx([0.50, 0.12, 0.18])
    assert np.array_equal(found["best"]["proba"], eye[cautious])
