"""Class probabilities from a saved model: the one way every stage and command scores rows (evaluate,
drift, compare, monitoring, predict), and the scored table people get from `predict`."""

from __future__ import annotations

from typing import Any

from pipeline.core.schema import Schema


def predict_proba(model, frame, schema: Schema):
    """Probabilities (rows x classes, in schema.classes order) from the schema's feature columns.

    In float64, each row renormalised: xgboost's float32 rows sum to 1 within 1e-7, which float64
    checks (scikit-learn's log loss) flag as not probabilities."""
    import numpy as np

    proba = np.asarray(model.predict_proba(frame[schema.features]), dtype=float)
    return proba / proba.sum(axis=1, keepdims=True)


def scored_table(frame, proba, schema: Schema) -> Any:
    """The id (when the input has one), the predicted class and one probability per class."""
    import pandas as pd

    out = pd.DataFrame({schema.id: frame[schema.id]}) if schema.id in frame.columns else pd.DataFrame()
    out["prediction"] = [schema.classes[i] for i in proba.argmax(axis=1)]
    for k, cls in enumerate(schema.classes):
        out[f"proba_{cls}"] = proba[:, k].round(6)
    return out
