"""Budgeted, seeded search for one family (models.<family> in params.yaml); boosters early-stop on
validation. Writes models/candidates/<family>.skops and reports/candidates/<family>.json."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--family", required=True, help="xgboost | lightgbm | random_forest | logistic")


def main(args: argparse.Namespace) -> int:
    from pipeline.stages.train import cli

    return cli(args)
