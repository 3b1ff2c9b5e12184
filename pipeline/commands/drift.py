"""Compare the newest batch with the production model's training window (drift.production_rev): per-
column KS, Mann-Whitney, PSI, Wasserstein, chi-squared, Jensen-Shannon; drifted = significant after
Benjamini-Hochberg AND a large effect; share of drifted features -> keep / consider / retrain.
Writes reports/drift.json and plots. With --reference and --current, any two CSV files. Exits 0
whatever the verdict."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reference", help="reference CSV or Parquet file (two-file mode)")
    parser.add_argument("--current", help="current CSV or Parquet file (two-file mode)")
    parser.add_argument("-o", "--output", help="JSON to write (default reports/drift.json; drift.json "
                        "in two-file mode)")
    parser.add_argument("--model", help="two-file mode: a model file for prediction (and concept) drift")
    parser.add_argument("--figures", help="two-file mode: directory for the PNG charts (default: none)")


def main(args: argparse.Namespace) -> int:
    from pipeline.stages.drift import cli

    return cli(args)
