"""Score the production model of REV on the batches newer than its training window, period by period
(metrics, calibration, low-confidence, data and prediction drift, label-free estimate); raise
alerts, check the retraining triggers (decision retrain/wait) and, after a promotion, compare with
the previous version. Writes reports/monitoring/{history.csv,latest.json,metrics.png,issue.md}.
Exit 0 whatever it finds: alerts are findings."""

from __future__ import annotations

import argparse

from pipeline.config import MONITORING


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rev", help="git revision holding the model to monitor (default: the "
                        "registry's prod stage, `gto show credit-risk#prod`; main's model before anything "
                        "is registered)")
    parser.add_argument("--batches", nargs="+", help="batch files to score (default: those in "
                        "data.batches_dir newer than the model's training window)")
    parser.add_argument("--now", help="date of the run, YYYY-MM-DD (default today, UTC): model age, period")
    parser.add_argument("--prometheus", metavar="FILE", help="also write the metrics in the Prometheus text "
                        "exposition format (textfile collector, Pushgateway)")
    parser.add_argument("--output-dir", default=MONITORING.as_posix(),
                        help="where the history and reports go")
    parser.add_argument("--force-retrain", action="store_true",
                        help="decide retrain whatever the triggers say")


def main(args: argparse.Namespace) -> int:
    from pipeline.monitoring.monitor import cli

    return cli(args)
