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
    """`expectations init`: generate the suite; an existing one that differs needs --force."""
    import json
    from pathlib import Path

    from pipeline import params as P
    from pipeline.core import expectations as E
    from pipeline.core.file_contract import read_batch
    from pipeline.core.files import batch_files, write_text
    from pipeline.core.schema import from_params
    from pipeline.errors import PipelineError

    params = P.load(args.params)
    schema = from_params(params)
    path = Path(args.output) if args.output else E.suite_path(params)
    if args.sources:
        files = [Path(f) for f in args.sources]
    else:
        cfg = P.section(params, "data")
        files = batch_files(cfg["batches_dir"], cfg.get("pattern", "*.csv"))
    frames = {f.as_posix(): read_batch(f) for f in files}
    suite = E.generate(schema, frames, name=path.stem)
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            old = {"expectations": []}
        changes = E.diff(old, suite)
        if not changes and old == suite:
            print(f"expectations: {path} is up to date ({len(suite['expectations'])} expectations)")
            return 0
        print(f"expectations: regenerating {path} from {len(files)} batches would change:")
        for line in changes or ["~ suite metadata"]:
            print(f"  {line}")
        if not args.force:
            raise PipelineError(
                f"{path}: exists and differs from the generated suite ({len(changes)} changes above); "
                "keep your hand edits, or re-run with --force to overwrite"
            )
    write_text(path, E.dumps(suite))
    n_crit = sum(e["meta"]["severity"] == "critical" for e in suite["expectations"])
    print(f"expectations: {len(suite['expectations'])} expectations ({n_crit} critical) from "
          f"{len(files)} batches, {sum(len(f) for f in frames.values())} rows -> {path}")
    return 0
