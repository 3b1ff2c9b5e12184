"""The history from the git tags: version, date, model hash, key metrics, training rows, the PR or
commit that promoted it, rollbacks marked (run `git fetch --tags` first in an old clone)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--timeline", action="store_true", help="only the production timeline: for each "
                        "period, the version in the stage and who or what put it there (PR, override, "
                        "rollback, scheduled retraining)")


def main(args: argparse.Namespace) -> int:
    from pipeline.gitops.promote import versions_cli

    return versions_cli(args)
