"""Score the production model as REV holds it (through dvc.api, no checkout) and the work tree's model
on the same test holdout; paired bootstrap interval of the primary-metric difference, McNemar's
test, guards and floors (gate in params.yaml). Writes reports/comparison.json and
reports/compare/*.png. Exit 0 whatever the verdict (a rejection is a finding: merging then lands
the data and keeps prod); 2 on an error."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", help="git revision of the champion (default: the registry's prod stage, "
                        "`gto show credit-risk#prod`; main's model before anything is registered)")


def main(args: argparse.Namespace) -> int:
    from pipeline.gitops.compare import cli

    return cli(args)
