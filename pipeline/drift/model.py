"""Model drift: prediction drift (the model's outputs on reference vs current, judged by the data
drift rule) and concept drift (labels needed: has each feature's relation to the target changed, and
does the model now do worse, with a bootstrap interval from pipeline.core.resampling)."""

from __future__ import annotations

from typing import Any

from pipeline.core.schema import Schema
from pipeline.drift.data import data_drift, settings


def predictions(model, frame, schema: Schema):
    """The model's class probabilities and predicted class as a frame of drift columns."""
    import pandas as pd

    from pipeline.modeling.predict import predict_proba

    proba = predict_proba(model, frame, schema)
    classes = list(schema.classes)
    out = pd.DataFrame({f"proba_{c}": proba[:, i] for i, c in enumerate(classes)})
    out["predicted_class"] = pd.Series(proba.argmax(axis=1)).map(dict(enumerate(classes)))
    return out, proba


def prediction_drift(model, reference, current, schema: Schema, cfg: dict[str, Any]) -> dict[str, Any]:
    """The production model's outputs on reference vs current: class mix and per-class probabilities."""
    ref, _ = predictions(model, reference, schema)
    cur, _ = predictions(model, current, schema)
    numeric = [c for c in ref.columns if c.startswith("proba_")]
    result = data_drift(ref, cur, numeric, ["predicted_class"], cfg)
    mix = result["features"]["predicted_class"]["shares"]
    return {
        "drifted": result["n_drifted"] > 0,
        "drifted_outputs": result["drifted_features"],
        "class_mix": {c: mix.get(c, {"reference": 0.0, "current": 0.0}) for c in schema.classes},
        "mean_probability": {c.removeprefix("proba_"): result["features"][c]["mean"] for c in numeric},
        "outputs": result["features"],
    }


def concept_drift(model, reference, current, schema: Schema, cfg: dict[str, Any],
                  reference_performance: dict[str, Any] | None = None) -> dict[str, Any]:
    """Has the feature→target relation changed, and does the model now do worse? Needs labels.

    Relation: each numeric feature's Pearson correlation with the target's class index (classes in
    their params order, e.g. Bajo < Medio < Alto; point-biserial for a binary target), compared by
    Fisher's z-test with Benjamini–Hochberg, changed when also |Δr| ≥ concept.correlation_change;
    plus the target rate per reference-decile bin, for people. Performance: the model on the labelled
    current batch with a bootstrap interval, against `reference_performance` (its model card's test
    metrics: honest, held out) or else its score on the reference rows.
    """

    from pipeline.core import resampling, stats
    from pipeline.core.metrics import classification_metrics, lookup, require_costs

    cfg = settings(cfg)
    c_cfg = settings(cfg.get("concept"), "correlation_change", "performance_drop", "bootstrap",
                     "confidence")
    if schema.target not in current.columns or current[schema.target].notna().sum() == 0:
        return {"available": False, "reason": f"current batch has no labels ('{schema.target}')"}
    cur = current[current[schema.target].notna()]
    ref = reference[reference[schema.target].notna()] if schema.target in reference.columns else None
    classes = list(schema.classes)
    y_cur = schema.class_index(cur[schema.target])

    relations: dict[str, dict[str, Any]] = {}
    if ref is not None and len(ref) > 3 and len(cur) > 3:
        y_ref = schema.class_index(ref[schema.target])
        for col in schema.numeric:
            relations[col] = _relation(ref[col], y_ref, cur[col], y_cur, int(cfg["psi_bins"]))
        tested = [c for c in relations if relations[c]["pvalue"] is not None]
        adjusted = stats.benjamini_hochberg([relations[c]["pvalue"] for c in tested])
        for col, q in zip(tested, adjusted, strict=True):
            r = relations[col]
            r["pvalue_adjusted"] = float(q)
            r["changed"] = bool(q <= cfg["alpha"] and abs(r["correlation"]["diff"])
                                >= c_cfg["correlation_change"])
    changed = sorted((c for c in relations if relations[c].get("changed")),
                     key=lambda c: -abs(relations[c]["correlation"]["diff"]))

    metric = c_cfg.get("metric") or "accuracy"
    require_costs(metric, schema.costs, "drift.concept.metric (null: train.primary_metric)")
    _, proba = predictions(model, cur, schema)
    current_values = classification_metrics(y_cur, proba, classes, schema.costs)
    performance: dict[str, Any] = {"metric": metric, "current": lookup(current_values, metric),
                                   "rows": int(len(y_cur))}
    if "expected_cost" in current_values:  # schema.costs set: what the decisions cost, whatever the metric
        performance["expected_cost"] = current_values["expected_cost"]
    lo, hi = resampling.bootstrap_interval(y_cur, proba, classes, metric, int(c_cfg["bootstrap"]),
                                float(c_cfg["confidence"]), int(cfg["seed"]), schema.costs)
    performance["current_ci"] = [lo, hi]
    try:  # a card may lack the metric (an expected cost before schema.costs was set)
        card_value = None if reference_performance is None else lookup(reference_performance, metric)
    except KeyError:
        card_value = None
    if card_value is not None:
        performance["reference"] = card_value
        performance["reference_source"] = "model card (test holdout)"
    elif ref is not None and len(ref):
        _, ref_proba = predictions(model, ref, schema)
        performance["reference"] = lookup(classification_metrics(schema.class_index(ref[schema.target]),
                                                                 ref_proba, classes, schema.costs), metric)
        performance["reference_source"] = "reference rows (in-sample when they are the training data)"
    degraded = False
    if performance.get("reference") is not None:
        from pipeline.core.metrics import higher_is_better

        sign = 1 if higher_is_better(metric) else -1
        ref_value = performance["reference"]
        performance["diff"] = performance["current"] - ref_value
        performance["diff_ci"] = [lo - ref_value, hi - ref_value]
        # worse by at least the threshold, and the interval excludes "no worse"
        worse_bound = hi - ref_value if sign > 0 else -(lo - ref_value)
        degraded = bool(-sign * performance["diff"] >= c_cfg["performance_drop"] and worse_bound < 0)
    performance["degraded"] = degraded
    return {
        "available": True,
        "drifted": bool(changed) or degraded,
        "changed_relations": changed,
        "relations": relations,
        "performance": performance,
        "thresholds": {"correlation_change": c_cfg["correlation_change"],
                       "performance_drop": c_cfg["performance_drop"], "alpha": cfg["alpha"],
                       "confidence": c_cfg["confidence"]},
    }


def _relation(ref_x, y_ref, cur_x, y_cur, bins: int) -> dict[str, Any]:
    """Correlation with the ordinal target (Fisher z-test of the change) and target mean per bin."""
    import numpy as np
    from scipy import special

    from pipeline.core import stats

    def corr(x, y):
        x = stats.as_float(x)
        keep = ~np.isnan(x)
        x, y = x[keep], y[keep].astype(float)
        if x.size < 4 or x.std() == 0 or y.std() == 0:
            return None, int(x.size), x, y
        return float(np.corrcoef(x, y)[0, 1]), int(x.size), x, y

    r1, n1, x1, t1 = corr(ref_x, y_ref)
    r2, n2, x2, t2 = corr(cur_x, y_cur)
    out: dict[str, Any] = {"correlation": {"reference": r1, "current": r2,
                                           "diff": (r2 - r1) if None not in (r1, r2) else 0.0},
                           "pvalue": None, "changed": False}
    if r1 is not None and r2 is not None:
        z1, z2 = np.arctanh(np.clip([r1, r2], -0.999999, 0.999999))
        z = (z2 - z1) / np.sqrt(1 / (n1 - 3) + 1 / (n2 - 3))
        out["pvalue"] = float(2 * special.ndtr(-abs(z)))
    if x1.size and x2.size:
        edges, _, _ = stats.quantile_bins(np.sort(x1), np.sort(x2), bins)
        b1, b2 = np.searchsorted(edges, x1, side="left"), np.searchsorted(edges, x2, side="left")
        k = edges.size + 1

        def mean_per_bin(b, t):
            counts = np.bincount(b, minlength=k)
            sums = np.bincount(b, weights=t, minlength=k)
            return [float(s / c) if c else None for s, c in zip(sums, counts, strict=True)]

        out["target_mean_by_bin"] = {"edges": edges.tolist(), "reference": mean_per_bin(b1, t1),
                                     "current": mean_per_bin(b2, t2)}
    return out
