"""The expected cost (params.yaml schema.costs): the same number in every place it is computed."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core import resampling
from pipeline.core.metrics import (
    classification_metrics,
    higher_is_better,
    lookup,
    require_costs,
    trivial_expected_cost,
)
from pipeline.errors import PipelineError

CLASSES = ["Bajo", "Medio", "Alto"]
# rows actual, columns predicted: the example in params.yaml
COSTS = ((0.0, 1.0, 1.0), (2.0, 0.0, 1.0), (10.0, 5.0, 0.0))


def test_expected_cost_equals_the_hand_computed_mean_cost_per_applicant():
    # 8 applicants: 3 right (cost 0), Bajo->Alto 1, Medio->Bajo 2, Alto->Medio 5, Alto->Bajo 10,
    # Bajo->Medio 1: (1 + 2 + 5 + 10 + 1) / 8 = 19 / 8
    y = np.array([0, 1, 2, 0, 1, 2, 2, 0])
    pred = np.array([0, 1, 2, 2, 0, 1, 0, 1])
    proba = np.eye(3)[pred] * 0.8 + 0.2 / 3
    values = classification_metrics(y, proba, CLASSES, COSTS)
    assert values["expected_cost"] == pytest.approx(19 / 8)
    assert not higher_is_better("expected_cost")
    assert "expected_cost" not in classification_metrics(y, proba, CLASSES)  # no matrix, no cost
    # the vectorised confusion-matrix form (bootstrap, drift interval) gives the same number
    cm = np.bincount(y * 3 + pred, minlength=9).reshape(3, 3)
    assert resampling.confusion_metric("expected_cost", cm, CLASSES, COSTS) == pytest.approx(19 / 8)
    whole = np.arange(len(y))[None, :]
    got = resampling.resampled_metric("expected_cost", y, proba, CLASSES, whole, costs=COSTS)
    assert got[0] == pytest.approx(19 / 8)


def test_resampled_expected_cost_equals_the_shared_metric_on_every_resample():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 300)
    proba = rng.dirichlet([1, 1, 1], 300)
    idx = rng.integers(0, 300, size=(20, 300))
    got = resampling.resampled_metric("expected_cost", y, proba, CLASSES, idx, costs=COSTS)
    for row, value in zip(idx, got, strict=True):
        want = lookup(classification_metrics(y[row], proba[row], CLASSES, COSTS), "expected_cost")
        assert value == pytest.approx(want, abs=1e-12)
    low, high = resampling.bootstrap_interval(y, proba, CLASSES, "expected_cost", 500, 0.95, 0, COSTS)
    point = classification_metrics(y, proba, CLASSES, COSTS)["expected_cost"]
    assert low < point < high


def test_a_challenger_with_fewer_costly_misses_has_a_negative_paired_cost_difference():
    """Same accuracy, but the challenger's mistakes on Alto go to Medio (5) instead of Bajo (10)."""
    y = np.array([2] * 100 + [0] * 300)
    champ = np.where(np.arange(400) < 30, 0, y)  # 30 Alto called Bajo
    chall = np.where(np.arange(400) < 30, 1, y)  # 30 Alto called Medio
    eye = np.eye(3)
    boot = resampling.paired_bootstrap(y, eye[champ], eye[chall], "expected_cost", CLASSES, 300, 0.95, 0,
                                       COSTS)
    assert boot["interval"][1] < 0  # the challenger costs less on every resample
    assert resampling.paired_bootstrap(y, eye[champ], eye[chall], "accuracy", CLASSES, 300, 0.95,
                                       0)["interval"] == [0.0, 0.0]


def test_the_trivial_cost_is_the_cheapest_decision_for_everyone_not_the_majority_class():
    y = np.array([0] * 50 + [1] * 32 + [2] * 18)
    priors = np.array([50, 32, 18])
    # everyone Bajo (the majority) would cost (32*2 + 18*10)/100 = 2.44; everyone Alto 0.82
    assert trivial_expected_cost(y, priors, COSTS) == pytest.approx((50 * 1 + 32 * 1) / 100)


def test_expected_cost_without_a_matrix_fails_naming_the_key():
    with pytest.raises(PipelineError, match=r"params\.yaml: train\.primary_metric: expected_cost needs"):
        require_costs("expected_cost", None, "train.primary_metric")
    require_costs("accuracy", None, "train.primary_metric")  # other metrics need none
    with pytest.raises(PipelineError, match=r"schema\.costs"):
        resampling.confusion_metric("expected_cost", np.eye(3), CLASSES)
