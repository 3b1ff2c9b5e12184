"""Score the production model as REV holds it (through dvc.api, no checkout) and the work tree's model
on the same test holdout; paired bootstrap interval of the primary-metric difference, McNemar's
test, guards and floors (gate in params.yaml). Writes reports/comparison.json and
reports/compare/*.png. Exit 0 whatever the verdict (a rejection is a finding: merging then lands
the data and keeps prod); 2 on an error."""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", help="git revision of the champion (default: the registry's prod stage, "
                        "`gto show credit-risk#prod`; main's model before anything is registered)")


def summary_line(result: dict[str, Any]) -> str:
    """The verdict and its numbers, then one line per reason."""
    metric = result["primary_metric"]
    cand = result["metrics"][metric]["challenger"]
    if result["models"]["champion"] is None:
        head = f"compare: {result['decision']}: no champion at {result['base']['rev']}; challenger " \
               f"{metric} {cand:.4f}"
    else:
        m = result["metrics"][metric]
        low, high = result["confidence_interval"]
        head = (f"compare: {result['decision']}: {metric} {cand:.4f} vs champion "
                f"{result['models']['champion']['version']} {m['champion']:.4f} (delta {m['delta']:+.4f}, "
                f"{result['bootstrap']['confidence']:.0%} CI [{low:+.4f}, {high:+.4f}], McNemar p="
                f"{result['mcnemar']['p_value']:.3g})")
    return head + "\n" + "\n".join(f"  - {r}" for r in result["reasons"])


def main(args: argparse.Namespace) -> int:
    from pipeline import params as P
    from pipeline.config import COMPARISON
    from pipeline.gitops.compare import CONFUSION_PNG, ROC_PNG, run

    result = run(P.load(args.params), args.base, log=print)
    print(summary_line(result))
    print(f"wrote {COMPARISON}, {CONFUSION_PNG}, {ROC_PNG}")
    return 0  # a rejection is a finding (the report says what merging will do); errors exit 2
