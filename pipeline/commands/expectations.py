"""Manage the data contract in expectations/."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(title="actions", metavar="<action>", required=True)
    init = actions.add_parser("init", help="generate the suite from reference batches for review",
                              description="Generate the suite from reference batches (default: every "
                              "batch in data.batches_dir): numeric ranges with a margin, observed value "
                              "sets, nullability from observed null shares, mean bands. If the suite "
                              "exists, show what would change and refuse without --force.")
    init.add_argument("--from", dest="sources", nargs="+", metavar="BATCH",
                      help="reference batch files (default: every batch)")
    init.add_argument("--force", action="store_true", help="overwrite an existing suite that differs")
    init.add_argument("-o", "--output", help="suite file (default: validate.suite in params.yaml)")


def main(args: argparse.Namespace) -> int:
    from pipeline.core.expectations import init_cli

    return init_cli(args)
