"""Benchmark: peak memory of the drift statistics over Parquet larger than memory, against data size.

    .venv/bin/python -m benchmarks.memory [--rows 1000000 10000000 50000000] [--in-memory-max 10000000]

For each size N: a Parquet dataset of N rows × 20 columns (16 numeric: continuous, skewed, integer
with ties, 2 % nulls; 4 categorical), reference and current half each (the merge's worst case at a
given N), written once under benchmarks/.cache/ row group by row group (1M rows each; past the fourth,
a group reuses one of the first four with its continuous values shifted by 1e-6·g, so values stay
distinct: drawing 50M rows of random numbers takes too long on a shared machine). Then, each in
a fresh child process whose peak RSS (getrusage max RSS) is the figure:

- streamed: `pipeline.drift.data.data_drift` over `pipeline.core.columns.ParquetColumns` (one column of both
  sides at a time, blocked merge): what the drift stage does above `drift.in_memory_rows`;
- in memory (the baseline, up to --in-memory-max rows): both sides read into pandas, then the same
  `data_drift`: what it does below.

Both give the same statistics (checked: KS, Mann–Whitney and Wasserstein to 1e-9 on every numeric
column, equal category shares; the script fails otherwise). Target: streamed peak < 2 GiB at 50M rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

CACHE = ROOT / "benchmarks" / ".cache" / "memory"
DRIFT = yaml.safe_load((ROOT / "params.yaml").read_text())["drift"]  # the repository's thresholds
NUMERIC = [f"num_{i:02d}" for i in range(16)]
CATEGORICAL = [f"cat_{i}" for i in range(4)]
GROUP = 1_000_000
POOL = 4  # row groups drawn per side; later ones reuse them shifted (drawing 50M rows takes too long here)
TARGET_GIB = 2.0


def dataset(rows: int) -> tuple[Path, Path]:
    """reference.parquet and current.parquet of rows/2 each (cached by size)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out = CACHE / str(rows)
    ref, cur = out / "reference.parquet", out / "current.parquet"
    if ref.exists() and cur.exists():
        return ref, cur
    out.mkdir(parents=True, exist_ok=True)
    for path, seed, shift in ((ref, 1, 0.0), (cur, 2, 0.05)):
        tmp = path.with_suffix(".tmp")
        rng = np.random.default_rng(seed)
        writer, pool = None, []
        left, g = rows // 2, 0
        while left:
            n = min(GROUP, left)
            if len(pool) < POOL:
                pool.append(_group(rng, n, shift))
            table = pool[g % POOL]
            if g >= POOL:  # reuse a drawn group, continuous values shifted so that none repeats
                table = pa.table({c: (pc.add(table[c], g * 1e-6) if i % 4 != 2 else table[c])
                                  if c in NUMERIC else table[c]
                                  for i, c in enumerate(table.column_names)})
            table = table.slice(0, n)
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table, row_group_size=GROUP)
            left, g = left - n, g + 1
        writer.close()
        tmp.rename(path)
    return ref, cur


def _group(rng, n: int, shift: float):
    """One row group: continuous, skewed, tied integer and 2 %-null numeric columns, categories."""
    import numpy as np
    import pyarrow as pa

    cols = {}
    for i, name in enumerate(NUMERIC):
        kind = i % 4
        if kind == 0:
            v = rng.normal(shift * (i % 3), 1, n)
        elif kind == 1:
            v = rng.lognormal(0, 0.7 + shift, n)
        elif kind == 2:
            v = rng.integers(0, 60, n).astype(np.float64)  # ties
        else:
            v = rng.normal(0, 1, n)
            v[rng.random(n) < 0.02] = np.nan
        cols[name] = v
    for i, name in enumerate(CATEGORICAL):
        cols[name] = rng.choice([f"v{j}" for j in range(5 + 5 * i)], n)
    return pa.table(cols)


def child(mode: str, rows: int) -> dict:
    """Run one measurement in this process; the caller reads its peak RSS."""
    from pipeline.drift.data import data_drift
    from pipeline.stages import drift

    ref, cur = dataset(rows)
    t = time.perf_counter()
    if mode == "streamed":
        a, b = drift.read_batches([ref], limit_rows=0), drift.read_batches([cur], limit_rows=0)
    else:
        a, b = drift.read_batches([ref]), drift.read_batches([cur])
    result = data_drift(a, b, NUMERIC, CATEGORICAL, DRIFT)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    stats = {c: {k: f[k] for k in ("ks", "mann_whitney", "wasserstein") if k in f} | (
        {"shares": f["shares"]} if "shares" in f else {}) for c, f in result["features"].items()}
    return {"mode": mode, "rows": rows, "seconds": seconds, "peak_bytes": peak, "stats": stats}


def measure(mode: str, rows: int) -> dict:
    proc = subprocess.run([sys.executable, "-m", __spec__.name, "--child", mode, str(rows)],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{mode} {rows}: failed\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def same(a: dict, b: dict) -> None:
    import math

    for col, fa in a["stats"].items():
        fb = b["stats"][col]
        if "shares" in fa:
            assert fa["shares"] == fb["shares"], col
            continue
        pairs = [(fa["wasserstein"], fb["wasserstein"])]
        pairs += [(fa[k][p], fb[k][p]) for k in ("ks", "mann_whitney") for p in ("statistic", "pvalue")]
        for x, y in pairs:
            assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-300), (col, x, y)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000, 50_000_000])
    parser.add_argument("--in-memory-max", type=int, default=10_000_000,
                        help="largest size also run in memory (the baseline)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return 0
    gib = 1024 ** 3
    print(f"{'rows':>12} {'data GiB':>9} {'streamed peak':>14} {'time':>7} {'in-memory peak':>15} "
          f"{'time':>7} {'peak ratio':>10}")
    worst = 0.0
    for rows in args.rows:
        t = time.perf_counter()
        ref, cur = dataset(rows)
        made = time.perf_counter() - t
        data = rows * (len(NUMERIC) * 8 + len(CATEGORICAL) * 3) / gib  # in memory, as float64 + codes
        s = measure("streamed", rows)
        line = (f"{rows:>12,} {data:>9.2f} {s['peak_bytes'] / gib:>10.2f} GiB {s['seconds']:>6.0f}s")
        if rows <= args.in_memory_max:
            m = measure("in_memory", rows)
            same(s, m)
            line += (f" {m['peak_bytes'] / gib:>11.2f} GiB {m['seconds']:>6.0f}s "
                     f"{m['peak_bytes'] / s['peak_bytes']:>9.1f}x")
        else:
            line += f" {'(not run)':>15} {'':>7} {'':>10}"
        print(line + (f"   (data written in {made:.0f}s)" if made > 1 else ""), flush=True)
        if rows >= 50_000_000:
            worst = max(worst, s["peak_bytes"] / gib)
    if worst:
        print(f"target: streamed peak < {TARGET_GIB} GiB at 50M rows: {worst:.2f} GiB -> "
              f"{'met' if worst < TARGET_GIB else 'MISSED'}")
    return 0 if worst < TARGET_GIB else 1


if __name__ == "__main__":
    sys.exit(main())
