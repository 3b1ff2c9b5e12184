"""Read the monitoring report; when its decision is retrain, change an input of the pipeline so that
`dvc repro` trains a different model than main's: drift -> training window combine -> replace (the
newest window.replace_batches); any other trigger -> a fresh search (the next seed). Writes the PR
body naming the trigger and the change, and retrain=true|false to $GITHUB_OUTPUT when set."""

from __future__ import annotations

import argparse

from pipeline.config import MONITORING


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--monitoring", default=(MONITORING / "latest.json").as_posix(),
                        help="the monitor command's report (default %(default)s)")
    parser.add_argument("--body", metavar="FILE", help="write the pull request body (markdown) here")


def main(args: argparse.Namespace) -> int:
    from pipeline.gitops.retrain import plan_cli

    return plan_cli(args)
