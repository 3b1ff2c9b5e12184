"""Compare the model md5 in the work tree's dvc.lock with the registered versions. An earlier version
(not the one in production) means a rollback: the pulled bytes are checked against that version's
sha256, the report says 'Rollback to vN' with its metrics, and CI skips retraining. Writes
rollback=true|false to $GITHUB_OUTPUT when set."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.config import REPORT_MD


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", default=REPORT_MD.as_posix(), help="markdown written for a rollback")


def check(params: dict[str, Any], report: str | None) -> dict[str, str]:
    """Run the check, print its line, write the rollback report, report to the workflow."""
    from pipeline.commands.github import output, summary
    from pipeline.core.files import write_text
    from pipeline.gitops.rollback import rollback_check

    result = rollback_check(params)
    print(result.pop("message"))
    text = result.pop("report", None)
    if text and report:
        write_text(report, text)
    output(result)
    if text:
        summary(text)
    return result


def main(args: argparse.Namespace) -> int:
    from pipeline import params as P

    check(P.load(args.params), args.report)
    return 0
