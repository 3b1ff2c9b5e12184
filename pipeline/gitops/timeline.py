"""The registry as rows for people and pages: versions and rollbacks, production periods, and the
model's lineage from git when a clone has no version tags. Plain data: `versions` prints it, the
site renders it."""

from __future__ import annotations

from typing import Any

from pipeline.config import DVC_LOCK
from pipeline.core import model_card
from pipeline.core.git import git, show
from pipeline.gitops.registry import (
    card_at,
    critical_class,
    history,
    key_metrics,
    lock_md5,
    promoted_by,
    settings,
)


def version_rows(params: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per registration and per rollback, oldest first."""
    reg = settings(params)
    hist = history(reg)
    critical = critical_class(params)
    rows = []
    for event in hist.events:
        v = hist.versions[event.version]
        note = {"recorded": "recorded, not promoted",
                "rollback": f"rollback to {event.version} (from {event.from_version})"}
        rows.append({"version": event.version, "event": event.kind, "date": event.date,
                     "model_sha256": v.sha256, "model_md5": v.md5,
                     "metrics": key_metrics(v.card, critical), "training_rows": model_card.train_rows(v.card),
                     "promoted_by": event.promoted_by, "commit": event.commit, "tag": event.tag,
                     "note": note.get(event.kind, ""),
                     "current": False})
    for row in reversed(rows):
        if row["version"] == hist.prod:
            row["current"] = True
            break
    return rows


def timeline_rows(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The production timeline: one row per period of the stage, who or what started it, oldest first."""
    reg = settings(params)
    hist = history(reg)
    rows = []
    for i, a in enumerate(hist.assignments):
        end = hist.assignments[i + 1].date if i + 1 < len(hist.assignments) else None
        f = a.fields
        how = {"rollback": f"rollback {f.get('rollback-from') or f.get('previous') or '?'} → {a.version} "
                           f"(revert by {f.get('promoted-by', '?')})",
               "override": f"override by {f.get('override-by', '?')} (label {f.get('override-label')}), "
                           f"{f.get('promoted-by', '?')}"}.get(a.reason, f.get("promoted-by") or a.tag)
        rows.append({"from": a.date, "to": end, "version": a.version, "reason": a.reason, "by": how,
                     "previous": f.get("previous") or None, "tag": a.tag,
                     "gate_reasons": f.get("gate-reasons")})
    return rows


def lineage_rows(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Without version tags (a clone that did not fetch them): every commit of this branch that changed
    the model pinned in dvc.lock, oldest first, so the history is visible before anything is registered."""
    reg = settings(params)
    critical = critical_class(params)
    rows: list[dict[str, Any]] = []
    log = git("log", "--reverse", "--format=%H %cI", "--", DVC_LOCK.as_posix(), check=False)
    for line in log.splitlines():
        commit, date = line.split(" ", 1)
        md5 = lock_md5(show(commit, DVC_LOCK.as_posix()), reg.artifact)
        if md5 is None or (rows and rows[-1]["model_md5"] == md5):
            continue
        card = card_at(commit)
        rows.append({"version": "unregistered", "event": "model change", "date": date,
                     "model_sha256": model_card.model_sha256(card), "model_md5": md5,
                     "metrics": key_metrics(card, critical), "training_rows": model_card.train_rows(card),
                     "promoted_by": promoted_by(commit), "commit": commit, "tag": None, "note": "",
                     "current": False})
    if rows:
        rows[-1]["current"] = True
    return rows
