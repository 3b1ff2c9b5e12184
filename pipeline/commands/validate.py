"""Check every batch in data.batches_dir against the Great Expectations suite (validate.suite): file-
level problems first, then the suite. Unchanged batches reuse their stored result. Writes
reports/validation.json; a critical failure exits non-zero naming the file, the column, the rule
and sample rows."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.config import VALIDATION


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", default=VALIDATION.as_posix(),
                        help="report to write (default %(default)s)")


def main(args: argparse.Namespace) -> int:
    from pipeline import params as P
    from pipeline.errors import PipelineError
    from pipeline.stages.validate import validate_batches

    report_path = Path(args.report)
    report = validate_batches(P.load(args.params), report_path)
    s = report["summary"]
    print(f"validate: {s['batches']} batches ({report['_reused']} unchanged, reused) against "
          f"{report['suite']} ({s['expectations']} expectations): {s['passed']} passed, {s['failed']} "
          f"failed, {s['warnings']} warnings -> {report_path.as_posix()}")
    for b in report["batches"].values():
        for line in b["warning_lines"][:10]:
            print(f"  warning: {line}")
        for line in b["errors"][:10]:
            print(f"  critical: {line}")
    failing = [b for b in report["batches"].values() if not b["success"]]
    if failing:
        more = sum(b["critical_failures"] for b in failing) - 1
        suffix = f" [+{more} more critical in {len(failing)} batch{'es' if len(failing) > 1 else ''}; " \
                 f"see {report_path.as_posix()}]" if more else ""
        raise PipelineError(failing[0]["errors"][0] + suffix, exit_code=1)
    return 0
