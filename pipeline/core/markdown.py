"""Markdown that GitHub renders: safe table cells, numbers, tables and folded blocks.

One writer for every table the project publishes (the PR comment, release notes, the rollback
report), so a cell with a pipe or a newline never breaks a table anywhere.
"""

from __future__ import annotations

from typing import Any


def cell(value: Any, width: int = 60) -> str:
    """Text safe inside a table cell: no pipes or newlines, bounded length."""
    text = "—" if value is None or value == "" else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def num(value: Any, digits: int = 4, sign: bool = False) -> str:
    """A number as a reviewer reads it: thousands separated, fixed digits, '—' for none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:+,}" if sign else f"{value:,}"
    if isinstance(value, float):
        return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return cell(value)


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A table; `align` has one letter per column, l or r (default: first left, the rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    marks = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def details(summary: str, body: str) -> str:
    """Folded on GitHub; the blank lines let markdown (tables) render inside."""
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"
