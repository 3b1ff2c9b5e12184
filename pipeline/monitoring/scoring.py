"""Every number for one period, and the statistics behind them.

Per period: accuracy, F1 (weighted and per class), ROC-AUC, calibration (ECE), low-confidence
predictions, data and prediction drift against the training window, and a label-free estimate of
the accuracy (the CBPE idea): the mean of the top-class confidence after calibration (an isotonic
map from confidence to correctness, fitted on the model's held-out rows). It is an estimate: it
sees covariate shift, not concept drift. ADWIN (from `river`) looks for a change point in the
stream of per-row correctness.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError


def ece(y, proba) -> float:
    """Expected calibration error of the top-class confidence (10 equal-width bins)."""
    from pipeline.core.plots import calibration

    rows = calibration(y, proba)
    total = sum(r["rows"] for r in rows)
    gaps = sum(r["rows"] * abs(r["accuracy"] - r["confidence"]) for r in rows)
    return float(gaps / total) if total else 0.0


def confidence_calibrator(y, proba):
    """Isotonic map from top-class confidence to the chance of being right (CBPE's calibration)."""
    return _isotonic(proba.max(axis=1), (proba.argmax(axis=1) == y).astype(float))


def _isotonic(confidence, right):
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(confidence, right)


def estimated_accuracy(proba, calibration, confidence: float | None = None, resamples: int | None = None,
                       seed: int = 0) -> dict[str, Any]:
    """CBPE: expected accuracy = mean calibrated top-class confidence, with an interval for the
    accuracy the period will show once labelled. Two sources of error: the calibration map itself
    (refitted on `resamples` bootstrap resamples of the held-out rows) and the period's own rows
    (each right with its calibrated probability: variance sum p(1-p) / n^2). `calibration`: the
    held-out (y, proba); None gives the raw mean confidence and no interval (and needs neither
    `confidence` nor `resamples`, params.yaml's monitor.label_free)."""
    import numpy as np
    from scipy import special

    conf = proba.max(axis=1)
    if calibration is None:
        return {"estimate": float(conf.mean()), "interval": None, "calibration_rows": 0}
    hy, hp = calibration
    c_conf, c_right = hp.max(axis=1), (hp.argmax(axis=1) == hy).astype(float)
    p = _isotonic(c_conf, c_right).predict(conf)
    rng = np.random.default_rng(seed)
    n = len(hy)
    boots = [_isotonic(c_conf[i], c_right[i]).predict(conf).mean()
             for i in (rng.integers(0, n, n) for _ in range(resamples))]
    var = float(np.var(boots, ddof=1)) + float((p * (1 - p)).sum()) / len(p) ** 2
    half = float(special.ndtri(0.5 + confidence / 2)) * var ** 0.5
    est = float(p.mean())
    return {"estimate": est, "interval": [max(0.0, est - half), min(1.0, est + half)],
            "calibration_rows": int(n), "confidence": confidence}


def adwin_changes(segments: list[tuple[str, Any]], delta: float) -> list[dict[str, Any]]:
    """ADWIN (river) over per-row correctness, segment after segment (holdout, then each period).

    On a detection ADWIN drops the older part of its window; the cut is where the change happened.
    Each change: the period of the cut, the period it was detected in, and the accuracy of the
    dropped part vs the kept part."""
    import numpy as np
    from river.drift import ADWIN

    if not segments:
        return []
    stream = np.concatenate([np.asarray(c, dtype=float) for _, c in segments])
    owner = np.concatenate([np.full(len(c), i) for i, (_, c) in enumerate(segments)])
    detector = ADWIN(delta=delta)
    changes, start = [], 0
    for i, value in enumerate(stream):
        detector.update(float(value))
        if detector.drift_detected:
            cut = i + 1 - int(detector.width)
            before, after = stream[start:cut], stream[cut:i + 1]
            if len(before) and len(after):
                changes.append({"period": segments[owner[cut]][0], "detected_in": segments[owner[i]][0],
                                "row": int(cut), "accuracy_before": round(float(before.mean()), 6),
                                "accuracy_after": round(float(after.mean()), 6),
                                "direction": "down" if after.mean() < before.mean() else "up"})
            start = cut
    return changes


def score_period(path: Path, frame, model, schema, cfg: dict[str, Any], calibration, reference,
                 drift_cfg: dict[str, Any], held_out=None) -> tuple[dict[str, Any], Any]:
    """Every number for one period; returns the row and the per-row correctness (None if unlabelled).
    `cfg`: params.yaml's monitor block (checked whole by `alerts.thresholds` before a run)."""
    import numpy as np

    from pipeline.core.metrics import classification_metrics
    from pipeline.modeling.predict import predict_proba

    classes = list(schema.classes)
    proba = predict_proba(model, frame, schema)
    conf = proba.max(axis=1)
    low = int((conf < float(cfg["low_confidence"]["threshold"])).sum())
    lf = cfg["label_free"]
    estimate = estimated_accuracy(proba, calibration, float(lf["confidence"]), int(lf["resamples"]))
    low_est, high_est = estimate["interval"] or (None, None)
    row: dict[str, Any] = {"period": path.stem, "file": path.as_posix(), "rows": int(len(frame)),
                           "low_confidence_count": low,
                           "low_confidence_share": low / len(frame) if len(frame) else 0.0,
                           "estimated_accuracy": estimate["estimate"],
                           "estimated_accuracy_low": low_est, "estimated_accuracy_high": high_est,
                           "mean_confidence": float(conf.mean())}
    correct = None
    labelled = frame[schema.target].notna().to_numpy() if schema.target in frame.columns else \
        np.zeros(len(frame), dtype=bool)
    row["labelled_rows"] = int(labelled.sum())
    if labelled.any():
        try:
            y = schema.class_index(frame.loc[labelled, schema.target])
        except PipelineError as exc:
            raise PipelineError(f"{path}: {exc}") from None
        m = classification_metrics(y, proba[labelled], classes, schema.costs)
        row.update({k: m[k] for k in ("accuracy", "balanced_accuracy", "f1_weighted", "f1_macro",
                                      "roc_auc", "log_loss", "brier", "expected_cost") if k in m})
        row["f1_per_class"] = {c: m["per_class"][c]["f1"] for c in classes}
        row["per_class"] = m["per_class"]
        row["ece"] = ece(y, proba[labelled])
        correct = proba[labelled].argmax(axis=1) == y
    if reference is not None:
        row.update(_drift(model, frame, schema, reference, drift_cfg, held_out))
    return row, correct


def _drift(model, frame, schema, reference, drift_cfg: dict[str, Any], held_out) -> dict[str, Any]:
    """Data drift against the training window, and prediction drift (the model's outputs on the
    held-out rows, or on the window, against the period's)."""
    from pipeline.core.columns import ParquetColumns
    from pipeline.drift.data import data_drift
    from pipeline.drift.model import prediction_drift

    d = data_drift(reference, frame, list(schema.numeric), list(schema.categorical), drift_cfg)
    row: dict[str, Any] = {"data_drift": {k: d.get(k) for k in ("share_drifted", "n_drifted",
                                                                 "recommendation", "drifted_features")}}
    # per feature: effect size, its threshold, the verdict (the site's drift heat map)
    row["data_drift"]["features"] = {n: {"effect": f["effect"]["value"], "threshold": f["effect"][
        "threshold"], "drifted": f["drifted"]} for n, f in d["features"].items() if f.get("effect")}
    row["drift_share"] = d.get("share_drifted")
    row["drifted_features"] = d.get("n_drifted")
    row["drift_recommendation"] = d.get("recommendation")
    if isinstance(reference, ParquetColumns):  # streamed: the model needs whole rows
        row["prediction_drift_detail"] = {"reason": "training window streamed by column "
                                                    "(drift.in_memory_rows)"}
        row["prediction_drift"] = None
    else:
        pred = prediction_drift(model, reference if held_out is None else held_out, frame,
                                schema, drift_cfg)
        row["prediction_drift_detail"] = {k: v for k, v in pred.items() if k != "outputs"}
        row["prediction_drift"] = _prediction_drift_flag(pred)
    return row


def _prediction_drift_flag(result: Any) -> Any:
    """A single value for the history: the helper's verdict (`drifted`) or its score."""
    if isinstance(result, dict):
        for key in ("drifted", "detected", "drift"):
            if isinstance(result.get(key), bool):
                return result[key]
        for key in ("score", "psi", "jensen_shannon", "statistic"):
            if isinstance(result.get(key), (int, float)):
                return result[key]
    return None
