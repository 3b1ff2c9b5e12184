"""Infer target, classes, numeric and categorical features from the CSV files in DIR and write them
into params.yaml (schema block, data.batches_dir); every other line of params.yaml is kept."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="directory of CSV or Parquet batches")
    parser.add_argument("--target", required=True, help="the label column")
    parser.add_argument("--id", help="row identifier column (optional)")
    parser.add_argument("--time", help="period/time column (optional)")
    parser.add_argument("--max-categories", type=int, default=20,
                        help="most classes a target may have (default 20)")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pipeline.core.schema import write_params

    path = Path(args.params)
    block, metric, reason = write_params(path, Path(args.data), args.target, args.id, args.time,
                                         args.max_categories)
    print(f"schema: {len(block['numeric'])} numeric, {len(block['categorical'])} categorical, "
          f"classes {block['classes']} -> {path}")
    print(f"schema: primary metric {metric}: {reason}")
    return 0
