"""The history from the git tags: version, date, model hash, key metrics, training rows, the PR or
commit that promoted it, rollbacks marked (run `git fetch --tags` first in an old clone)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--timeline", action="store_true", help="only the production timeline: for each "
                        "period, the version in the stage and who or what put it there (PR, override, "
                        "rollback, scheduled retraining)")


def print_timeline(reg: Any, timeline: list[dict[str, Any]]) -> None:
    if not timeline:
        print(f"\n{reg.model}: nothing has been in stage {reg.stage} yet")
        return
    print(f"\nproduction timeline ({reg.model}#{reg.stage}):")
    for t in timeline:
        print(f"  {t['from'][:19]} → {(t['to'] or 'now')[:19]:<19}  {t['version']:<8}  {t['by']}")


def main(args: argparse.Namespace) -> int:
    from pipeline import params as P
    from pipeline.gitops.notes import fmt
    from pipeline.gitops.registry import KEY_METRICS, critical_class, settings
    from pipeline.gitops.timeline import lineage_rows, timeline_rows, version_rows

    params = P.load(args.params)
    reg = settings(params)
    if args.timeline:
        timeline = timeline_rows(params)
        print(json.dumps(timeline, indent=2)) if args.json else print_timeline(reg, timeline)
        return 0
    rows = version_rows(params)
    if not rows:
        rows = lineage_rows(params)
        if rows and not args.json:
            print(f"{reg.model}: no version tags in this clone (`git fetch --tags`, or merge to main to run "
                  "`python -m pipeline promote`); model history from git:")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"{reg.model}: no versions registered yet (merge to main runs `python -m pipeline "
              "promote`, or run it yourself)")
        return 0
    critical = critical_class(params)
    names = [*KEY_METRICS] + ([f"recall_{critical}"] if critical else [])
    head = ["version", "date", "model", *names, "train rows", "promoted by", ""]
    table = [head]
    for r in rows:
        mark = ", ".join(x for x in (f"← {reg.stage}" if r["current"] else "", r["note"]) if x)
        table.append([r["version"], r["date"][:10], (r["model_sha256"] or "?")[:12],
                      *(fmt(r["metrics"].get(n)) for n in names), fmt(r["training_rows"]),
                      r["promoted_by"], mark])
    widths = [max(len(str(row[i])) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print_timeline(reg, timeline_rows(params))
    return 0
