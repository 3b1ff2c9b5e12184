"""Benchmark: training rows vs wall time and peak memory, local vs a two-worker Dask LocalCluster.

    .venv/bin/python -m benchmarks.scaling [--rows 100000 1000000 5000000] [--families xgboost lightgbm]
                                           [--trees 100]

For each size: simulated applications (pipeline.simulate, stable scenario) written as the prepared
splits (80 % train, 20 % validation, Parquet) under benchmarks/.cache/scaling/, then the train stage
(`pipeline.stages.train.run`, one trial, `--trees` trees, early stopping 30) in a fresh child process per
engine: `train.engine: local`, and `train.engine: dask` on LocalCluster(n_workers=2,
threads_per_worker=1). Figures: wall time of the stage (cluster start included), peak RSS of the
stage's process (getrusage) and, for dask, of the largest worker; validation accuracy of both; the
dask/local ratios from the same run. Both engines get the same two cores (local: n_jobs 2).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CACHE = ROOT / "benchmarks" / ".cache" / "scaling"


def prepared(rows: int) -> Path:
    """A directory holding data/prepared/{train,val}.parquet for `rows` simulated rows."""
    import pandas as pd

    from pipeline.core.files import write_frame
    from pipeline.simulate import simulate

    out = CACHE / str(rows)
    if (out / "data" / "prepared" / "val.parquet").exists():
        return out
    chunk, frames = 500_000, []
    for i, start in enumerate(range(0, rows, chunk)):
        frames.append(simulate("2024-01", min(chunk, rows - start), "stable", seed=100 + i))
    frame = pd.concat(frames, ignore_index=True)
    cut = int(len(frame) * 0.8)
    write_frame(out / "data" / "prepared" / "train.parquet", frame.iloc[:cut].reset_index(drop=True))
    write_frame(out / "data" / "prepared" / "val.parquet", frame.iloc[cut:].reset_index(drop=True))
    return out


def child(engine: str, rows: int, family: str, trees: int) -> dict:
    from pipeline import params as P
    from pipeline.stages import train

    params = P.load(ROOT / "params.yaml")
    params["train"]["engine"] = engine
    params["train"]["dask"].update(n_workers=2, threads_per_worker=1)
    cfg = params["models"][family]
    cfg["n_trials"], cfg["early_stopping_rounds"] = 1, 30
    cfg["fixed"] = {**(cfg.get("fixed") or {}), "n_estimators": trees}
    os.chdir(prepared(rows))
    t = time.perf_counter()
    result = train.run(params, family, log=lambda _line: None)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "score": result["validation_score"],
            "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "worker_peak": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}


def measure(engine: str, rows: int, family: str, trees: int) -> dict:
    proc = subprocess.run([sys.executable, "-m", __spec__.name, "--child", engine, str(rows), family,
                           str(trees)], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{engine} {rows} {family}: failed\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--families", nargs="+", default=["xgboost", "lightgbm"])
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, rows, family, trees = args.child
        print(json.dumps(child(engine, int(rows), family, int(trees))))
        return 0
    gib = 1024 ** 3
    print(f"{'family':<9} {'rows':>10} | {'local s':>8} {'peak GiB':>8} {'acc':>6} | {'dask s':>7} "
          f"{'client GiB':>10} {'worker GiB':>10} {'acc':>6} | {'time x':>6} {'mem x':>6}")
    for rows in args.rows:
        prepared(rows)
        for family in args.families:
            lo = measure("local", rows, family, args.trees)
            dk = measure("dask", rows, family, args.trees)
            print(f"{family:<9} {rows:>10,} | {lo['seconds']:>8.1f} {lo['peak'] / gib:>8.2f} "
                  f"{lo['score']:>6.4f} | {dk['seconds']:>7.1f} {dk['peak'] / gib:>10.2f} "
                  f"{dk['worker_peak'] / gib:>10.2f} {dk['score']:>6.4f} | "
                  f"{dk['seconds'] / lo['seconds']:>6.2f} {dk['peak'] / lo['peak']:>6.2f}", flush=True)
    print("time x, mem x: dask / local (client process); workers hold the data on a real cluster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
