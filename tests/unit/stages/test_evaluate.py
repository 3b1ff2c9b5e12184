"""Selection: the family with the best validation score on train.primary_metric, in its direction."""

from __future__ import annotations

import json

import pytest

from pipeline.config import CANDIDATE_REPORTS
from pipeline.stages.evaluate import select

SCORES = {"xgboost": 0.31, "lightgbm": 0.27, "random_forest": 0.45, "logistic": 0.52}


@pytest.fixture
def candidates(tmp_path, monkeypatch):
    """Candidate reports as train writes them, in a scratch work tree."""
    monkeypatch.chdir(tmp_path)
    CANDIDATE_REPORTS.mkdir(parents=True)
    for family, score in SCORES.items():
        (CANDIDATE_REPORTS / f"{family}.json").write_text(json.dumps({"validation_score": score}))
    return {"models": dict.fromkeys(SCORES, {})}


def test_expected_cost_selects_the_lowest_cost_family(candidates):
    family, reports = select(candidates | {"train": {"primary_metric": "expected_cost"}})
    assert family == "lightgbm" and set(reports) == set(SCORES)


def test_a_score_selects_the_highest(candidates):
    assert select(candidates | {"train": {"primary_metric": "accuracy"}})[0] == "logistic"
