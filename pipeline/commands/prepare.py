"""Build train/validation/test splits from the training window (window.strategy: combine | replace |
new_only). The test set is a holdout of the newest batch and of every other batch the champion
(models/champion.json) never trained on."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def main(args: argparse.Namespace) -> int:
    from pipeline import params as P
    from pipeline.stages.prepare import run

    summary = run(P.load(args.params))
    rows = summary["rows"]
    print(f"prepare: {len(summary['files'])} batches ({summary['strategy']}) -> "
          f"train {rows['train']}, val {rows['val']}, test {rows['test']} "
          f"(holdout of {', '.join(summary['test_batches'])})")
    for entry in summary["files"]:
        if entry["test_reason"] == "new to the champion":
            print(f"  test: {entry['split_rows']['test']} rows of {entry['path']} (new to the champion)")
    return 0
