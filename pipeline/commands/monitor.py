"""Score the production model of REV on the batches newer than its training window, period by period
(metrics, calibration, low-confidence, data and prediction drift, label-free estimate); raise
alerts, check the retraining triggers (decision retrain/wait) and, after a promotion, compare with
the previous version. Writes history.csv, latest.json, metrics.png and issue.md to --output-dir, and
the decision to $GITHUB_OUTPUT when set. Exit 0 whatever it finds: alerts are findings."""

from __future__ import annotations

import argparse
import datetime as dt

from pipeline.config import MONITORING
from pipeline.errors import PipelineError


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
                        help="where the history and reports go (default %(default)s)")
    parser.add_argument("--force-retrain", action="store_true",
                        help="decide retrain whatever the triggers say")


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PipelineError(f"--now '{text}': expected YYYY-MM-DD") from None


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pipeline import params as P
    from pipeline.commands import github
    from pipeline.monitoring.outputs import FILES, estimate_text
    from pipeline.monitoring.run import run

    report = run(P.load(args.params), rev=args.rev, batches=args.batches,
                 now=_parse_date(args.now) if args.now else None, out_dir=Path(args.output_dir),
                 prometheus=Path(args.prometheus) if args.prometheus else None,
                 force_retrain=args.force_retrain)
    m = report["model"]
    print(f"monitor: {m['version']} ({m['family']}, {m['age_days']} days) on "
          f"{len(report['periods'])} periods after its training window")
    for p in report["periods"]:
        acc = "unlabelled" if p.get("accuracy") is None else f"accuracy {p['accuracy']:.4f}"
        drift = "" if p.get("drift_share") is None else f", drift share {p['drift_share']:.2f}"
        print(f"  {p['period']}: {acc} (estimated {estimate_text(p)}), "
              f"{p['low_confidence_count']} low-confidence{drift}")
    for a in report["alerts"]:
        print(f"  ALERT {a['name']}: {a['message']}")
    if not report["drift_checked"]:
        print("  note: drift not checked (the training window's batch files are unavailable)")
    ab = report.get("ab_test")
    if ab and "difference" in ab:
        print(f"  A/B {ab['current']} vs {ab['previous']}: {ab['difference']:+.4f} "
              f"[{ab['ci_low']:+.4f}, {ab['ci_high']:+.4f}] {ab['verdict']}")
    print(f"decision: {report['decision']}" + (" (" + "; ".join(report["reasons"]) + ")"
                                               if report["reasons"] else ""))
    print(f"wrote {args.output_dir}/{{{','.join(FILES.values())}}}"
          + (f" and {args.prometheus}" if args.prometheus else ""))
    # inside GitHub Actions, hand the decision to later steps (`steps.<id>.outputs.*`)
    github.output({"decision": report["decision"], "alerts": len(report["alerts"]),
                   "period": report["run"]["period"], "model_version": m["version"]})
    return 0
