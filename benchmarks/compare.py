"""Benchmark: the promotion gate's paired bootstrap, vectorised, beside the obvious loop, same run.

    .venv/bin/python -m benchmarks.compare [--rows 1500] [--resamples 1000] [--loop 50]

The gate resamples the test rows `resamples` times and scores both models on each resample. The
obvious way calls `pipeline.core.metrics.classification_metrics` twice per resample (every metric, ROC-AUC
included); `pipeline.core.resampling.paired_bootstrap` computes only the gate's metric, vectorised over all
resamples (per-row means for accuracy / log loss / Brier, stacked confusion matrices for the
precision / recall / F1 family). The loop runs `--loop` resamples and is extrapolated to `--resamples`.
The two give the same interval for the same resample indices (tests/unit/gitops/test_compare.py checks the
metrics equal); this prints seconds and the ratio. No target: it shows the gate costs well under a
second on a realistic test set, so 1,000 resamples (or more) are affordable in CI.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    import numpy as np

    from pipeline.core.metrics import classification_metrics, lookup
    from pipeline.core.resampling import paired_bootstrap

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1500, help="test rows (the example's holdout: 1,500)")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--loop", type=int, default=50, help="resamples the loop actually runs")
    args = ap.parse_args()

    classes = ["Bajo", "Medio", "Alto"]
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, args.rows)
    pa, pb = rng.dirichlet([1, 1, 1], args.rows), rng.dirichlet([1, 1, 1], args.rows)
    classification_metrics(y, pa, classes)  # imports outside the timings
    print(f"paired bootstrap, {args.rows:,} rows x {args.resamples:,} resamples, 3 classes")
    for metric in ("accuracy", "f1_weighted", "recall_Alto", "log_loss"):
        t0 = time.perf_counter()
        paired_bootstrap(y, pa, pb, metric, classes, args.resamples, 0.95, 0)
        fast = time.perf_counter() - t0
        r = np.random.default_rng(0)
        t0 = time.perf_counter()
        for _ in range(args.loop):
            i = r.integers(0, args.rows, args.rows)
            lookup(classification_metrics(y[i], pb[i], classes), metric)
            lookup(classification_metrics(y[i], pa[i], classes), metric)
        loop = (time.perf_counter() - t0) * args.resamples / args.loop
        print(f"  {metric:12s} vectorised {fast:7.3f} s   loop {loop:7.1f} s (extrapolated)   "
              f"x{loop / fast:,.0f}")


if __name__ == "__main__":
    main()
