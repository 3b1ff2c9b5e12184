"""Score raw rows (no target needed): writes the id, the predicted class and one probability column
per class, in input order. Input is checked against the data contract first."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="CSV or Parquet file of rows to score")
    parser.add_argument("-o", "--output", required=True, help="file to write (.csv, or .parquet)")
    parser.add_argument("--model", help="model file (default: the registry's prod stage, fetched through "
                        "DVC; main's model before anything is registered)")


def main(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from pipeline import params as P
    from pipeline.modeling.scoring import score_file

    done, warnings = score_file(P.load(args.params), Path(args.input), Path(args.output),
                                Path(args.model) if args.model else None)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    print(f"predict: {done} -> {args.output}")
    return 0
