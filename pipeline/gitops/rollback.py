"""On a pull request: is it a rollback, restoring the model of the version before a promotion?

A revert of a promotion merge needs no retraining: the model's exact bytes are registered already.
This check lets CI skip the pipeline and post a 'Rollback to vN' report instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config import DVC_LOCK
from pipeline.core.git import git
from pipeline.errors import PipelineError
from pipeline.gitops.notes import metrics_table
from pipeline.gitops.registry import (
    critical_class,
    history,
    lock_md5,
    promoted_by,
    settings,
    undone_assignment,
)


def rollback_check(params: dict[str, Any]) -> dict[str, str]:
    """On a PR: does it revert a promotion merge, restoring the model of the version before it?

    Then merging puts the stage back on that version (see `promote`), and its exact bytes need no
    retraining. Any other PR, a revert of a merge that promoted nothing included, is reproduced.
    Returns the step outputs (rollback, version, from), the `message` line and, for a rollback, the
    `report` (markdown for the PR comment).
    """
    from pipeline.core.files import sha256

    reg = settings(params)
    lock = Path(DVC_LOCK.as_posix())
    md5 = lock_md5(lock.read_text(encoding="utf-8") if lock.exists() else None, reg.artifact)
    hist = history(reg)
    undone = undone_assignment(hist, git("rev-parse", "HEAD").strip())
    previous = undone.fields.get("previous") if undone else None
    found = hist.versions.get(previous) if previous else None
    if found is None or found.md5 != md5 or found.version == hist.prod:
        why = ("it reverts no promotion merge" if undone is None else
               f"it reverts the first promotion ({undone.version}): no earlier version" if found is None
               else f"the model is {found.version}, already in stage {reg.stage}"
               if found.version == hist.prod else
               f"it reverts {undone.version}'s promotion (merging puts {reg.stage} back on "
               f"{found.version}), but dvc.lock pins another model than {found.version}'s")
        return {"rollback": "false", "version": found.version if found else "",
                "message": f"rollback-check: not a rollback ({why}): reproduce the pipeline"}
    path = Path(reg.artifact)
    if not path.exists():
        raise PipelineError(f"{reg.artifact}: {found.version}'s model (md5 {md5}) is not in the DVC "
                            "remote or cache; a rollback needs its bytes (`dvc push` them from a clone "
                            "that has them)")
    if found.sha256 and sha256(path) != found.sha256:
        raise PipelineError(f"{reg.artifact}: sha256 {sha256(path)[:12]} is not {found.version}'s "
                            f"({found.sha256[:12]})")
    critical = critical_class(params)
    current = hist.versions.get(hist.prod) if hist.prod else None
    lines = [f"## Rollback to {found.version}", "",
             f"This pull request restores the model of **{found.version}** (sha256 "
             f"`{(found.sha256 or '?')[:12]}`, registered {found.date[:10]} by "
             f"{found.fields.get('promoted-by') or promoted_by(found.commit)}), replacing "
             f"**{hist.prod}** in stage `{reg.stage}`.", "",
             f"Retraining skipped: the model's exact bytes were pulled from the DVC remote and match "
             f"{found.version}'s sha256. Merging assigns `{reg.stage}` back to {found.version}.", ""]
    lines += metrics_table([(f"{found.version} (restored)", found.card)]
                           + ([(f"{hist.prod} (current)", current.card)] if current else []), critical)
    return {"rollback": "true", "version": found.version, "from": hist.prod or "",
            "message": f"rollback-check: rollback to {found.version} (from {hist.prod}); retraining skipped",
            "report": "\n".join(lines) + "\n"}
