"""Build train/validation/test splits from the training window (window.strategy: combine | replace |
new_only). The test set is a holdout of the newest batch."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def main(args: argparse.Namespace) -> int:
    from pipeline.stages.prepare import cli

    return cli(args)
