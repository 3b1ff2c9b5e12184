"""Classification metrics shared by evaluate, compare and monitor, so every report means the same."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.errors import PipelineError

# metric name -> higher is better
DIRECTION = {
    "accuracy": True,
    "balanced_accuracy": True,
    "precision_weighted": True,
    "recall_weighted": True,
    "f1_weighted": True,
    "f1_macro": True,
    "roc_auc": True,
    "log_loss": False,
    "brier": False,
    "gini": True,
    "ks": True,
    "expected_cost": False,  # mean cost per row of the decisions (schema.costs)
}


def classification_metrics(y: np.ndarray, proba: np.ndarray, classes: list[str],
                           costs: Any = None) -> dict[str, Any]:
    """Every headline metric for class indices `y` and probabilities `proba` (one column per class);
    with a cost matrix (`Schema.costs`: rows actual, columns predicted) the expected cost too."""
    from sklearn import metrics as skm

    labels = list(range(len(classes)))
    pred = proba.argmax(axis=1)
    prec, rec, f1, support = skm.precision_recall_fscore_support(
        y, pred, labels=labels, zero_division=0
    )
    out: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(y, pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)),
        "precision_weighted": float(np.average(prec, weights=support)) if support.sum() else 0.0,
        "recall_weighted": float(np.average(rec, weights=support)) if support.sum() else 0.0,
        "f1_weighted": float(np.average(f1, weights=support)) if support.sum() else 0.0,
        "f1_macro": float(f1.mean()),
        "roc_auc": _roc_auc(y, proba, labels),
        "log_loss": float(skm.log_loss(y, np.clip(proba, 1e-15, 1), labels=labels)),
        "brier": brier(y, proba),
        "rows": int(len(y)),
    }
    if costs is not None:
        out["expected_cost"] = expected_cost(y, pred, costs)
    if proba.shape[1] == 2:  # how credit models are judged: ranking of the positive (second) class
        out["gini"] = None if out["roc_auc"] is None else 2 * out["roc_auc"] - 1
        out["ks"] = ks_statistic(y, proba[:, 1])
    out["per_class"] = {
        name: {
            "precision": float(prec[i]),
            "recall": float(rec[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(classes)
    }
    return out


def ks_statistic(y: np.ndarray, score: np.ndarray) -> float | None:
    """Kolmogorov-Smirnov separation: the largest gap between the score's CDFs of the two classes."""
    from sklearn.metrics import roc_curve

    if len(np.unique(y)) < 2:
        return None
    fpr, tpr, _ = roc_curve(y, score)
    return float(np.max(tpr - fpr))


def expected_cost(y: np.ndarray, pred: np.ndarray, costs: Any) -> float:
    """Mean cost per row of deciding `pred` when the truth is `y`: costs[actual][predicted]."""
    return float(np.asarray(costs, dtype=float)[y, pred].mean())


def trivial_expected_cost(y: np.ndarray, priors: np.ndarray, costs: Any) -> float:
    """The expected cost on `y` of the cheapest constant decision under the training class shares
    `priors`: the trivial model for a cost. Not the majority class: when missing a rare class is
    costly, calling everyone that class may cost less, and a model must beat that too."""
    c = np.asarray(costs, dtype=float)
    choice = int(np.argmin(np.asarray(priors, dtype=float) @ c))
    return float(c[y, choice].mean())


def require_costs(metric: str, costs: Any, key: str) -> None:
    """Fail closed, naming the params key, when `metric` is the expected cost and no matrix is set."""
    if metric == "expected_cost" and costs is None:
        raise PipelineError(f"params.yaml: {key}: expected_cost needs a cost matrix in schema.costs "
                            "(README \"The cost of errors\")")


def train_priors(manifest: dict[str, Any], classes: list[str]) -> np.ndarray:
    """The training split's class counts in `classes` order (prepare's manifest, class_counts.train):
    the shares the trivial model predicts for everyone (all zeros when the manifest has none)."""
    counts = (manifest.get("class_counts") or {}).get("train") or {}
    return np.array([counts.get(c, 0) for c in classes], dtype=float)


def baseline_proba(priors: np.ndarray, rows: int) -> np.ndarray:
    """The trivial model: the training class shares for everyone (majority class by argmax)."""
    return np.tile(np.asarray(priors, dtype=float) / np.sum(priors), (rows, 1))


def brier(y: np.ndarray, proba: np.ndarray) -> float:
    """Multiclass Brier score: mean squared distance between probabilities and the one-hot truth."""
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(y)), y] = 1.0
    return float(((proba - onehot) ** 2).sum(axis=1).mean())


def _roc_auc(y: np.ndarray, proba: np.ndarray, labels: list[int]) -> float | None:
    from sklearn.metrics import roc_auc_score

    present = np.unique(y)
    if len(present) < 2:
        return None
    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    if len(present) < len(labels):
        return None
    return float(roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=labels))


def score(name: str, y: np.ndarray, proba: np.ndarray, classes: list[str], costs: Any = None) -> float:
    """One metric by name; accepts `recall_<class>`-style per-class names too."""
    values = classification_metrics(y, proba, classes, costs)
    return lookup(values, name)


def lookup(values: dict[str, Any], name: str) -> float:
    if name in values and values[name] is not None:
        return float(values[name])
    for stat in ("precision", "recall", "f1"):
        prefix = f"{stat}_"
        if name.startswith(prefix) and name[len(prefix):] in values.get("per_class", {}):
            return float(values["per_class"][name[len(prefix):]][stat])
    raise KeyError(name)


def higher_is_better(name: str) -> bool:
    return DIRECTION.get(name, True)


def rounded(values: Any, digits: int = 6) -> Any:
    """Round floats in nested reports so diffs in git show real changes, not float noise."""
    if isinstance(values, dict):
        return {k: rounded(v, digits) for k, v in values.items()}
    if isinstance(values, list):
        return [rounded(v, digits) for v in values]
    return round(values, digits) if isinstance(values, float) else values
