"""Files and the model as they are at a git revision, through dvc.api: no checkout of the work tree.

Git-tracked files (the model card, params.yaml) come from git; DVC outputs (the model) come from the
local DVC cache or, failing that, the DVC remote, exactly as that revision's dvc.lock pins them.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import CARD_JSON, MODEL
from pipeline.core.git import resolve
from pipeline.errors import PipelineError, UnfetchableError, one_line


@dataclass
class Revision:
    """The production model as a revision holds it."""

    rev: str
    commit: str
    model: Any
    model_bytes: bytes
    card: dict[str, Any]


def read_bytes(path: str, rev: str, label: str | None = None) -> bytes | None:
    """A file at `rev`, git-tracked or DVC-tracked; None only when that revision has no such file.

    A DVC-tracked file (dvc.lock or a .dvc file pins its md5) whose bytes are in neither the cache
    nor the remote raises UnfetchableError: absent bytes are never mistaken for an absent file.
    """
    fs = _filesystem(os.getcwd(), rev)
    where = f"{label} ({rev[:12]})" if label and label != rev else rev[:12]
    try:
        if not fs.exists(path):
            return None
        info = fs.info(path)
        dvc_info = info.get("dvc_info") or {}
        if dvc_info and getattr(dvc_info.get("entry"), "hash_info", True) is None:
            return None  # declared in dvc.yaml, never reproduced: dvc.lock pins no bytes at that revision
    except Exception as exc:  # dvc raises many kinds: bad rev, broken dvc.lock...
        raise PipelineError(f"{path}@{where}: cannot be read through DVC ({one_line(exc)})") from None
    entry = (info.get("dvc_info") or {}).get("entry")
    if "fs_info" not in info and entry is not None and entry.hash_info is None:
        return None  # declared in dvc.yaml, never produced: no dvc.lock pins it at that revision
    try:
        return fs.read_bytes(path)
    except Exception as exc:
        md5 = (info.get("dvc_info") or {}).get("md5") or info.get("md5") or "?"
        raise UnfetchableError(
            f"{path}@{where}: md5 {md5} is pinned by that revision but its bytes are not in the "
            f"DVC cache and could not be fetched from {remote_description()} "
            f"({one_line(exc)}); `dvc push` them from a clone that has them") from None


@functools.lru_cache(maxsize=8)
def _filesystem(repo: str, rev: str):
    """One DVC view per repository and commit (commits never change, so it can be reused)."""
    from dvc.api import DVCFileSystem

    return DVCFileSystem(repo, rev=rev)


def remote_description() -> str:
    """The default DVC remote as the error messages name it: 'name' (url), or that there is none."""
    from dvc.repo import Repo

    try:
        with Repo(".") as repo:
            name = repo.config["core"].get("remote")
            url = (repo.config["remote"].get(name) or {}).get("url") if name else None
    except Exception as exc:
        return f"the DVC remote (configuration unreadable: {one_line(exc)})"
    if not name:
        return "no DVC remote (none is configured)"
    exists = "" if "://" in str(url) or Path(str(url)).is_dir() else ", a folder that does not exist"
    return f"the DVC remote '{name}' ({url}{exists})"


def production(rev: str, model_path: str = MODEL.as_posix()) -> Revision | None:
    """The model and card at `rev`, or None when that revision has no model yet."""
    import hashlib
    import json

    from pipeline.core.files import load_model_bytes

    commit = resolve(rev)
    if commit is None:
        raise PipelineError(f"git revision '{rev}': unknown (fetch it first, e.g. "
                            f"`git fetch origin {rev}:{rev}`)")
    data = read_bytes(model_path, commit, rev)
    if data is None:  # the only "no model": the revision names none
        return None
    card_bytes = read_bytes(CARD_JSON.as_posix(), commit, rev)
    if card_bytes is None:
        raise PipelineError(f"{CARD_JSON}@{rev}: missing beside {model_path} (the evaluate stage writes "
                            "both; commit them together)")
    card = json.loads(card_bytes)
    digest = hashlib.sha256(data).hexdigest()
    if card.get("model", {}).get("sha256") not in (None, digest):
        raise PipelineError(f"{model_path}@{rev}: sha256 {digest[:12]} does not match its model "
                            f"card ({card['model']['sha256'][:12]})")
    return Revision(rev=rev, commit=commit, model=load_model_bytes(data, f"{model_path}@{rev}"),
                    model_bytes=data, card=card)
