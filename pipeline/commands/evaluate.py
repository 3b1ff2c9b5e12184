"""Select the best candidate on validation, score it on the test holdout, write reports/metrics.json,
plots and models/model_card.*."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def main(args: argparse.Namespace) -> int:
    from pipeline import params as P
    from pipeline.stages.evaluate import run

    metrics = run(P.load(args.params))
    print(f"evaluate: selected {metrics['selected']}: test accuracy {metrics['accuracy']:.4f}, "
          f"f1_weighted {metrics['f1_weighted']:.4f} (majority class {metrics['majority_baseline']:.4f})")
    return 0
