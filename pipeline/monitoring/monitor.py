"""Monitoring: the production model scored period by period on the batches that arrived after it.

`python -m pipeline monitor` (run monthly by .github/workflows/scheduled.yaml) loads the production
model of a git revision (`pipeline.core.revision.production`), finds the batches newer than its training
window and, per period, computes accuracy, F1 (weighted and per class), ROC-AUC, calibration (ECE),
low-confidence predictions, data drift and prediction drift against the training window. Then:

- alerts: a metric below its floor for `consecutive` periods, drift share above a threshold, too
  many low-confidence predictions, model age, and a change point (ADWIN, from `river`) in the stream
  of per-row correctness (the model's own test holdout first, then every monitored row in order);
- a label-free estimate for every period (the CBPE idea): the expected accuracy is the mean of the
  top-class confidence after calibration (an isotonic map from confidence to correctness, fitted on
  the model's test holdout). It is an estimate: it sees covariate shift, not concept drift;
- retraining triggers → a decision `retrain` / `wait` with its reasons;
- after a promotion, a retrospective A/B test against the previous version (`credit-risk@v*` tags) on
  the same rows: paired bootstrap confidence interval of the accuracy difference, and the
  `git revert` to run when the new version is significantly worse.

The monitor runs outside dvc.yaml (it is git-aware and scheduled); it keeps its history in git:
`history.csv` (one row per model and period, upserted), `latest.json`, `metrics.png`, `issue.md`,
and with `--prometheus FILE` the Prometheus text exposition format. Alerts are findings, not errors:
the exit code is 0 unless the input itself is bad.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.config import CARD_JSON, MONITORING
from pipeline.errors import PipelineError

OUT_DIR = MONITORING
HISTORY = "history.csv"
LATEST = "latest.json"
PLOT = "metrics.png"
ISSUE = "issue.md"
CARD = CARD_JSON.as_posix()
# Columns every history row has; per-class F1 columns (f1_<class>) follow the schema's classes.
HISTORY_KEY = ("model_sha", "period")
HISTORY_COLUMNS = ["model_version", "model_sha", "period", "run_date", "rows", "labelled_rows",
                   "accuracy", "f1_weighted", "roc_auc", "ece", "estimated_accuracy",
                   "low_confidence_count", "low_confidence_share", "drift_share", "drifted_features",
                   "drift_recommendation", "prediction_drift"]


@dataclass
class Deployment:
    """A registered version as it went into production: which tag, when, through which commit."""

    version: str
    tag: str
    date: dt.datetime
    commit: str


# --- git: versions, dates (the registry's tags, read by pipeline.gitops.registry) ---------------------------


def _git(*args: str) -> str:
    from pipeline.core.git import git

    return git(*args).strip()


def deployments(params: dict[str, Any], model_sha: str) -> tuple[Deployment | None, Deployment | None]:
    """The version holding the production model (`pipeline.gitops.registry.history`) and the version that
    was in production before it; (None, None) for an unregistered model."""
    from pipeline.gitops import registry

    hist = registry.history(registry.settings(params))
    names = {v.version for v in hist.versions.values() if v.sha256 == model_sha}
    events = [e for e in hist.events if e.kind in ("registered", "rollback")]
    last = max((i for i, e in enumerate(events) if e.version in names), default=None)
    if last is None:
        return None, None

    def deployment(event) -> Deployment:
        v = hist.versions[event.version]
        return Deployment(event.version, v.tag, dt.datetime.fromisoformat(event.date), event.commit)

    before = next((e for e in reversed(events[:last]) if e.version not in names
                   and hist.versions[e.version].sha256), None)
    return deployment(events[last]), deployment(before) if before else None


def model_date(commit: str, current: Deployment | None) -> dt.datetime:
    """When the model went into production: its registration (or rollback), else the commit that
    wrote its card."""
    if current is not None:
        return current.date
    text = _git("log", "-1", "--format=%cI", commit, "--", CARD) or _git("log", "-1", "--format=%cI", commit)
    return dt.datetime.fromisoformat(text)


def revert_command(commit: str) -> str:
    """The rollback: revert the promotion (a merge commit needs `-m 1`, the main-line parent)."""
    parents = _git("rev-list", "--parents", "-n", "1", commit).split()[1:]
    return f"git revert -m 1 {commit}" if len(parents) > 1 else f"git revert {commit}"


# --- data ----------------------------------------------------------------------------------------


def _read_verified(entry: dict[str, Any], commit: str):
    """A training-window file as the card recorded it: the work tree's copy if its sha256 matches,
    else the bytes at the model's commit (git or DVC); None when neither is available."""
    import io as _io

    import pandas as pd

    from pipeline.core.files import read_table, sha256
    from pipeline.core.revision import read_bytes

    path = Path(entry["path"])
    if path.exists() and sha256(path) == entry.get("sha256"):
        return read_table(path)
    data = read_bytes(entry["path"], commit)
    if data is None:
        return None
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(_io.BytesIO(data))
    return pd.read_csv(_io.BytesIO(data), engine="pyarrow")


def _streamed_reference(entries: list[dict[str, Any]], drift_cfg: dict[str, Any]):
    """A training window of Parquet files over drift.in_memory_rows, unchanged in the work tree:
    its columns streamed (pipeline.core.columns) instead of one frame; None otherwise."""
    from pipeline.core import columns
    from pipeline.core.files import sha256
    from pipeline.stages import drift

    paths = [Path(e["path"]) for e in entries]
    if not columns.streamable(paths, int(drift.settings(drift_cfg)["in_memory_rows"])):
        return None
    if any(sha256(p) != e.get("sha256") for p, e in zip(paths, entries, strict=True)):
        return None  # changed since training: the verified bytes come from git or DVC, in memory
    return columns.ParquetColumns(paths)


def select_batches(params: dict[str, Any], card: dict[str, Any], explicit: list[str] | None) -> list[Path]:
    """Batches to score: those given, else every batch newer than the newest training batch."""
    from pipeline.core.files import batch_files

    if explicit:
        paths = [Path(p) for p in explicit]
        for p in paths:
            if not p.exists():
                raise PipelineError(f"{p}: batch file not found (--batches)")
        return sorted(paths, key=lambda p: p.stem)
    data_cfg = P.section(params, "data")
    newest = max(Path(f["path"]).stem for f in card["data"]["files"])
    return [p for p in batch_files(data_cfg["batches_dir"], data_cfg.get("pattern", "*.csv"))
            if p.stem > newest]


def _check_columns(path: Path, frame, schema) -> None:
    missing = [c for c in schema.features if c not in frame.columns]
    if missing:
        raise PipelineError(f"{path}: column '{missing[0]}': required by the schema, not found "
                            f"({len(missing)} missing in all)")


def holdout(card: dict[str, Any], commit: str, schema):
    """Every row the model held out (its validation and test splits, from the bit masks in its card),
    or, for a card without masks, its test holdout rebuilt as `prepare` split it; and whether the
    rows are exactly known (masks) or rebuilt (to be checked against the card's test score)."""
    import pandas as pd

    from pipeline.stages.prepare import split, unpack_rows

    files = card.get("data", {}).get("files") or []
    if files and all(f.get("splits") and f.get("file_rows") for f in files):
        parts = []
        for entry in files:
            held = ~unpack_rows(entry["splits"]["train"], entry["file_rows"])
            if not held.any():
                continue
            frame = _read_verified(entry, commit)
            if frame is None or len(frame) != entry["file_rows"]:
                return None, False
            parts.append(frame[held].dropna(subset=[schema.target]))
        return (pd.concat(parts, ignore_index=True) if parts else None), True
    split_cfg = (card.get("params") or {}).get("split")
    seed = (card.get("training") or {}).get("seed")
    if not files or not split_cfg or seed is None:
        return None, False
    newest = max(files, key=lambda f: Path(f["path"]).stem)
    frame = _read_verified(newest, commit)
    if frame is None:
        return None, False
    frame = frame.dropna(subset=[schema.target])
    _, _, test = split([frame], schema, split_cfg, int(seed))
    return test, False


# --- statistics ----------------------------------------------------------------------------------


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


def estimated_accuracy(proba, calibration, confidence: float = 0.95, resamples: int = 200,
                       seed: int = 0) -> dict[str, Any]:
    """CBPE: expected accuracy = mean calibrated top-class confidence, with an interval for the
    accuracy the period will show once labelled. Two sources of error: the calibration map itself
    (refitted on `resamples` bootstrap resamples of the held-out rows) and the period's own rows
    (each right with its calibrated probability: variance sum p(1-p) / n^2). `calibration`: the
    held-out (y, proba); None gives the raw mean confidence and no interval."""
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


# --- the run -------------------------------------------------------------------------------------


def score_period(path: Path, frame, model, schema, cfg: dict[str, Any], calibration, reference,
                 drift_cfg: dict[str, Any], held_out=None) -> tuple[dict[str, Any], Any]:
    """Every number for one period; returns the row and the per-row correctness (None if unlabelled)."""
    import numpy as np

    from pipeline.core.metrics import classification_metrics
    from pipeline.stages.evaluate import predict_proba

    classes = list(schema.classes)
    proba = predict_proba(model, frame, schema)
    conf = proba.max(axis=1)
    lc = cfg.get("low_confidence", {})
    low = int((conf < float(lc.get("threshold", 0.6))).sum())
    lf = cfg.get("label_free") or {}
    estimate = estimated_accuracy(proba, calibration, float(lf.get("confidence", 0.95)),
                                  int(lf.get("resamples", 200)))
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
        m = classification_metrics(y, proba[labelled], classes)
        row.update({k: m[k] for k in ("accuracy", "balanced_accuracy", "f1_weighted", "f1_macro",
                                      "roc_auc", "log_loss", "brier")})
        row["f1_per_class"] = {c: m["per_class"][c]["f1"] for c in classes}
        row["per_class"] = m["per_class"]
        row["ece"] = ece(y, proba[labelled])
        correct = proba[labelled].argmax(axis=1) == y
    if reference is not None:
        from pipeline.core.columns import ParquetColumns
        from pipeline.stages import drift

        d = drift.data_drift(reference, frame, list(schema.numeric), list(schema.categorical), drift_cfg)
        row["data_drift"] = {k: d.get(k) for k in ("share_drifted", "n_drifted", "recommendation",
                                                   "drifted_features")}
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
            pred = drift.prediction_drift(model, reference if held_out is None else held_out, frame,
                                          schema, drift_cfg)
            row["prediction_drift_detail"] = {k: v for k, v in pred.items() if k != "outputs"}
            row["prediction_drift"] = _prediction_drift_flag(pred)
    return row, correct


def _estimate_text(p: dict[str, Any]) -> str:
    """The label-free estimate with its interval, e.g. `0.8512 [0.8301, 0.8723]`."""
    est, low, high = (p.get(f"estimated_accuracy{k}") for k in ("", "_low", "_high"))
    if est is None:
        return "–"
    return f"{est:.4f}" + ("" if low is None or high is None else f" [{low:.4f}, {high:.4f}]")


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


def run(params: dict[str, Any], rev: str | None = None, batches: list[str] | None = None,
        now: dt.date | None = None, out_dir: Path = OUT_DIR, prometheus: Path | None = None,
        force_retrain: bool = False) -> dict[str, Any]:
    import pandas as pd

    from pipeline.core.files import read_table, write_json, write_text
    from pipeline.core.revision import production
    from pipeline.core.schema import from_params
    from pipeline.gitops.registry import production_ref

    cfg = P.section(params, "monitor")
    schema = from_params(params)
    now = now or dt.datetime.now(dt.UTC).date()
    ref = production_ref(params, rev)
    source = ref.rev if rev else (ref.note or f"registry stage ({ref.rev})")
    rev = ref.rev
    prod = production(rev)
    if prod is None:
        raise PipelineError(f"git revision '{rev}': no production model ({CARD} and the model) yet "
                            "(run `dvc repro` and commit first)")
    card = prod.card
    model_sha = card["model"]["sha256"]
    current, previous = deployments(params, model_sha)
    version = current.version if current else f"unregistered-{model_sha[:8]}"
    promoted = model_date(prod.commit, current)
    age_days = max((now - promoted.date()).days, 0)  # --now before the promotion: age 0
    baseline = card.get("metrics", {}).get("test", {})

    # reference: the training window (drift), and the model's test holdout (calibration, ADWIN)
    drift_cfg = params.get("drift") or {}  # the drift stage's thresholds (its defaults when absent)
    reference = _streamed_reference(card["data"]["files"], drift_cfg)
    if reference is None:
        frames = [_read_verified(f, prod.commit) for f in card["data"]["files"]]
        reference = pd.concat(frames, ignore_index=True) if frames and all(f is not None for f in frames) \
            else None  # training files neither in the work tree nor at the model's commit: no drift
    hold, exact = holdout(card, prod.commit, schema)
    calibration, hold_correct, held_out = None, None, None
    if hold is not None and len(hold):
        from pipeline.stages.evaluate import predict_proba

        hp = predict_proba(prod.model, hold, schema)
        hy = schema.class_index(hold[schema.target])
        correct = hp.argmax(axis=1) == hy
        # a rebuilt holdout must give the card's own test accuracy, or it is not the same rows
        same = baseline.get("accuracy") is None or abs(float(correct.mean()) - baseline["accuracy"]) < 1e-5
        if exact or same:
            calibration, hold_correct = (hy, hp), correct
            held_out = hold if exact else None  # reference predictions for prediction drift

    paths = select_batches(params, card, batches)
    periods, correctness, frames_by_period = [], [], {}
    for path in paths:
        frame = read_table(path)
        _check_columns(path, frame, schema)
        row, correct = score_period(path, frame, prod.model, schema, cfg, calibration, reference, drift_cfg,
                                    held_out)
        periods.append(row)
        frames_by_period[row["period"]] = frame
        if correct is not None:
            correctness.append((row["period"], correct))

    alerts = _alerts(cfg, periods, baseline, age_days, hold_correct, correctness)
    triggers = _triggers(cfg, periods, baseline, age_days, force_retrain)
    decision = "retrain" if any(t["fired"] for t in triggers) else "wait"
    ab = _ab_test(cfg, prod, current, previous, schema, frames_by_period, periods,
                  int(params.get("seed", 0)))
    if ab and ab.get("verdict") == "worse":
        alerts.append({"name": "ab_worse", "severity": "critical",
                       "message": f"{ab['current']} is significantly less accurate than {ab['previous']} "
                                  f"on the same rows ({ab['difference']:+.4f}, CI {ab['ci_low']:+.4f} to "
                                  f"{ab['ci_high']:+.4f}): roll back with `{ab['rollback']}`"})

    report = {
        # no run-specific commit here: a rerun on the same day leaves the committed files unchanged
        "run": {"date": now.isoformat(), "period": now.strftime("%Y-%m")},
        "model": {"version": version, "tag": current.tag if current else None, "sha256": model_sha,
                  "source": source,
                  "commit": _git("log", "-1", "--format=%H", prod.commit, "--", CARD) or prod.commit,
                  "family": card["model"].get("family"), "promoted": promoted.isoformat(),
                  "age_days": age_days,
                  "training_window": [Path(f["path"]).stem for f in card["data"]["files"]],
                  "baseline": {k: baseline.get(k) for k in ("accuracy", "f1_weighted", "roc_auc")},
                  "calibration": (f"isotonic on {len(calibration[0])} held-out rows" + (
                      " (validation and test splits)" if exact else " (the test holdout)"))
                  if calibration is not None else
                  "none (holdout unavailable): estimates are the raw mean confidence"},
        "periods": periods,
        "alerts": alerts,
        "triggers": triggers,
        "decision": decision,
        "reasons": [t["reason"] for t in triggers if t["fired"]],
        "ab_test": ab,
        "drift_checked": reference is not None,
        "thresholds": _thresholds(cfg, baseline),
    }
    out_dir = Path(out_dir)
    history = upsert_history(out_dir / HISTORY, [_history_row(p, version, model_sha, now, schema)
                                                 for p in periods])
    plot_history(out_dir / PLOT, history, report["thresholds"])
    write_json(out_dir / LATEST, _jsonable(report))
    write_text(out_dir / ISSUE, issue_markdown(report))
    if prometheus:
        write_text(prometheus, prometheus_text(report))
    _github_output(report)
    return report


def _thresholds(cfg: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    from pipeline.core.metrics import lookup

    def base(metric):
        try:
            return lookup(baseline, metric)
        except KeyError:
            return None

    floors = {m: floor_value(spec, base(m)) for m, spec in (cfg.get("floors") or {}).items()}
    trig = cfg.get("triggers", {})
    trig_floors = {m: floor_value(spec, base(m)) for m, spec in (trig.get("floors") or {}).items()}
    lc = cfg.get("low_confidence", {})
    return {"floors": floors, "consecutive": int(cfg.get("consecutive", 2)),
            "trigger_floors": trig_floors, "min_new_rows": int(trig.get("min_new_rows", 0)),
            "low_confidence_threshold": float(lc.get("threshold", 0.6)),
            "low_confidence_max_count": int(lc.get("max_count", 150)),
            "low_confidence_max_share": float(lc.get("max_share", 0.0)),
            "max_drift_share": float(cfg.get("max_drift_share", 1.0)),
            "max_model_age_days": int(cfg.get("max_model_age_days", 90)),
            "trigger_max_model_age_days": int(trig.get("max_model_age_days",
                                                       cfg.get("max_model_age_days", 90))),
            "adwin_delta": float(cfg.get("adwin_delta", 0.002))}


def _alerts(cfg, periods, baseline, age_days, hold_correct, correctness) -> list[dict[str, Any]]:
    t = _thresholds(cfg, baseline)
    alerts: list[dict[str, Any]] = []
    for metric, streak in floor_streaks(t, periods).items():
        floor = t["floors"][metric]
        if len(streak) >= t["consecutive"]:
            alerts.append({"name": "metric_floor", "metric": metric, "severity": "critical",
                           "periods": streak, "threshold": round(floor, 6),
                           "message": f"{metric} below {floor:.4f} for {len(streak)} consecutive periods "
                                      f"({', '.join(streak)})"})
    for p in periods:
        share = p.get("drift_share")
        if share is not None and share > t["max_drift_share"]:
            names = ", ".join(p["data_drift"].get("drifted_features") or [])
            alerts.append({"name": "data_drift", "severity": "warning", "periods": [p["period"]],
                           "value": share, "threshold": t["max_drift_share"],
                           "message": f"{p['period']}: data drift in {p['drifted_features']} features "
                                      f"(share {share:.2f} > {t['max_drift_share']}): {names}"})
        if (p["low_confidence_count"] > t["low_confidence_max_count"]
                and p["low_confidence_share"] > t["low_confidence_max_share"]):
            alerts.append({"name": "low_confidence", "severity": "warning", "periods": [p["period"]],
                           "value": p["low_confidence_count"],
                           "threshold": t["low_confidence_max_count"],
                           "message": f"{p['period']}: {p['low_confidence_count']} low-confidence "
                                      f"predictions (top-class probability < "
                                      f"{t['low_confidence_threshold']}; {p['low_confidence_share']:.1%})"})
    if age_days > t["max_model_age_days"]:
        alerts.append({"name": "model_age", "severity": "warning", "value": age_days,
                       "threshold": t["max_model_age_days"],
                       "message": f"the production model is {age_days} days old "
                                  f"(more than {t['max_model_age_days']})"})
    segments = ([("holdout", hold_correct)] if hold_correct is not None else []) + correctness
    changes = [c for c in adwin_changes(segments, t["adwin_delta"]) if c["detected_in"] != "holdout"]
    falls = [c for c in changes if c["direction"] == "down"]
    if falls:
        c = falls[-1]
        alerts.append({"name": "change_point", "severity": "warning", "periods": [c["period"]],
                       "value": c["accuracy_after"], "detections": changes,
                       "message": f"ADWIN change point in accuracy at {c['period']} (detected in "
                                  f"{c['detected_in']}): {c['accuracy_before']:.3f} before, "
                                  f"{c['accuracy_after']:.3f} after"})
    return alerts


def floor_streaks(thresholds: dict[str, Any], periods: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per floored metric, the labelled periods below the floor in a row up to the newest one."""
    labelled = [p for p in periods if p.get("labelled_rows")]
    out = {}
    for metric, floor in thresholds["floors"].items():
        if floor is None:
            continue
        streak: list[str] = []
        for p in labelled:
            value = p[metric] if p.get(metric) is not None else _per_class(p, metric)
            streak = streak + [p["period"]] if value is not None and value < floor else []
        out[metric] = streak
    return out


def _per_class(period: dict[str, Any], metric: str) -> float | None:
    from pipeline.core.metrics import lookup

    try:
        return lookup({"per_class": period.get("per_class", {})}, metric)
    except KeyError:
        return None


def _triggers(cfg, periods, baseline, age_days, force) -> list[dict[str, Any]]:
    t = _thresholds(cfg, baseline)
    trig = cfg.get("triggers", {})
    labelled = [p for p in periods if p.get("labelled_rows")]
    new_rows = sum(p["labelled_rows"] for p in labelled)
    out = []
    for metric, floor in t["trigger_floors"].items():
        latest = labelled[-1] if labelled else None
        value = None if latest is None else (latest.get(metric) if latest.get(metric) is not None
                                             else _per_class(latest, metric))
        fired = (value is not None and floor is not None and value < floor
                 and new_rows > t["min_new_rows"])
        out.append({"name": f"{metric}_below", "fired": bool(fired),
                    "reason": (f"{metric} {value:.4f} in {latest['period']} is below {floor:.4f} and "
                               f"{new_rows} new labelled rows > {t['min_new_rows']}") if fired else
                    f"{metric} {'n/a' if value is None else f'{value:.4f}'} vs floor "
                    f"{'n/a' if floor is None else f'{floor:.4f}'}, {new_rows} new labelled rows"})
    wanted = trig.get("drift_recommendation", "retrain")
    latest_drift = next((p for p in reversed(periods) if p.get("drift_recommendation")), None)
    streak: list[str] = []
    for p in periods:  # trailing periods whose drift share is above the alert threshold
        share = p.get("drift_share")
        streak = streak + [p["period"]] if share is not None and share > t["max_drift_share"] else []
    sustained = int(trig.get("sustained_drift_periods", 0) or 0)
    if latest_drift and wanted and latest_drift["drift_recommendation"] == wanted:
        out.append({"name": "drift", "fired": True,
                    "reason": f"drift recommendation '{wanted}' in {latest_drift['period']}"})
    elif sustained and len(streak) >= sustained:
        out.append({"name": "drift", "fired": True,
                    "reason": f"data drift above {t['max_drift_share']} for {len(streak)} consecutive "
                              f"periods ({', '.join(streak)})"})
    else:
        out.append({"name": "drift", "fired": False,
                    "reason": f"drift recommendation '{latest_drift['drift_recommendation']}' in "
                              f"{latest_drift['period']}" if latest_drift else "no drift result"})
    limit = t["trigger_max_model_age_days"]
    out.append({"name": "model_age", "fired": age_days > limit,
                "reason": f"model is {age_days} days old (limit {limit})"})
    if force:
        out.append({"name": "forced", "fired": True, "reason": "retraining requested (--force-retrain)"})
    return out


def _ab_test(cfg, prod, current, previous, schema, frames, periods, seed) -> dict[str, Any] | None:
    """Retrospective A/B on the first N labelled periods after the promotion of the current version."""
    import numpy as np

    from pipeline.core.resampling import mcnemar, paired_bootstrap
    from pipeline.core.revision import production
    from pipeline.stages.evaluate import predict_proba

    if current is None or previous is None:
        return None
    ab_cfg = cfg.get("ab_test", {})
    n = int(ab_cfg.get("periods", 3))
    chosen = [p["period"] for p in periods if p.get("labelled_rows")][:n]
    result: dict[str, Any] = {"current": current.tag, "previous": previous.tag, "periods": chosen,
                              "planned_periods": n, "complete": len(chosen) >= n}
    if not chosen:
        return result | {"verdict": "waiting for labelled periods"}
    old = production(previous.commit)
    if old is None:
        return result | {"verdict": f"{previous.tag}: model unavailable"}
    ys, new_p, old_p, per_period = [], [], [], {}
    for name in chosen:
        frame = frames[name]
        frame = frame[frame[schema.target].notna()]
        y = schema.class_index(frame[schema.target])
        a, b = predict_proba(prod.model, frame, schema), predict_proba(old.model, frame, schema)
        per_period[name] = {"current": float((a.argmax(axis=1) == y).mean()),
                            "previous": float((b.argmax(axis=1) == y).mean()), "rows": int(len(y))}
        ys.append(y)
        new_p.append(a)
        old_p.append(b)
    y, a, b = np.concatenate(ys), np.concatenate(new_p), np.concatenate(old_p)
    conf = float(ab_cfg.get("confidence", 0.95))
    # the comparison helper's paired bootstrap: interval of accuracy(current) - accuracy(previous)
    boot = paired_bootstrap(y, b, a, "accuracy", list(schema.classes), int(ab_cfg.get("resamples", 2000)),
                            conf, seed)
    low, high = boot["interval"]
    correct_new, correct_old = a.argmax(axis=1) == y, b.argmax(axis=1) == y
    verdict = "worse" if high < 0 else "better" if low > 0 else "no significant difference"
    result |= {"metric": "accuracy", "confidence": conf, "rows": int(y.size), "per_period": per_period,
               "current_accuracy": float(correct_new.mean()), "previous_accuracy": float(correct_old.mean()),
               "difference": float(correct_new.mean() - correct_old.mean()), "ci_low": low, "ci_high": high,
               "resamples": boot["resamples"], "mcnemar": mcnemar(correct_old, correct_new),
               "verdict": verdict}
    if verdict == "worse":
        result["rollback"] = revert_command(current.commit)
    return result


# --- outputs -------------------------------------------------------------------------------------


def _history_row(p: dict[str, Any], version: str, sha: str, now: dt.date, schema) -> dict[str, Any]:
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
    lines += ["### Periods", "",
              "| period | rows | accuracy | estimated | f1 weighted | ECE | low-conf. | drift share |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def f(v, spec=".4f"):
        return "–" if v is None else format(v, spec)

    for p in report["periods"]:
        lines.append(f"| {p['period']} | {p['rows']} | {f(p.get('accuracy'))} | "
                     f"{_estimate_text(p)} | {f(p.get('f1_weighted'))} | {f(p.get('ece'))} | "
                     f"{p['low_confidence_count']} | {f(p.get('drift_share'), '.2f')} |")
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


def _jsonable(value: Any) -> Any:
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


def _github_output(report: dict[str, Any]) -> None:
    """Inside GitHub Actions, hand the decision to later steps (`steps.<id>.outputs.*`)."""
    from pipeline.commands import github

    github.output({"decision": report["decision"], "alerts": len(report["alerts"]),
                   "period": report["run"]["period"], "model_version": report["model"]["version"]})


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PipelineError(f"--now '{text}': expected YYYY-MM-DD") from None


def cli(args: argparse.Namespace) -> int:
    report = run(P.load(args.params), rev=args.rev, batches=args.batches,
                 now=_parse_date(args.now) if args.now else None, out_dir=Path(args.output_dir),
                 prometheus=Path(args.prometheus) if args.prometheus else None,
                 force_retrain=args.force_retrain)
    m = report["model"]
    print(f"monitor: {m['version']} ({m['family']}, {m['age_days']} days) on "
          f"{len(report['periods'])} periods after its training window")
    for p in report["periods"]:
        acc = "unlabelled" if p.get("accuracy") is None else f"accuracy {p['accuracy']:.4f}"
        drift = "" if p.get("drift_share") is None else f", drift share {p['drift_share']:.2f}"
        print(f"  {p['period']}: {acc} (estimated {_estimate_text(p)}), "
              f"{p['low_confidence_count']} low-confidence{drift}")
    for a in report["alerts"]:
        print(f"  ALERT {a['name']}: {a['message']}")
    if not report["drift_checked"]:
        print("  note: drift not checked (the training window's batch files are unavailable)")
    ab = report.get("ab_test")
    if ab and "difference" in ab:
        print(f"  A/B {ab['current']} vs {ab['previous']}: {ab['difference']:+.4f} "
              f"[{ab['ci_low']:+.4f}, {ab['ci_high']:+.4f}] {ab['verdict']}")
    print(f"decision: {report['decision']}" + (" (" + "; ".join(report["reasons"]) + ")"
                                               if report["reasons"] else ""))
    print(f"wrote {args.output_dir}/{{{HISTORY},{LATEST},{PLOT},{ISSUE}}}"
          + (f" and {args.prometheus}" if args.prometheus else ""))
    return 0
