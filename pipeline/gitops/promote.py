"""Apply a merge's verdict to the registry: promote, keep (data only), override or roll back.

The verdict is the comparison CI committed with dvc.lock for the exact bytes merged; a revert of a
promotion merge puts the stage back on the version before it. Tags are created through `gto.api`
(importing gto takes seconds: only the tag creation does it). Returns plain data; the `promote`
command prints it and reports it to the workflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.config import DVC_LOCK
from pipeline.core import model_card
from pipeline.core.git import git, show
from pipeline.errors import PipelineError, one_line
from pipeline.gitops.notes import release_notes
from pipeline.gitops.registry import (
    Assignment,
    History,
    Registry,
    card_at,
    critical_class,
    history,
    lock_md5,
    match,
    next_version,
    promoted_by,
    settings,
    undone_assignment,
    verify_model,
)


def verdict(reg: Registry, commit: str, sha: str, hist: History,
            labels: list[str]) -> tuple[str, list[str]]:
    """What merging `commit` does with its model: ("promote" | "override" | "keep", the reasons).

    The decision is the one CI committed with dvc.lock (registry.comparison) for these exact bytes.
    No comparison, or one for other bytes, keeps the stage whatever the labels say; a promotion
    judged against a champion that is no longer in the stage is stale and keeps it too.
    """
    text = show(commit, reg.comparison)
    if text is None:
        return "keep", [f"{reg.comparison}: not committed at {commit[:7]}: no comparison for this model"]
    comp = json.loads(text)
    models = comp.get("models") or {}
    judged = (models.get("challenger") or {}).get("model_sha256")
    if judged != sha:
        return "keep", [f"{reg.comparison} judged sha256 {str(judged)[:12]}, not this model's "
                        f"{sha[:12]}: the comparison is not for these bytes"]
    reasons = list(comp.get("reasons") or [])
    champion = (models.get("champion") or {}).get("model_sha256")
    current = hist.versions[hist.prod].sha256 if hist.prod else None
    if comp.get("decision") in ("promote", "no_champion"):
        if champion == current:
            return "promote", reasons
        reasons = [f"compared with champion sha256 {str(champion)[:12]}, but {reg.stage} is now "
                   f"{hist.prod} (sha256 {str(current)[:12]}): stale, reproduce the PR again", *reasons]
    return ("override" if reg.override_label in labels else "keep"), reasons


def _assign(reg: Registry, version: str, message: str) -> None:
    import gto.api

    gto.api.assign(".", reg.model, reg.stage, version=version, message=message, force=True, simple=False)


def _rollback(reg: Registry, hist: History, undone: Assignment, commit: str, by: str) -> dict[str, str]:
    """A revert of a promotion merge: the stage goes back to the version that was there before it."""
    from pipeline.core.revision import read_bytes

    target = undone.fields.get("previous")
    if not target or target not in hist.versions:
        raise PipelineError(f"{commit[:7]} reverts {undone.fields.get('commit', '?')[:7]}, which put "
                            f"{undone.version} in {reg.stage} with no earlier version to go back to; "
                            f"the stage stays on {hist.prod}")
    version = hist.versions[target]
    if target == hist.prod:
        return {"action": "none", "version": target, "tag": version.tag,
                "text": f"{reg.model} {target} is already in stage {reg.stage}: nothing to roll back"}
    import hashlib

    data = read_bytes(reg.artifact, version.commit, version.tag)  # fail closed: the bytes must exist
    digest = hashlib.sha256(data or b"").hexdigest()
    if data is None or digest != version.sha256:
        raise PipelineError(f"{reg.artifact}@{version.tag}: sha256 {digest[:12]} is not {target}'s "
                            f"({str(version.sha256)[:12]}); not rolling back to bytes that differ")
    _assign(reg, target, f"{reg.model}: rollback to {target} (from {hist.prod})\ncommit: {commit}\n"
                         f"promoted-by: {by}\nreason: rollback\nversion: {target}\n"
                         f"previous: {hist.prod}\nrollback-from: {hist.prod}\n"
                         f"revert-of: {undone.fields.get('commit', '')}")
    return {"action": "rollback", "version": target, "tag": version.tag,
            "text": f"{reg.model}: rollback to {target} (from {hist.prod}) by {by}, reverting "
                    f"{undone.fields.get('promoted-by', undone.tag)}; stage {reg.stage} -> {target} "
                    f"(model sha256 {digest[:12]} fetched)"}


def promote(params: dict[str, Any], rev: str = "HEAD", require_remote: bool = False,
            labels: list[str] | None = None, actor: str | None = None) -> dict[str, str]:
    """Apply a merge's verdict to the registry: promote, override, keep (data only) or roll back.

    `labels` are the merged PR's labels and `actor` who merged it (the workflow passes both from the
    event payload); registry.override_label among them overrides a rejection.
    """
    reg = settings(params)
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}").strip()
    head = git("rev-parse", "HEAD").strip()
    if commit != head:
        raise PipelineError(f"promote registers the checked-out commit; check out {rev} first")
    hist = history(reg)
    by = promoted_by(commit)
    critical = critical_class(params)
    undone = undone_assignment(hist, commit)
    if undone is not None:
        result = _rollback(reg, hist, undone, commit, by)
        card = hist.versions[result["version"]].card
        return _finish(reg, result, card, hist, by, critical, [])
    md5 = lock_md5(show(commit, DVC_LOCK.as_posix()), reg.artifact)
    if md5 is None:
        raise PipelineError(f"dvc.lock at {commit[:7]}: no output '{reg.artifact}' (run `dvc repro` "
                            "and commit dvc.lock)")
    card = card_at(commit)
    where = verify_model(reg, card, md5, require_remote)
    sha = model_card.model_sha256(card)
    action, reasons = verdict(reg, commit, sha, hist, list(labels or []))
    found = match(hist, md5)
    fields = (f"commit: {commit}\npromoted-by: {by}\nmodel-md5: {md5}\nmodel-sha256: {sha}\n"
              f"reason: {action}\nprevious: {hist.prod or ''}")
    if action == "override":
        fields += (f"\noverride-label: {reg.override_label}\noverride-by: {actor or 'unknown'}\n"
                   f"gate-reasons: {'; '.join(reasons)}")
    import gto.api

    if found is not None and found.version == hist.prod:
        result = {"action": "none", "version": found.version, "tag": found.tag,
                  "text": f"{reg.model} {found.version} is already in stage {reg.stage} "
                          f"(model sha256 {sha[:12]}): nothing to register"}
    elif action == "keep":
        if found is None:
            version = next_version(reg, hist)
            gto.api.register(".", reg.model, commit, version=version,
                             message=f"{reg.model} {version}: recorded, not promoted (sha256 {sha[:12]})\n"
                                     f"{fields}\ngate-reasons: {'; '.join(reasons)}")
            result = {"action": "recorded", "version": version, "tag": f"{reg.model}@{version}"}
        else:
            result = {"action": "kept", "version": found.version, "tag": found.tag}
        keeps = f"keeps {hist.prod} in {reg.stage}" if hist.prod else f"leaves {reg.stage} empty"
        result["text"] = (f"{reg.model}: {by} lands its data and {keeps}; model sha256 {sha[:12]} is "
                          f"{result['version']}, not promoted: {reasons[0] if reasons else 'rejected'}")
    else:
        version = found.version if found else next_version(reg, hist)
        if found is None:
            gto.api.register(".", reg.model, commit, version=version,
                             message=f"{reg.model} {version}: new model (sha256 {sha[:12]})\n{fields}")
        how = "override of the gate by " + (actor or "unknown") if action == "override" else "promote"
        _assign(reg, version, f"{reg.model}: assign {reg.stage} to {version} ({how})\n{fields}\n"
                              f"version: {version}")
        result = {"action": "registered" if found is None else "promoted", "version": version,
                  "tag": f"{reg.model}@{version}",
                  "text": f"{reg.model}: {'registered ' if found is None else ''}{version} (model sha256 "
                          f"{sha[:12]}, from the {where}) by {by}; stage {reg.stage} -> {version}"
                          + (f" (override by {actor or 'unknown'}, label {reg.override_label})"
                             if action == "override" else "")}
    result["decision"] = action
    return _finish(reg, result, card, hist, by, critical, reasons)


def _finish(reg: Registry, result: dict[str, str], card: dict[str, Any] | None, hist: History, by: str,
            critical: str | None, reasons: list[str]) -> dict[str, str]:
    """The outcome for the command: `text` (one line), `release_notes` (markdown), title and prod."""
    result["release_notes"] = release_notes(reg, result, card, hist, by, critical, reasons)
    result["title"] = f"{reg.model} {result['version']}"
    result["prod"] = history(reg).prod or ""
    return result


def event_labels(path: str | None) -> tuple[list[str], str | None]:
    """Labels and merger of the merged pull request: from a `pull_request` event payload
    ($GITHUB_EVENT_PATH: `pull_request.labels[].name`, `pull_request.merged_by.login`), or from
    `gh pr list --json labels,mergedBy` (a list; its first entry), which a `push` run uses because a
    push event's payload names no pull request.
    """
    if not path:
        return [], None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PipelineError(f"{path}: GitHub event payload unreadable ({one_line(exc)})") from None
    if isinstance(event, list):  # gh pr list --json number,labels,mergedBy
        pr = event[0] if event else {}
        return [str(label.get("name")) for label in pr.get("labels") or []], (
            pr.get("mergedBy") or {}).get("login")
    pr = event.get("pull_request") or {}
    labels = [str(label.get("name")) for label in pr.get("labels") or []]
    return labels, (pr.get("merged_by") or {}).get("login") or (event.get("sender") or {}).get("login")
