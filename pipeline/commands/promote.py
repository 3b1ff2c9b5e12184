"""On a commit of main: check that the model pinned by dvc.lock is in the DVC remote (sha256 against
models/model_card.json), then apply the verdict CI committed with it (reports/comparison.json, for
these exact bytes): promote -> next version credit-risk@vX.Y.Z and stage prod; reject -> the data
lands, the model is recorded as a version but prod stays; reject + the override label -> promoted,
the override recorded; no comparison for these bytes -> prod stays. A revert of a promotion merge
puts prod back on the version before it. Tags are created locally: push them with `git push origin
--tags`."""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--require-remote", action="store_true",
                        help="fail when no DVC remote is configured (CI); otherwise the local cache will do")
    parser.add_argument("--notes", metavar="FILE", help="also write release notes (markdown) to FILE")
    parser.add_argument("--label", action="append", help="a label of the merged pull request (repeatable); "
                        "registry.override_label (promote-anyway) promotes a model the gate rejected")
    parser.add_argument("--actor", help="who merged / applied the override (recorded in the tag)")
    parser.add_argument("--event", metavar="FILE", help="labels and merger of the merged pull request: a "
                        "pull_request event payload ($GITHUB_EVENT_PATH) or `gh pr list --json "
                        "number,labels,mergedBy` output")


def apply(params: dict[str, Any], require_remote: bool = False, notes: str | None = None,
          labels: list[str] | None = None, actor: str | None = None) -> dict[str, str]:
    """Promote, print the outcome, write the release notes, report them to the workflow."""
    from pipeline.commands.github import output, summary
    from pipeline.core.files import write_text
    from pipeline.gitops.promote import promote

    result = promote(params, require_remote=require_remote, labels=labels, actor=actor)
    print(result.pop("text"))
    body = result.pop("release_notes")
    if notes:
        write_text(notes, body)
        result["notes"] = notes
    output(result)
    summary(body)
    return result


def main(args: argparse.Namespace) -> int:
    from pipeline import params as P
    from pipeline.gitops.promote import event_labels

    labels, actor = event_labels(args.event)
    apply(P.load(args.params), require_remote=args.require_remote, notes=args.notes,
          labels=labels + list(args.label or []), actor=args.actor or actor)
    return 0
