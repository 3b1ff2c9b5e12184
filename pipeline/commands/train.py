"""Budgeted, seeded search for one family (models.<family> in params.yaml); boosters early-stop on
validation. Writes models/candidates/<family>.skops and reports/candidates/<family>.json."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--family", required=True, help="xgboost | lightgbm | random_forest | logistic")


def main(args: argparse.Namespace) -> int:
    from pipeline import params as P
    from pipeline.config import CANDIDATES
    from pipeline.stages.train import run

    result = run(P.load(args.params), args.family, log=print)
    print(f"train: {args.family} best {result['metric']}={result['validation_score']:.4f} on "
          f"validation after {len(result['trials'])} trials in {result['train_seconds']:.1f}s "
          f"-> {CANDIDATES / (args.family + '.skops')}")
    return 0
