"""Files and the model as they are at a git revision, through dvc.api: no checkout of the work tree.

Git-tracked files (the model card, params.yaml) come from git; DVC outputs (the model) come from the
local DVC cache or, failing that, the DVC remote, exactly as that revision's dvc.lock pins them.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

from pipeline.errors import PipelineError
from pipeline.train import PRODUCTION_MODEL

CARD = "models/model_card.json"


@dataclass
class Revision:
    """The production model as a revision holds it."""

    rev: str
    commit: str
    model: Any
    model_bytes: bytes
    card: dict[str, Any]


def resolve(rev: str) -> str | None:
    """Full commit of `rev`, or None when git does not know it."""
    out = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                         capture_output=True, text=True)
    return out.stdout.strip() or None


def read_bytes(path: str, rev: str) -> bytes | None:
    """A file at `rev`, git-tracked or DVC-tracked; None when that revision has no such file."""
    import dvc.api

    try:
        with dvc.api.open(path, repo=".", rev=rev, mode="rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except Exception as exc:  # dvc raises many kinds: missing from cache and remote, bad rev...
        name = type(exc).__name__
        if "NotFound" in name or "PathMissing" in name or "OutputNotFound" in name:
            return None
        raise PipelineError(f"{path}@{rev}: cannot be read through DVC ({name}: {exc})") from None


def production(rev: str, model_path: str = PRODUCTION_MODEL.as_posix()) -> Revision | None:
    """The model and card at `rev`, or None when that revision has no model yet."""
    import hashlib
    import json

    from pipeline.io import load_model_bytes

    commit = resolve(rev)
    if commit is None:
        raise PipelineError(f"git revision '{rev}': unknown (fetch it first, e.g. "
                            f"`git fetch origin {rev}:{rev}`)")
    card_bytes = read_bytes(CARD, commit)
    data = read_bytes(model_path, commit)
    if card_bytes is None or data is None:
        return None
    card = json.loads(card_bytes)
    digest = hashlib.sha256(data).hexdigest()
    if card.get("model", {}).get("sha256") not in (None, digest):
        raise PipelineError(f"{model_path}@{rev}: sha256 {digest[:12]} does not match its model "
                            f"card ({card['model']['sha256'][:12]})")
    return Revision(rev=rev, commit=commit, model=load_model_bytes(data, f"{model_path}@{rev}"),
                    model_bytes=data, card=card)
