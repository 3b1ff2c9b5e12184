"""The facts the site shows, read from git and the reports: no rendering here.

Registry: the version tags (`pipeline.gitops.registry.history`) with each version's model card and, when
committed at that version's commit, its promotion report. Monitoring: `history.csv` and
`latest.json` as the monitoring ref holds them (the work tree when no ref is given), and every
earlier `latest.json` from that ref's git history (alerts and triggers over time, drift per
feature per period). Data: the validate and drift stages' reports in the work tree.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from pipeline.config import CARD_MD, COMPARISON, DRIFT, MONITOR_HISTORY, MONITOR_LATEST, REPORT_MD, VALIDATION
from pipeline.core import model_card
from pipeline.core.git import git, show
from pipeline.gitops.registry import (
    KEY_METRICS,
    Event,
    Version,
    critical_class,
    history,
    key_metrics,
    promoted_by,
    semver,
    settings,
)

REPORTS = (REPORT_MD.as_posix(), COMPARISON.as_posix())  # the PR report, where a commit holds it


def read_text(path: str | Path, ref: str | None) -> str | None:
    """A file from the work tree (ref None) or from git at `ref`; None when absent."""
    if ref is None:
        p = Path(path)
        return p.read_text(encoding="utf-8") if p.exists() else None
    return show(ref, Path(path).as_posix())


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return None


# --- registry ------------------------------------------------------------------------------------


def how(event: Event, version: Version) -> str:
    """How a version reached the stage: rollback, override, scheduled retraining, pull request, commit."""
    if event.kind == "rollback":
        return "rollback"
    if any(k.startswith("override") for k in version.fields):
        return "override"
    subject = git("log", "-1", "--format=%s", version.commit, check=False)
    if re.search(r"\bretrain/\d{4}-\d{2}\b|^Retrain the model", subject):
        return "scheduled retraining"
    return "pull request" if event.promoted_by.startswith("PR #") else "commit"


def _card_facts(card: dict[str, Any] | None, critical: str | None) -> dict[str, Any]:
    return {"metrics": key_metrics(card, critical), "family": model_card.family(card),
            "training_rows": model_card.train_rows(card),
            "files": [Path(f.get("path", "?")).name for f in model_card.window_files(card)]}


def registry(params: dict[str, Any]) -> dict[str, Any]:
    """Every version (oldest first), the production timeline and the version in the stage now."""
    reg = settings(params)
    hist = history(reg)
    critical = critical_class(params)
    first_event = {}
    for e in hist.events:
        first_event.setdefault(e.version, e)
    versions = []
    for v in sorted(hist.versions.values(), key=lambda v: semver(v.version)):
        event = first_event.get(v.version)
        versions.append({
            "version": v.version, "tag": v.tag, "commit": v.commit, "date": v.date, "sha256": v.sha256,
            "md5": v.md5, "card": v.card, "card_md": show(v.commit, CARD_MD.as_posix()),
            "promoted_by": event.promoted_by if event else promoted_by(v.commit),
            "how": how(event, v) if event else "commit",
            "reports": {p: text for p in REPORTS if (text := show(v.commit, p))},
            "current": v.version == hist.prod, **_card_facts(v.card, critical)})
    timeline = [{"version": e.version, "date": e.date, "kind": e.kind, "promoted_by": e.promoted_by,
                 "from_version": e.from_version, "commit": e.commit,
                 "how": how(e, hist.versions[e.version])} for e in hist.events if e.kind != "recorded"]
    since = next((t for t in reversed(timeline) if t["version"] == hist.prod), None)
    metric_names = [*KEY_METRICS] + ([f"recall_{critical}"] if critical else [])
    return {"model": reg.model, "stage": reg.stage, "prod": hist.prod, "since": since,
            "versions": versions, "timeline": timeline, "metric_names": metric_names}


# --- monitoring ----------------------------------------------------------------------------------


def _runs(ref: str | None) -> list[dict[str, Any]]:
    """Every committed latest.json on the ref's history, oldest first (one monitoring run each)."""
    path = MONITOR_LATEST.as_posix()
    log = git("log", "--reverse", "--format=%H", ref or "HEAD", "--", path, check=False)
    runs = []
    for commit in log.split():
        report = _json(show(commit, path))
        if isinstance(report, dict) and report.get("run"):
            runs.append(report)
    return runs


def _float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def monitoring(ref: str | None) -> dict[str, Any]:
    """History rows, the latest report, every run, and drift per feature per period."""
    text = read_text(MONITOR_HISTORY, ref)
    rows = []
    for row in csv.DictReader(io.StringIO(text or "")):
        rows.append({k: (v if k in ("model_version", "model_sha", "period", "run_date",
                                    "drift_recommendation", "prediction_drift") else _float(v))
                     for k, v in row.items()})
    latest = _json(read_text(MONITOR_LATEST, ref))
    runs = _runs(ref)
    if isinstance(latest, dict) and (not runs or runs[-1] != latest):
        runs.append(latest)  # the work tree's run, not committed yet
    drift: dict[str, dict[str, Any]] = {}
    for run in runs:  # newer runs overwrite a period's values
        for p in run.get("periods") or []:
            d = p.get("data_drift") or {}
            features = d.get("features") or {n: {"drifted": True} for n in d.get("drifted_features") or []}
            if d:
                drift[p["period"]] = {"features": features, "share": d.get("share_drifted"),
                                      "complete": "features" in d}
    return {"history": rows, "latest": latest if isinstance(latest, dict) else None, "runs": runs,
            "drift": dict(sorted(drift.items()))}


def data_reports() -> dict[str, Any]:
    """The validate stage's report (every batch) and the drift stage's (the newest batch)."""
    return {"validation": _json(read_text(VALIDATION, None)), "drift": _json(read_text(DRIFT, None))}
