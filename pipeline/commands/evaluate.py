"""Select the best candidate on validation, score it on the test holdout, write reports/metrics.json,
plots and models/model_card.*."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def main(args: argparse.Namespace) -> int:
    from pipeline.stages.evaluate import cli

    return cli(args)
