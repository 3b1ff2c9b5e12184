"""The monitor's files: what the scheduled workflow commits, the issue it opens, what Prometheus reads.

`history.csv` (one row per model and period, upserted: a rerun replaces its rows, and rows kept
from earlier runs go back byte for byte), `metrics.png` (metrics over time, thresholds drawn),
`latest.json` (the whole report), `issue.md` (the body of the one open monitoring issue), and on
request the Prometheus text exposition format. Their names: pipeline/config.py (MONITOR_*).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipeline.config import MONITOR_HISTORY, MONITOR_ISSUE, MONITOR_LATEST, MONITOR_PLOT
from pipeline.errors import PipelineError
from pipeline.monitoring.alerts import floor_streaks

FILES = {"history": MONITOR_HISTORY.name, "latest": MONITOR_LATEST.name, "plot": MONITOR_PLOT.name,
         "issue": MONITOR_ISSUE.name}
# Columns every history row has; per-class F1 columns (f1_<class>) follow the schema's classes.
HISTORY_KEY = ("model_sha", "period")
HISTORY_COLUMNS = ["model_version", "model_sha", "period", "run_date", "rows", "labelled_rows",
                   "accuracy", "f1_weighted", "roc_auc", "ece", "expected_cost", "estimated_accuracy",
                   "low_confidence_count", "low_confidence_share", "drift_share", "drifted_features",
                   "drift_recommendation", "prediction_drift"]


def write(out_dir: Path, report: dict[str, Any], schema, now: dt.date, prometheus: Path | None) -> None:
    """Every file of a run: history upserted, plot, latest.json, issue.md (and the Prometheus text)."""
    from pipeline.core.files import write_json, write_text

    out_dir = Path(out_dir)
    m = report["model"]
    rows = [history_row(p, m["version"], m["sha256"], now, schema) for p in report["periods"]]
    history = upsert_history(out_dir / FILES["history"], rows)
    plot_history(out_dir / FILES["plot"], history, report["thresholds"])
    write_json(out_dir / FILES["latest"], jsonable(report))
    write_text(out_dir / FILES["issue"], issue_markdown(report))
    if prometheus:
        write_text(prometheus, prometheus_text(report))


def history_row(p: dict[str, Any], version: str, sha: str, now: dt.date, schema) -> dict[str, Any]:
    row = {"model_version": version, "model_sha": sha[:12], "period": p["period"],
           "run_date": now.isoformat()}
    for key in HISTORY_COLUMNS[4:]:
        if key in p:
            row[key] = p[key]
    for cls in schema.classes:
        row[f"f1_{cls}"] = (p.get("f1_per_class") or {}).get(cls)
    return row


def upsert_history(path: Path, rows: list[dict[str, Any]]):
    """One row per (model, period): a rerun replaces its rows instead of appending duplicates."""
    import pandas as pd

    from pipeline.core.files import write_frame

    new = pd.DataFrame(rows)
    for col in new.select_dtypes("float").columns:
        new[col] = new[col].round(6)
    if path.exists() and path.stat().st_size:
        # as text: rows kept from earlier runs go back byte for byte (no date or float re-parsing)
        try:
            old = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PipelineError(f"{path}: cannot be read as CSV ({exc}); fix or remove it") from None
        missing = [k for k in HISTORY_KEY if k not in old.columns]
        if missing:
            raise PipelineError(f"{path}: column '{missing[0]}': required in the monitoring history")
        if len(new):
            keys = set(zip(new["model_sha"].astype(str), new["period"].astype(str), strict=True))
            mask = [k not in keys for k in zip(old["model_sha"], old["period"], strict=True)]
            old = old[mask]
        frames = [f for f in (old, new) if len(f)]
        merged = pd.concat(frames, ignore_index=True) if frames else old
    else:
        merged = new
    if not len(merged.columns):
        merged = pd.DataFrame(columns=HISTORY_COLUMNS)
    columns = [c for c in HISTORY_COLUMNS if c in merged.columns]
    columns += sorted(c for c in merged.columns if c not in columns)
    merged = merged[columns].sort_values(["period", "run_date", "model_sha"], kind="stable")
    write_frame(path, merged.reset_index(drop=True))
    return merged.reset_index(drop=True)


def plot_history(path: Path, history, thresholds: dict[str, Any]) -> None:
    """Metrics over time per model version, with the alert thresholds drawn."""
    import pandas as pd

    from pipeline.core.files import save_figure
    from pipeline.core.plots import pyplot

    history = history.copy()
    for col in ("accuracy", "estimated_accuracy", "f1_weighted", "drift_share", "low_confidence_count"):
        if col in history:
            history[col] = pd.to_numeric(history[col], errors="coerce")
    plt = pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(7.5, 8), sharex=True)
    periods = sorted(set(history["period"].astype(str))) if len(history) else []
    x = {p: i for i, p in enumerate(periods)}
    for version, rows in history.groupby("model_version", sort=False) if len(history) else []:
        xs = [x[str(p)] for p in rows["period"]]
        for col, style in (("accuracy", "o-"), ("estimated_accuracy", "x--"), ("f1_weighted", "s:")):
            if col in rows and rows[col].notna().any():
                axes[0].plot(xs, rows[col], style, label=f"{version} {col.replace('_', ' ')}")
        if "drift_share" in rows and rows["drift_share"].notna().any():
            axes[1].plot(xs, rows["drift_share"], "o-", label=f"{version} drift share")
        axes[2].plot(xs, rows["low_confidence_count"], "o-", label=f"{version} low-confidence")
    for metric, floor in thresholds["floors"].items():
        if floor is not None and metric in ("accuracy", "f1_weighted"):
            axes[0].axhline(floor, color="red", lw=1, ls="--", label=f"{metric} floor {floor:.3f}")
    for metric, floor in thresholds["trigger_floors"].items():
        if floor is not None and metric in ("accuracy", "f1_weighted"):
            axes[0].axhline(floor, color="orange", lw=1, ls=":", label=f"retrain below {floor:.3f}")
    axes[1].axhline(thresholds["max_drift_share"], color="red", lw=1, ls="--", label="drift alert")
    axes[2].axhline(thresholds["low_confidence_max_count"], color="red", lw=1, ls="--",
                    label="low-confidence alert")
    axes[0].set_ylabel("score")
    axes[1].set_ylabel("share of features drifted")
    axes[2].set_ylabel("predictions")
    axes[0].set_title("Production model, period by period")
    for ax in axes:
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    axes[2].set_xticks(range(len(periods)), periods, rotation=45)
    save_figure(path, fig)


def estimate_text(p: dict[str, Any]) -> str:
    """The label-free estimate with its interval, e.g. `0.8512 [0.8301, 0.8723]`."""
    est, low, high = (p.get(f"estimated_accuracy{k}") for k in ("", "_low", "_high"))
    if est is None:
        return "–"
    return f"{est:.4f}" + ("" if low is None or high is None else f" [{low:.4f}, {high:.4f}]")


def issue_markdown(report: dict[str, Any]) -> str:
    """The body of the one open monitoring issue (the workflow appends the plot's link)."""
    m = report["model"]
    lines = [f"## Model monitoring, {report['run']['period']}", "",
             f"Production model **{m['version']}** ({m['family']}, sha256 `{m['sha256'][:12]}`), "
             f"in production since {m['promoted'][:10]} ({m['age_days']} days).", "",
             f"**Decision: {report['decision']}**" + (": " + "; ".join(report["reasons"])
                                                      if report["reasons"] else ""), ""]
    if report["alerts"]:
        lines += ["### Alerts", "", "| alert | severity | detail |", "| --- | --- | --- |"]
        lines += [f"| {a['name']} | {a['severity']} | {a['message']} |" for a in report["alerts"]]
        lines.append("")
    else:
        lines += ["No alerts.", ""]
    cost = any(p.get("expected_cost") is not None for p in report["periods"])  # schema.costs set
    lines += ["### Periods", "",
              "| period | rows | accuracy | estimated | f1 weighted | ECE | "
              + ("expected cost | " if cost else "") + "low-conf. | drift share |",
              "| --- |" + " ---: |" * (8 if cost else 7)]

    def f(v, spec=".4f"):
        return "–" if v is None else format(v, spec)

    for p in report["periods"]:
        lines.append(f"| {p['period']} | {p['rows']} | {f(p.get('accuracy'))} | "
                     f"{estimate_text(p)} | {f(p.get('f1_weighted'))} | {f(p.get('ece'))} | "
                     + (f"{f(p.get('expected_cost'))} | " if cost else "")
                     + f"{p['low_confidence_count']} | {f(p.get('drift_share'), '.2f')} |")
    ab = report.get("ab_test")
    if ab and "difference" in ab:
        lines += ["", f"### Retrospective A/B: {ab['current']} vs {ab['previous']}", "",
                  f"Accuracy {ab['current_accuracy']:.4f} vs {ab['previous_accuracy']:.4f} on "
                  f"{ab['rows']} rows ({', '.join(ab['periods'])}): difference {ab['difference']:+.4f}, "
                  f"{ab['confidence']:.0%} CI [{ab['ci_low']:+.4f}, {ab['ci_high']:+.4f}]: "
                  f"**{ab['verdict']}**."]
        if ab.get("rollback"):
            lines += ["", f"Roll back: `{ab['rollback']}` (then push; the promote workflow registers "
                          "the rollback)."]
    lines += ["", "The estimated accuracy is label-free (calibrated confidence, the CBPE idea): it "
              "follows covariate shift but cannot see concept drift."]
    return "\n".join(lines) + "\n"


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def prometheus_text(report: dict[str, Any]) -> str:
    """Prometheus text exposition format (textfile collector / Pushgateway): gauges with labels."""
    version = report["model"]["version"]
    latest = report["periods"][-1]["period"] if report["periods"] else None
    families: list[tuple[str, str, list[tuple[dict[str, str], float]]]] = []

    def per_period(name: str, help_text: str, key: str) -> None:
        samples = [({"model_version": version, "period": p["period"]}, float(p[key]))
                   for p in report["periods"] if p.get(key) is not None and not isinstance(p[key], str)]
        families.append((name, help_text, samples))

    per_period("model_accuracy", "Accuracy of the production model on a labelled period.", "accuracy")
    per_period("model_f1_weighted", "Weighted F1 of the production model on a labelled period.",
               "f1_weighted")
    per_period("model_roc_auc", "One-vs-rest weighted ROC-AUC on a labelled period.", "roc_auc")
    per_period("model_calibration_error", "Expected calibration error of the top-class confidence.", "ece")
    per_period("model_expected_cost", "Mean cost per applicant of the decisions (params schema.costs).",
               "expected_cost")
    per_period("model_estimated_accuracy", "Label-free accuracy estimate (calibrated confidence).",
               "estimated_accuracy")
    per_period("model_low_confidence_predictions", "Predictions whose top-class probability is below "
               "the threshold.", "low_confidence_count")
    per_period("model_low_confidence_share", "Share of low-confidence predictions.", "low_confidence_share")
    per_period("model_drift_share", "Share of features drifted against the training window.", "drift_share")
    per_period("model_labelled_rows", "Labelled rows scored in a period.", "labelled_rows")
    families.append(("model_monitor_latest_period_info", "The newest monitored period (join on it).",
                     [({"model_version": version, "period": latest}, 1.0)] if latest else []))
    families.append(("model_periods_below_floor", "Consecutive labelled periods below the metric floor, "
                     "up to the newest.",
                     [({"model_version": version, "metric": m}, float(len(streak)))
                      for m, streak in floor_streaks(report["thresholds"], report["periods"]).items()]))
    families.append(("model_age_seconds", "Time since the production model was promoted (whole days).",
                     [({"model_version": version}, float(report["model"]["age_days"] * 86400))]))
    families.append(("model_adwin_change_detected", "1 when ADWIN found a drop in accuracy.",
                     [({"model_version": version},
                       float(any(a["name"] == "change_point" for a in report["alerts"])))]))
    families.append(("model_retrain_due", "1 when a retraining trigger fired.",
                     [({"model_version": version}, float(report["decision"] == "retrain"))]))
    ab = report.get("ab_test") or {}
    families.append(("model_ab_rollback_recommended", "1 when the retrospective A/B test found the "
                     "current version significantly worse than the previous one.",
                     [({"model_version": version}, float(ab.get("verdict") == "worse"))]))
    names = sorted({a["name"] for a in report["alerts"]})
    families.append(("model_monitor_alerts", "Alerts raised by the last monitoring run, by name.",
                     [({"model_version": version, "alert": n},
                       float(sum(a["name"] == n for a in report["alerts"]))) for n in names]))
    lines = []
    for name, help_text, samples in families:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for labels, value in samples:
            body = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{body}}} {value:.10g}")
    return "\n".join(lines) + "\n"


def jsonable(value: Any) -> Any:
    """The report as JSON holds it: numpy scalars as Python numbers, NaN and infinities as null,
    floats rounded (pipeline.core.metrics.rounded) so a rerun's diff shows real changes only."""
    import math

    from pipeline.core.metrics import rounded

    def clean(v):
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    return rounded(clean(value))
