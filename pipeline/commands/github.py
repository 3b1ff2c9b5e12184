"""Inside GitHub Actions: step outputs and the job summary. Only commands write them; elsewhere
(a laptop, the tests without the variables) they are ignored."""

from __future__ import annotations

import os


def output(values: dict[str, object]) -> None:
    """Append `key=value` lines to $GITHUB_OUTPUT (read by later steps as `steps.<id>.outputs.*`)."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as fh:
        for key, value in values.items():
            fh.write(f"{key}={value}\n")


def summary(text: str) -> None:
    """Append markdown to $GITHUB_STEP_SUMMARY (shown on the run's page)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(text.rstrip("\n") + "\n")
