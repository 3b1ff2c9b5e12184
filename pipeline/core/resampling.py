"""Paired resampling of two models' predictions on the same rows: the bootstrap, McNemar's test
and metrics computed from stacks of confusion matrices, so compare, drift and monitor judge a
difference the same way (and fast: one vectorised pass over all resamples)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.core.metrics import classification_metrics, higher_is_better, lookup, require_costs
from pipeline.errors import PipelineError

PER_ROW = ("accuracy", "log_loss", "brier")  # metrics that are means of per-row values
EXACT_BELOW = 25  # discordant pairs below which McNemar uses the exact binomial test


def direction(name: str) -> int:
    """+1 when a higher value of the metric is better, -1 when lower is."""
    return 1 if higher_is_better(name) else -1


def confusion_metric(name: str, cm: np.ndarray, classes: list[str], costs: Any = None) -> np.ndarray | None:
    """Metric from confusion matrices (..., actual, predicted): one matrix or a stack of resamples;
    None if `name` is not one. Same definitions as metrics.classification_metrics (zero_division=0)."""
    cm = np.asarray(cm)
    if name == "expected_cost":  # the cost of each cell, averaged over the rows
        require_costs(name, costs, "schema.costs")
        return (cm * np.asarray(costs, dtype=float)).sum(axis=(-2, -1)) / cm.sum(axis=(-2, -1))
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(float)
    actual, predicted = cm.sum(axis=-1).astype(float), cm.sum(axis=-2).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        denom = actual + predicted
        f1 = np.where(denom > 0, 2 * tp / denom, 0.0)
        total = actual.sum(axis=-1, keepdims=True)
        weights = np.where(total > 0, actual / total, 0.0)
        if name == "accuracy":
            return tp.sum(axis=-1) / total[..., 0]
    if name == "balanced_accuracy":
        present = actual > 0
        return (recall * present).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)
    if name == "f1_macro":
        return f1.mean(axis=-1)
    table = {"precision": precision, "recall": recall, "f1": f1}
    for stat, values in table.items():
        if name == f"{stat}_weighted":
            return (values * weights).sum(axis=-1)
        prefix = f"{stat}_"
        if name.startswith(prefix) and name[len(prefix):] in classes:
            return values[..., classes.index(name[len(prefix):])]
    return None


def resampled_metric(name: str, y: np.ndarray, proba: np.ndarray, classes: list[str],
                     idx: np.ndarray, cache: dict[str, np.ndarray] | None = None,
                     costs: Any = None) -> np.ndarray:
    """`name` on each row of `idx` (resamples x rows), vectorised where the metric allows; `cache`
    keeps the stacked confusion matrices for the next metric on the same `proba` and `idx`;
    `costs`: the cost matrix the expected cost needs."""
    n, k = len(y), len(classes)
    rows = np.arange(n)
    if name in PER_ROW:
        if name == "accuracy":
            values = (proba.argmax(axis=1) == y).astype(float)
        elif name == "log_loss":
            values = -np.log(np.clip(proba[rows, y], 1e-15, 1))
        else:
            values = ((proba - np.eye(k)[y]) ** 2).sum(axis=1)  # per-row terms of metrics.brier
        return values[idx].mean(axis=1)
    cm = None if cache is None else cache.get("cm")
    if cm is None:
        codes = y * k + proba.argmax(axis=1)
        offsets = (np.arange(len(idx)) * k * k)[:, None]
        cm = np.bincount((codes[idx] + offsets).ravel(), minlength=len(idx) * k * k).reshape(-1, k, k)
        if cache is not None:
            cache["cm"] = cm
    out = confusion_metric(name, cm, classes, costs)
    if out is not None:
        return out
    # anything else (roc_auc...): the shared implementation, one resample at a time
    return np.array([lookup(classification_metrics(y[i], proba[i], classes, costs), name) for i in idx])


def paired_bootstrap(y: np.ndarray, proba_a: np.ndarray, proba_b: np.ndarray, metric: str,
                     classes: list[str], resamples: int = 1000, confidence: float = 0.95,
                     seed: int = 0, costs: Any = None) -> dict[str, Any]:
    """Percentile interval of metric(b) - metric(a), both scored on the same resampled rows."""
    deltas = bootstrap_deltas(y, proba_a, proba_b, [metric], classes, resamples, seed, costs)[metric]
    return percentile_interval(deltas, resamples, confidence, seed)


def bootstrap_deltas(y: np.ndarray, proba_a: np.ndarray, proba_b: np.ndarray, metrics: list[str],
                     classes: list[str], resamples: int, seed: int,
                     costs: Any = None) -> dict[str, np.ndarray]:
    """metric(b) - metric(a) on each of `resamples` resamples of the rows, every metric on the same ones
    (a seed draws the same resamples whatever the metrics)."""
    if len(y) == 0:
        raise PipelineError("no rows to compare the models on")
    deltas: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for idx in row_resamples(np.random.default_rng(seed), len(y), resamples):
        cache_a: dict[str, np.ndarray] = {}
        cache_b: dict[str, np.ndarray] = {}
        for m in metrics:
            deltas[m].append(resampled_metric(m, y, proba_b, classes, idx, cache_b, costs)
                             - resampled_metric(m, y, proba_a, classes, idx, cache_a, costs))
    return {m: np.concatenate(d) for m, d in deltas.items()}


def row_resamples(rng: np.random.Generator, n: int, resamples: int):
    """`resamples` bootstrap draws of row positions, in chunks of bounded memory whatever `n`."""
    chunk = max(1, 4_000_000 // n)
    for start in range(0, resamples, chunk):
        yield rng.integers(0, n, size=(min(chunk, resamples - start), n))


def bootstrap_interval(y: np.ndarray, proba: np.ndarray, classes: list[str], metric: str, resamples: int,
                       confidence: float, seed: int, costs: Any = None) -> tuple[float | None, float | None]:
    """Percentile interval of one model's `metric` over resampled rows; (None, None) without any.

    A confusion-matrix metric resamples the matrix itself: a resample's matrix is a multinomial draw
    over the cells (same law as resampling rows, no row copies), so 1,000 resamples cost one draw."""
    if resamples <= 0 or len(y) == 0:
        return None, None
    rng = np.random.default_rng(seed)
    k, n = len(classes), len(y)
    if confusion_metric(metric, np.eye(k), classes, costs) is not None:
        cells = np.bincount(y * k + proba.argmax(axis=1), minlength=k * k) / n
        draws = rng.multinomial(n, cells, size=resamples).reshape(resamples, k, k)
        values = confusion_metric(metric, draws, classes, costs)
    else:  # log loss, Brier, ROC AUC...: row resamples
        values = np.concatenate([resampled_metric(metric, y, proba, classes, idx, costs=costs)
                                 for idx in row_resamples(rng, n, resamples)])
    low, high = percentile_interval(np.asarray(values, dtype=float), resamples, confidence, seed)["interval"]
    return (None, None) if np.isnan(low) else (low, high)


def percentile_interval(delta: np.ndarray, resamples: int, confidence: float, seed: int) -> dict[str, Any]:
    """The two-sided percentile interval at `confidence` of bootstrap differences."""
    delta = delta[np.isfinite(delta)]
    alpha = 1 - confidence
    low, high = np.quantile(delta, [alpha / 2, 1 - alpha / 2]) if len(delta) else (np.nan, np.nan)
    return {"interval": [float(low), float(high)], "std_error": float(delta.std(ddof=1)) if len(delta) > 1
            else None, "resamples": int(resamples), "confidence": confidence, "seed": seed}


def flip_table(pred_a: np.ndarray, pred_b: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """How many applicants change class from the champion's decision to the challenger's."""
    k, n = len(classes), len(pred_a)
    counts = np.bincount(pred_a * k + pred_b, minlength=k * k).reshape(k, k)
    moves = [{"from": classes[i], "to": classes[j], "rows": int(counts[i, j]), "share": counts[i, j] / n}
             for i in range(k) for j in range(k) if i != j and counts[i, j]]
    changed = int(n - np.trace(counts))
    return {"rows": int(n), "changed": changed, "changed_share": changed / n if n else 0.0,
            "moves": sorted(moves, key=lambda m: -m["rows"]),
            "table": {classes[i]: {classes[j]: int(counts[i, j]) for j in range(k)} for i in range(k)}}


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, Any]:
    """McNemar's test on paired correctness: exact binomial for few discordant pairs, else chi²."""
    from scipy import stats

    b = int((correct_a & ~correct_b).sum())  # only the champion right
    c = int((~correct_a & correct_b).sum())  # only the challenger right
    n = b + c
    if n == 0:
        stat, p, method = 0.0, 1.0, "no discordant pairs"
    elif n < EXACT_BELOW:
        stat, p, method = float(min(b, c)), float(stats.binomtest(c, n, 0.5).pvalue), "exact binomial"
    else:
        stat = (abs(b - c) - 1) ** 2 / n
        p, method = float(stats.chi2.sf(stat, 1)), "chi-squared with continuity correction"
    return {"champion_only_correct": b, "challenger_only_correct": c, "statistic": float(stat),
            "p_value": min(1.0, p), "method": method}
