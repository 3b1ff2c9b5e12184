"""print the selected model and its key metrics"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def main(args: argparse.Namespace) -> int:
    from pipeline.stages.evaluate import summary_cli

    return summary_cli(args)
