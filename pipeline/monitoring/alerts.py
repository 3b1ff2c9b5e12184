"""Alerts: findings about the production model, not errors (the monitor exits 0 with them).

A metric below its floor for `consecutive` labelled periods, data drift above a share of features,
too many low-confidence predictions, an old model, a change point in accuracy (ADWIN), and the
retrospective A/B finding the current version worse than the previous one. Every threshold comes
from params.yaml's `monitor` block; `thresholds` reads it once (a missing key is an error naming it).
"""

from __future__ import annotations

from typing import Any

from pipeline import params as P
from pipeline.errors import PipelineError


def floor_value(spec: Any, baseline: float | None) -> float | None:
    """A floor from params: a number or {min: m} is absolute; {drop: d} is `d` below the model's own
    test score (its card); with both, the higher one."""
    if isinstance(spec, (int, float)):
        return float(spec)
    if not isinstance(spec, dict):
        raise PipelineError(f"params.yaml: monitor floor {spec!r}: expected a number or {{min, drop}}")
    candidates = []
    if spec.get("min") is not None:
        candidates.append(float(spec["min"]))
    if spec.get("drop") is not None and baseline is not None:
        candidates.append(baseline - float(spec["drop"]))
    return max(candidates) if candidates else None


def thresholds(params: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Every alert and trigger threshold, floors resolved against the model's test scores (`baseline`)."""
    from pipeline.core.metrics import lookup

    def knob(*keys: str) -> Any:
        return P.section(params, "monitor", *keys)

    def base(metric):
        try:
            return lookup(baseline, metric)
        except KeyError:
            return None

    for key in ("confidence", "resamples"):  # read period by period (scoring.score_period)
        knob("label_free", key)
    floors = {m: floor_value(spec, base(m)) for m, spec in (knob("floors") or {}).items()}
    trig_floors = {m: floor_value(spec, base(m)) for m, spec in (knob("triggers", "floors") or {}).items()}
    return {"floors": floors, "consecutive": int(knob("consecutive")),
            "trigger_floors": trig_floors, "min_new_rows": int(knob("triggers", "min_new_rows")),
            "low_confidence_threshold": float(knob("low_confidence", "threshold")),
            "low_confidence_max_count": int(knob("low_confidence", "max_count")),
            "low_confidence_max_share": float(knob("low_confidence", "max_share")),
            "max_drift_share": float(knob("max_drift_share")),
            "max_model_age_days": int(knob("max_model_age_days")),
            "trigger_max_model_age_days": int(knob("triggers", "max_model_age_days")),
            "adwin_delta": float(knob("adwin_delta"))}


def metric_value(period: dict[str, Any], metric: str) -> float | None:
    """A period's metric, per-class ones (`f1_<class>`, `recall_<class>`) included; None when absent."""
    from pipeline.core.metrics import lookup

    if period.get(metric) is not None:
        return period[metric]
    try:
        return lookup({"per_class": period.get("per_class", {})}, metric)
    except KeyError:
        return None


def floor_streaks(thresholds: dict[str, Any], periods: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per floored metric, the labelled periods below the floor in a row up to the newest one."""
    labelled = [p for p in periods if p.get("labelled_rows")]
    out = {}
    for metric, floor in thresholds["floors"].items():
        if floor is None:
            continue
        streak: list[str] = []
        for p in labelled:
            value = metric_value(p, metric)
            streak = streak + [p["period"]] if value is not None and value < floor else []
        out[metric] = streak
    return out


def alerts(t: dict[str, Any], periods: list[dict[str, Any]], age_days: int, hold_correct,
           correctness: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """The alerts of a run: `t` from `thresholds`; `hold_correct` and `correctness` (per period) are
    the per-row correctness ADWIN reads, the held-out rows first."""
    from pipeline.monitoring.scoring import adwin_changes

    out: list[dict[str, Any]] = []
    for metric, streak in floor_streaks(t, periods).items():
        floor = t["floors"][metric]
        if len(streak) >= t["consecutive"]:
            out.append({"name": "metric_floor", "metric": metric, "severity": "critical",
                        "periods": streak, "threshold": round(floor, 6),
                        "message": f"{metric} below {floor:.4f} for {len(streak)} consecutive periods "
                                   f"({', '.join(streak)})"})
    for p in periods:
        share = p.get("drift_share")
        if share is not None and share > t["max_drift_share"]:
            names = ", ".join(p["data_drift"].get("drifted_features") or [])
            out.append({"name": "data_drift", "severity": "warning", "periods": [p["period"]],
                        "value": share, "threshold": t["max_drift_share"],
                        "message": f"{p['period']}: data drift in {p['drifted_features']} features "
                                   f"(share {share:.2f} > {t['max_drift_share']}): {names}"})
        if (p["low_confidence_count"] > t["low_confidence_max_count"]
                and p["low_confidence_share"] > t["low_confidence_max_share"]):
            out.append({"name": "low_confidence", "severity": "warning", "periods": [p["period"]],
                        "value": p["low_confidence_count"],
                        "threshold": t["low_confidence_max_count"],
                        "message": f"{p['period']}: {p['low_confidence_count']} low-confidence "
                                   f"predictions (top-class probability < "
                                   f"{t['low_confidence_threshold']}; {p['low_confidence_share']:.1%})"})
    if age_days > t["max_model_age_days"]:
        out.append({"name": "model_age", "severity": "warning", "value": age_days,
                    "threshold": t["max_model_age_days"],
                    "message": f"the production model is {age_days} days old "
                               f"(more than {t['max_model_age_days']})"})
    segments = ([("holdout", hold_correct)] if hold_correct is not None else []) + correctness
    changes = [c for c in adwin_changes(segments, t["adwin_delta"]) if c["detected_in"] != "holdout"]
    falls = [c for c in changes if c["direction"] == "down"]
    if falls:
        c = falls[-1]
        out.append({"name": "change_point", "severity": "warning", "periods": [c["period"]],
                    "value": c["accuracy_after"], "detections": changes,
                    "message": f"ADWIN change point in accuracy at {c['period']} (detected in "
                               f"{c['detected_in']}): {c['accuracy_before']:.3f} before, "
                               f"{c['accuracy_after']:.3f} after"})
    return out


def ab_alert(ab: dict[str, Any] | None) -> dict[str, Any] | None:
    """The critical alert when the retrospective A/B found the current version significantly worse."""
    if not ab or ab.get("verdict") != "worse":
        return None
    return {"name": "ab_worse", "severity": "critical",
            "message": f"{ab['current']} is significantly less accurate than {ab['previous']} "
                       f"on the same rows ({ab['difference']:+.4f}, CI {ab['ci_low']:+.4f} to "
                       f"{ab['ci_high']:+.4f}): roll back with `{ab['rollback']}`"}
