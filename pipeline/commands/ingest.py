"""List data.source (a folder, s3:// or https:// location; fsspec) for files matching data.pattern;
each one data.batches_dir does not hold yet comes in with `dvc import-url` (a .dvc file recording
the URL, followed by `dvc update`). Commit and open a pull request like a data engineer's. Writes
new=N and period to $GITHUB_OUTPUT when set. Nothing to do without a source."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--body", metavar="FILE", help="write the pull request body (markdown) here")


def main(args: argparse.Namespace) -> int:
    from pipeline.gitops.retrain import ingest_cli

    return ingest_cli(args)
