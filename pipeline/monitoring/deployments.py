"""Which registered version is the production model, since when, and how to undo its promotion.

The registry's git tags (`pipeline.gitops.registry.history`) say when each version went into
production (registration or rollback) and through which commit; a model that was never registered
dates from the commit that wrote its card.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pipeline.config import CARD_JSON


@dataclass
class Deployment:
    """A registered version as it went into production: which tag, when, through which commit."""

    version: str
    tag: str
    date: dt.datetime
    commit: str


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
    text = (_git("log", "-1", "--format=%cI", commit, "--", CARD_JSON.as_posix())
            or _git("log", "-1", "--format=%cI", commit))
    return dt.datetime.fromisoformat(text)


def card_commit(commit: str) -> str:
    """The commit that last wrote the model card at or before `commit` (the model's own commit)."""
    return _git("log", "-1", "--format=%H", commit, "--", CARD_JSON.as_posix()) or commit


def revert_command(commit: str) -> str:
    """The rollback: revert the promotion (a merge commit needs `-m 1`, the main-line parent)."""
    parents = _git("rev-list", "--parents", "-n", "1", commit).split()[1:]
    return f"git revert -m 1 {commit}" if len(parents) > 1 else f"git revert {commit}"
