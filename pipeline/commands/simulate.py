"""Write one month of simulated mortgage-credit applications (the schema users of the original system
know). The same arguments always give the same bytes."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--period", required=True, help="month of the batch, YYYY-MM")
    parser.add_argument("--rows", type=int, default=5000, help="rows to write (default 5000)")
    parser.add_argument("--scenario", default="stable",
                        help="stable | salary_inflation | policy_change | new_segment (default stable)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("-o", "--output", required=True, help="batch file to write: .csv or .parquet")


def main(args: argparse.Namespace) -> int:
    from pipeline.simulate import simulate, write

    frame = simulate(args.period, args.rows, args.scenario, args.seed)
    write(frame, args.output)
    mix = frame["nivel_riesgo"].value_counts(normalize=True).round(3).to_dict()
    print(f"simulate: {len(frame)} rows, {args.scenario} {args.period} -> {args.output} (mix {mix})")
    return 0
