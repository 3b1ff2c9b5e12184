"""The retraining decision: `retrain` when any trigger fires, else `wait`, with every trigger's reason.

Triggers (params.yaml `monitor.triggers`): the newest labelled period below a floor with enough new
labelled rows, the drift stage's recommendation (or the drift alert held for some periods in a
row), the model's age, and a request (`--force-retrain`).
"""

from __future__ import annotations

from typing import Any

from pipeline import params as P
from pipeline.monitoring.alerts import metric_value


def triggers(params: dict[str, Any], t: dict[str, Any], periods: list[dict[str, Any]], age_days: int,
             force: bool) -> list[dict[str, Any]]:
    """Every trigger, fired or not, with its reason; `t` from `alerts.thresholds`."""
    labelled = [p for p in periods if p.get("labelled_rows")]
    new_rows = sum(p["labelled_rows"] for p in labelled)
    out = []
    for metric, floor in t["trigger_floors"].items():
        latest = labelled[-1] if labelled else None
        value = None if latest is None else metric_value(latest, metric)
        fired = (value is not None and floor is not None and value < floor
                 and new_rows > t["min_new_rows"])
        out.append({"name": f"{metric}_below", "fired": bool(fired),
                    "reason": (f"{metric} {value:.4f} in {latest['period']} is below {floor:.4f} and "
                               f"{new_rows} new labelled rows > {t['min_new_rows']}") if fired else
                    f"{metric} {'n/a' if value is None else f'{value:.4f}'} vs floor "
                    f"{'n/a' if floor is None else f'{floor:.4f}'}, {new_rows} new labelled rows"})
    out.append(_drift_trigger(params, t, periods))
    limit = t["trigger_max_model_age_days"]
    out.append({"name": "model_age", "fired": age_days > limit,
                "reason": f"model is {age_days} days old (limit {limit})"})
    if force:
        out.append({"name": "forced", "fired": True, "reason": "retraining requested (--force-retrain)"})
    return out


def _drift_trigger(params: dict[str, Any], t: dict[str, Any],
                   periods: list[dict[str, Any]]) -> dict[str, Any]:
    """The drift stage's recommendation in the newest period that has one (null in params: off), or
    the drift alert held for `sustained_drift_periods` trailing periods (0 or null: off)."""
    wanted = P.section(params, "monitor", "triggers", "drift_recommendation")
    sustained = int(P.section(params, "monitor", "triggers", "sustained_drift_periods") or 0)
    latest_drift = next((p for p in reversed(periods) if p.get("drift_recommendation")), None)
    streak: list[str] = []
    for p in periods:  # trailing periods whose drift share is above the alert threshold
        share = p.get("drift_share")
        streak = streak + [p["period"]] if share is not None and share > t["max_drift_share"] else []
    if latest_drift and wanted and latest_drift["drift_recommendation"] == wanted:
        return {"name": "drift", "fired": True,
                "reason": f"drift recommendation '{wanted}' in {latest_drift['period']}"}
    if sustained and len(streak) >= sustained:
        return {"name": "drift", "fired": True,
                "reason": f"data drift above {t['max_drift_share']} for {len(streak)} consecutive "
                          f"periods ({', '.join(streak)})"}
    return {"name": "drift", "fired": False,
            "reason": f"drift recommendation '{latest_drift['drift_recommendation']}' in "
                      f"{latest_drift['period']}" if latest_drift else "no drift result"}


def decision(fired: list[dict[str, Any]]) -> str:
    """`retrain` when any trigger fired, else `wait`."""
    return "retrain" if any(t["fired"] for t in fired) else "wait"
