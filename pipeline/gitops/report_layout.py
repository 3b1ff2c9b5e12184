"""The shape of the pull-request comment: sections that know a shorter form of themselves, and the
assembly that keeps the whole under GitHub's comment limit (shorten the longest, then drop from the
end). Also the small pieces every section uses: reading a sibling stage's JSON, linking an image."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GITHUB_LIMIT = 65_536  # characters in a GitHub comment
BUDGET = 60_000  # leaves room for CML's watermark and the longer URLs of published images
ROW_CAP = 150  # rows of any one folded table


@dataclass
class Section:
    """A part of the report; `short` replaces `full` when the whole would be too long."""

    full: str
    short: str | None = None


def load(path: Path) -> tuple[Any, str | None]:
    """JSON from a sibling stage, or why not: a report must never fail on another stage's output."""
    if not path.exists():
        return None, None
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"`{path.as_posix()}` could not be read ({type(exc).__name__})"


def image(alt: str, path: str | Path, out: Path) -> str | None:
    """A markdown image of a file, by its path relative to the report (how `cml comment` finds it)."""
    if not Path(path).is_file():
        return None
    rel = Path(os.path.relpath(Path(path).resolve(), out.parent.resolve())).as_posix()
    return f"![{alt}]({rel})"


def pvalue(value: Any) -> str:
    return "—" if value is None else (f"{value:.3g}" if value >= 1e-4 else "< 0.0001")


def assemble(sections: list[Section], budget: int = BUDGET) -> str:
    """Join the sections; shorten the longest ones, then drop from the end, until under budget."""
    texts = [s.full for s in sections]
    shorts = [s.short for s in sections]
    sep = "\n\n"
    note = ("\n\n_Parts of this report were shortened to fit GitHub's comment limit; the full "
            "figures are in `reports/*.json`._")

    def size() -> int:
        return len(sep.join(texts)) + len(note)

    shortened = False
    while size() > budget:
        gains = [(len(t) - len(s), i) for i, (t, s) in enumerate(zip(texts, shorts, strict=True))
                 if s is not None and len(s) < len(t)]
        if not gains:
            break
        _, i = max(gains)
        texts[i], shorts[i] = shorts[i], None
        shortened = True
    while size() > budget and len(texts) > 1:
        texts.pop()
        shortened = True
    body = sep.join(texts)
    if len(body) + len(note) > budget:  # a single huge first section: cut at a line
        body = body[: budget - len(note)].rsplit("\n", 1)[0]
        shortened = True
    return body + (note if shortened else "") + "\n"


