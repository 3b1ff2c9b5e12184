"""The model card's markdown: the cost of errors appears with the matrix it was priced by."""

from __future__ import annotations

from pipeline.core.model_card import markdown

MATRIX = {"Bajo": {"Bajo": 0.0, "Medio": 1.0, "Alto": 1.0}, "Medio": {"Bajo": 2.0, "Medio": 0.0, "Alto": 1.0},
          "Alto": {"Bajo": 10.0, "Medio": 5.0, "Alto": 0.0}}


def card(costs: dict | None, **test: float) -> dict:
    per_class = {c: {"precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 100} for c in MATRIX}
    return {
        "model": {"family": "xgboost", "path": "models/model.skops", "bytes": 1000, "sha256": "a" * 64},
        "schema": {"target": "nivel_riesgo", "classes": list(MATRIX), "numeric": ["x"], "categorical": [],
                   "costs": costs},
        "training": {"strategy": "from_scratch", "trials": 3, "seed": 42, "best_params": {"max_depth": 5}},
        "metrics": {"test": {"accuracy": 0.87, "per_class": per_class, **test},
                    "validation": {"xgboost": 0.86}},
        "data": {"files": []},
    }


def test_the_card_shows_the_expected_cost_and_the_matrix():
    text = markdown(card(MATRIX, expected_cost=0.29, trivial_expected_cost=0.818))
    assert "| expected_cost | 0.2900 |" in text
    assert "## Cost of errors (params.yaml `schema.costs`)" in text
    assert "**0.2900 per applicant** (lower is better); the cheapest single decision for everyone would " \
           "cost 0.8180." in text
    assert "| Alto | 10 | 5 | 0 |" in text and "| Medio | 2 | 0 | 1 |" in text
    assert "Cost of errors" not in markdown(card(None))  # no matrix: no section
