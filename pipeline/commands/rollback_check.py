"""Compare the model md5 in the work tree's dvc.lock with the registered versions. An earlier version
(not the one in production) means a rollback: the pulled bytes are checked against that version's
sha256, the report says 'Rollback to vN' with its metrics, and CI skips retraining. Writes
rollback=true|false to $GITHUB_OUTPUT when set."""

from __future__ import annotations

import argparse

from pipeline.config import REPORT_MD


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", default=REPORT_MD.as_posix(), help="markdown written for a rollback")


def main(args: argparse.Namespace) -> int:
    from pipeline.gitops.promote import rollback_check_cli

    return rollback_check_cli(args)
