"""List data.source (a folder, s3:// or https:// location; fsspec) for files matching data.pattern;
each one data.batches_dir does not hold yet comes in with `dvc import-url` (a .dvc file recording
the URL, followed by `dvc update`). Commit and open a pull request like a data engineer's. Writes
new=N and period to $GITHUB_OUTPUT when set. Nothing to do without a source."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--body", metavar="FILE", help="write the pull request body (markdown) here")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pipeline import params as P
    from pipeline.commands.github import output as github_output
    from pipeline.core.files import write_text
    from pipeline.gitops.retrain import ingest

    result = ingest(P.load(args.params))
    if result["source"] is None:
        print("ingest: no data.source configured in params.yaml: nothing to ingest")
    else:
        print(f"ingest: {len(result['new'])} new batch(es) from {result['source']}"
              + "".join(f"\n  {f}" for f in result["new"]))
    if args.body and result["new"]:
        write_text(args.body, result["body"])
    github_output({"new": str(len(result["new"])),
                   "period": Path(result["new"][-1]).stem if result["new"] else ""})
    return 0
