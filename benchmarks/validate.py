"""Benchmark: the full data contract through GX vs the same checks in plain pandas, same run.

    .venv/bin/python -m benchmarks.validate [--rows 1000000] [--repeat 3]

Builds a 1,000,000-row frame from the simulator (cached under benchmarks/.cache/), then times
`pipeline.stages.validate.evaluate` (the stage's path: structural checks, GX BOOLEAN_ONLY for the whole
suite, SUMMARY details for what failed and for `mostly` expectations) against a plain-pandas
evaluation of every expectation in the suite. Two cases: clean data, and data with a few bad rows
(so the detail pass runs). Prints the best of `--repeat` runs and the ratio; the target is ≤ 3×.
Both sides must agree on every expectation's verdict, or the script fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.timing import best
from pipeline import params as P  # noqa: E402
from pipeline.core import expectations as E
from pipeline.core.schema import from_params  # noqa: E402
from pipeline.stages import validate as V

ROOT = Path(__file__).resolve().parents[1]

CACHE = ROOT / "benchmarks" / ".cache"


def frame_of(rows: int):
    """Simulated rows (as a batch file would be read), cached as parquet between runs."""
    import pandas as pd

    from pipeline.simulate import simulate

    path = CACHE / f"validate-{rows}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    chunk = 100_000
    parts = [simulate("2024-03", min(chunk, rows - i), "stable", seed=i // chunk)
             for i in range(0, rows, chunk)]
    frame = pd.concat(parts, ignore_index=True)
    frame["id_solicitud"] = [f"SOL-{i:08d}" for i in range(len(frame))]
    CACHE.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return frame


def pandas_checks(exps: list[dict[str, Any]], frame, period: str) -> dict[int, bool]:
    """The same expectations in plain pandas: the baseline GX is measured against."""
    out: dict[int, bool] = {}
    for exp in exps:
        kind, kw, pos = exp["type"], exp["kwargs"], exp["meta"]["_pos"]
        col = frame[kw["column"]] if "column" in kw else None
        mostly = kw.get("mostly", 1)
        if kind == "expect_table_row_count_to_be_between":
            ok = len(frame) >= (kw.get("min_value") or 0) and (
                kw.get("max_value") is None or len(frame) <= kw["max_value"])
        elif kind == "expect_table_columns_to_match_set":
            have, want = set(frame.columns), set(kw["column_set"])
            ok = have == want if kw.get("exact_match", True) else want <= have
        elif kind == "expect_column_values_to_be_unique":
            ok = not col.dropna().duplicated().any()
        elif kind == "expect_column_values_to_not_be_null":
            ok = col.notna().mean() >= mostly
        elif kind == "expect_column_values_to_be_in_set":
            values = [period] if isinstance(kw["value_set"], dict) else kw["value_set"]
            nonnull = col.dropna()
            ok = nonnull.isin(values).mean() >= mostly if len(nonnull) else True
        elif kind == "expect_column_values_to_be_in_type_list":
            ok = str(col.dtype) in kw["type_list"]
        elif kind == "expect_column_values_to_be_between":
            nonnull = col.dropna()
            ok = nonnull.between(kw["min_value"], kw["max_value"]).mean() >= mostly if len(nonnull) else True
        elif kind == "expect_column_mean_to_be_between":
            ok = kw["min_value"] <= float(col.mean()) <= kw["max_value"]
        elif kind == "expect_column_median_to_be_between":
            ok = kw["min_value"] <= float(col.median()) <= kw["max_value"]
        else:
            raise SystemExit(f"benchmark: no pandas baseline for {kind}")
        out[pos] = bool(ok)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    params = P.load(ROOT / "params.yaml")
    schema = from_params(params)
    suite = E.load(ROOT / E.suite_path(params))
    period = "2024-03"
    path = Path(f"data/batches/{period}.csv")

    t = time.perf_counter()
    clean = frame_of(args.rows)
    print(f"data: {len(clean):,} rows x {clean.shape[1]} columns ({time.perf_counter() - t:.1f} s to build)")
    t = time.perf_counter()
    runner = V.GXRunner()
    print(f"GX import + ephemeral context: {time.perf_counter() - t:.1f} s (once per run, not in the ratio)")
    exps = V.applicable(suite, schema, list(clean.columns), True, period)
    print(f"suite: {len(exps)} expectations")

    dirty = clean.copy()
    dirty.loc[dirty.index[::20_000], "edad"] = 230
    dirty.loc[dirty.index[5::50_000], "ciudad"] = "Gotham"
    ratios = []
    for label, frame in (("as simulated", clean), ("with bad rows", dirty)):
        V.evaluate(schema, suite, path, frame, True, runner)  # warm-up
        t_gx, findings = best(lambda f=frame: V.evaluate(schema, suite, path, f, True, runner), args.repeat)
        t_pd, verdicts = best(lambda f=frame: pandas_checks(exps, f, period), args.repeat)
        gx_verdicts = {e["meta"]["_pos"]: f.success for e, f in zip(exps, findings, strict=True)}
        disagree = [exps_i for exps_i, ok in verdicts.items() if gx_verdicts[exps_i] != ok]
        if disagree:
            print(f"benchmark: GX and pandas disagree on expectations {disagree}", file=sys.stderr)
            return 1
        failed = sum(not ok for ok in verdicts.values())
        ratio = t_gx / t_pd
        ratios.append(ratio)
        print(f"{label:>14}: GX {t_gx:.2f} s | plain pandas {t_pd:.2f} s | ratio {ratio:.1f}x "
              f"({failed} failed expectations; best of {args.repeat})")
    verdict = "within" if max(ratios) <= 3 else "ABOVE"
    print(f"target <= 3x: {verdict} (worst {max(ratios):.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
