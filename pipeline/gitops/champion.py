"""Write the champion pointer (models/champion.json) from the registry: the production model that
prepare holds batches out against and warm_start continues from, pinned by git commit and md5.

The model is found as the drift stage finds it (`registry.production_ref`: the prod stage's version
tag, else registry.fallback_rev), but only git is read: the md5 from that commit's dvc.lock and the
training files from its model card. No DVC bytes are needed, so the pointer can be written anywhere
the history is; warm_start fetches and checks the bytes (pipeline/core/artifact.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config import CHAMPION, DVC_LOCK
from pipeline.core import champion as pointer
from pipeline.core import model_card
from pipeline.core.git import git, resolve, show
from pipeline.errors import PipelineError
from pipeline.gitops.registry import card_at, lock_md5, production_ref, settings


def pinned_since(commit: str, artifact: str, md5: str) -> str:
    """The commit (an ancestor of `commit`, or itself) whose dvc.lock began pinning `md5`: a stable
    name for the model, so the pointer does not change with every commit of the fallback branch."""
    for sha in git("log", "--format=%H", f"-S{md5}", commit, "--", DVC_LOCK.as_posix(),
                   check=False).split():
        if lock_md5(show(sha, DVC_LOCK.as_posix()), artifact) == md5:
            return sha
    return commit


def find(params: dict[str, Any], rev: str | None = None) -> dict[str, Any]:
    """The pointer for the production model, or `{"champion": null, "reason": ...}` when there is
    none yet (nothing registered and the fallback revision pins no model)."""
    reg = settings(params)
    ref = production_ref(params, rev)
    commit = resolve(ref.rev)
    if commit is None:
        if ref.version is not None or rev not in (None, "", reg.stage):
            raise PipelineError(f"git revision '{ref.rev}': unknown (fetch it first, e.g. "
                                "`git fetch --tags origin`)")
        return pointer.null(f"revision '{ref.rev}' does not exist yet: no production model")
    md5 = lock_md5(show(commit, DVC_LOCK.as_posix()), reg.artifact)
    if md5 is None:
        return pointer.null(f"{DVC_LOCK}@{ref.rev} pins no {reg.artifact}: no production model yet")
    since = pinned_since(commit, reg.artifact, md5)
    card = card_at(since)
    if card is None:
        raise PipelineError(f"models/model_card.json@{since[:12]}: missing or not JSON beside "
                            f"{reg.artifact} (md5 {md5}): cannot name the champion's training files")
    files = [{"path": f["path"], "sha256": f.get("sha256")} for f in model_card.window_files(card)
             if isinstance(f, dict) and f.get("path")]
    champ = {"stage": reg.stage, "version": ref.version, "rev": ref.rev, "commit": since, "md5": md5,
             "artifact": reg.artifact, "files": files}
    return {"champion": champ | ({"note": ref.note} if ref.note else {})}


def write(params: dict[str, Any], rev: str | None = None, path: str | Path = CHAMPION,
          ) -> tuple[dict[str, Any], bool]:
    """Write the pointer; the same champion gives byte-identical text. Returns it and whether the
    file changed."""
    from pipeline.core.files import write_text

    found = find(params, rev)
    text = pointer.render(found)
    path = Path(path)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return found, False
    write_text(path, text)
    return found, True
