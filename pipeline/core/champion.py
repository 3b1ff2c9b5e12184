"""The champion pointer (models/champion.json): which production model prepare and train build on.

It is git-tracked and declared as a dependency of prepare and train in dvc.yaml, so a promotion
re-runs them; the `champion` command writes it (pipeline/gitops/champion.py). A missing file reads
as `{"champion": null}`: a first model, nothing to build on (temporary projects start that way).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.config import CHAMPION
from pipeline.errors import PipelineError

MISSING = "no champion pointer (models/champion.json): a first model"
FIELDS = ("stage", "version", "rev", "commit", "md5", "files")


def render(pointer: dict[str, Any]) -> str:
    """The file's exact text: sorted keys, so the same champion always gives the same bytes."""
    return json.dumps(pointer, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def null(reason: str) -> dict[str, Any]:
    return {"champion": None, "reason": reason}


def read(path: str | Path = CHAMPION) -> dict[str, Any]:
    """The pointer, checked: `champion` is null or names every field; a missing file is null."""
    path = Path(path)
    try:
        pointer = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return null(MISSING)
    except json.JSONDecodeError as exc:
        raise PipelineError(f"{path}: not valid JSON ({exc}); rewrite it with `python -m pipeline "
                            "champion`") from None
    champ = pointer.get("champion") if isinstance(pointer, dict) else "?"
    if champ is None:
        return null(str(pointer.get("reason") or "no production model"))
    missing = [k for k in FIELDS if not isinstance(champ, dict) or k not in champ]
    if missing:
        raise PipelineError(f"{path}: champion.{missing[0]}: missing; rewrite it with "
                            "`python -m pipeline champion`")
    return pointer


def training_files(pointer: dict[str, Any]) -> dict[str, str | None]:
    """Batch stem -> sha256 of the files the champion's card says it trained on (empty when null)."""
    champ = pointer.get("champion") or {}
    return {Path(f["path"]).stem: f.get("sha256") for f in champ.get("files") or []}
