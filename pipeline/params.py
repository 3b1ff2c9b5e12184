"""params.yaml access: one place that knows where the knobs live."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from pipeline.config import PARAMS
from pipeline.errors import PipelineError


def load(path: str | Path = PARAMS) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found (run from the repository root)") from None
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML ({exc})".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise PipelineError(f"{path}: expected a mapping at the top level")
    return data


def section(params: dict[str, Any], *keys: str) -> Any:
    """Nested lookup with an error that names the missing key."""
    node: Any = params
    for i, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            raise PipelineError(f"params.yaml: missing key '{'.'.join(keys[: i + 1])}'")
        node = node[key]
    return copy.deepcopy(node)


def replace_block(text: str, key: str, block: Any) -> str:
    """Replace one top-level key of a YAML document, keeping every other line (and comment)."""
    dumped = yaml.safe_dump({key: block}, sort_keys=False, allow_unicode=True)
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{key}:")), None)
    if start is None:
        return text.rstrip("\n") + "\n\n" + dumped
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
        end += 1
    # keep the blank lines and comments that introduce the next block
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    return "".join(lines[:start]) + dumped + "".join(lines[end:])
