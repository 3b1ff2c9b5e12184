"""Read the monitoring report; when its decision is retrain, change an input of the pipeline so that
`dvc repro` trains a different model than main's: drift -> training window combine -> replace (the
newest window.replace_batches); any other trigger -> a fresh search (the next seed). Writes the PR
body naming the trigger and the change, and retrain=true|false to $GITHUB_OUTPUT when set."""

from __future__ import annotations

import argparse

from pipeline.config import MONITOR_LATEST


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--monitoring", default=MONITOR_LATEST.as_posix(),
                        help="the monitor command's report (default %(default)s)")
    parser.add_argument("--body", metavar="FILE", help="write the pull request body (markdown) here")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pipeline import params as P
    from pipeline.commands.github import output as github_output
    from pipeline.core.files import write_text
    from pipeline.gitops.retrain import plan

    result = plan(P.load(args.params), Path(args.params), Path(args.monitoring))
    if result["retrain"]:
        print(f"retrain-plan ({result['period']}): {result['change']}")
        if args.body:
            write_text(args.body, result["body"])
    else:
        print(f"retrain-plan ({result['period']}): no trigger fired: params.yaml unchanged")
    github_output({"retrain": str(result["retrain"]).lower(), "period": result["period"]})
    return 0
