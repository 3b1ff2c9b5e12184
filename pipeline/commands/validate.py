"""Check every batch in data.batches_dir against the Great Expectations suite (validate.suite): file-
level problems first, then the suite. Unchanged batches reuse their stored result. Writes
reports/validation.json; a critical failure exits non-zero naming the file, the column, the rule
and sample rows."""

from __future__ import annotations

import argparse

from pipeline.config import VALIDATION


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", default=VALIDATION.as_posix(),
                        help="report to write (default %(default)s)")


def main(args: argparse.Namespace) -> int:
    from pipeline.stages.validate import cli

    return cli(args)
