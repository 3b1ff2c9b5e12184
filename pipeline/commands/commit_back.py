"""Stage dvc.lock and every pipeline output that lives in git (cache: false), commit them when they
changed, and push to the branch (rebuilt on the branch's tip when a re-run finds an earlier commit-
back of the same inputs). Writes pushed=true|false and head=<commit carrying the outputs> to
$GITHUB_OUTPUT."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--branch", help="branch to push to (default: commit only)")
    parser.add_argument("--remote", default="origin", help="git remote (default origin)")
    parser.add_argument("--message", default="Reproduce the pipeline: dvc.lock, metrics and model card",
                        help="commit message (no skip marker: it would skip the merge's workflows on main)")
    parser.add_argument("--include", action="append", default=[], metavar="PATH",
                        help="another path to commit with the outputs when it exists (repeatable), e.g. "
                        "reports/compare, the figures the report links")


def push(branch: str | None, remote: str, message: str, include: list[str] | None = None) -> str | None:
    """Commit back, print what happened, report `pushed` and `head` to the workflow; returns the head."""
    from pipeline.commands.github import output
    from pipeline.gitops.commit_back import commit_back

    result = commit_back(branch, remote, message, include)
    print(result["message"])
    output({"pushed": "true" if result["pushed"] else "false", "head": result["head"] or ""})
    return result["head"]


def main(args: argparse.Namespace) -> int:
    from pipeline import params as P
    from pipeline.gitops.registry import settings

    push(args.branch, args.remote, args.message,
         [*(args.include or []), settings(P.load(args.params)).comparison])
    return 0
