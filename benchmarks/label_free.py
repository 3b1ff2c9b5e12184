"""Benchmark: the monitor's label-free accuracy estimate against the real accuracy, per scenario.

    .venv/bin/python -m benchmarks.label_free [--rows 5000] [--months 6]

For each simulator scenario (stable, salary_inflation, new_segment, policy_change) a model is trained
the pipeline's way on three months (`prepare.split`: test and validation held out of the newest
month; lightgbm with the shared preprocessing), calibrated on every held-out row (validation + test,
as `monitor` does from the model card's split masks), then scored on the following `--months`
months: the estimate with its interval (`monitor.estimated_accuracy`, params `monitor.label_free`)
beside the accuracy the labels give. Baseline in the same run: the estimate calibrated on the test
holdout alone, as before issue 15, and its spread. The estimate sees covariate shift, not concept
drift: under policy_change the real accuracy falls and the estimate does not; that is what the
labelled metrics and the concept-drift stage are for.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCENARIOS = ("stable", "salary_inflation", "new_segment", "policy_change")


def main() -> None:
    from functools import partial

    import numpy as np
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from pipeline import params as P
    from pipeline.core.schema import from_params
    from pipeline.monitoring.scoring import confidence_calibrator, estimated_accuracy
    from pipeline.simulate import simulate
    from pipeline.stages.evaluate import predict_proba
    from pipeline.stages.prepare import split
    from pipeline.stages.train import build_estimator, build_preprocessor

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5000, help="rows per month (the example's batches)")
    ap.add_argument("--months", type=int, default=6, help="months monitored after the training window")
    args = ap.parse_args()
    params = P.load(str(ROOT / "params.yaml"))
    schema = from_params(params)
    lf = params["monitor"]["label_free"]
    conf, resamples = float(lf["confidence"]), int(lf["resamples"])
    print(f"label-free estimate vs real accuracy: {args.rows:,} rows a month, {conf:.0%} intervals, "
          f"{resamples} calibration refits")
    for scenario in SCENARIOS:
        frames = [simulate(f"2024-{m:02d}", args.rows, scenario) for m in (1, 2, 3)]
        train, val, test = split(frames, schema, params["split"], int(params["seed"]))
        booster = build_estimator("lightgbm", {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 31},
                                  len(schema.classes), 0, 2, 0)
        model = Pipeline([("preprocess", build_preprocessor(schema, scale=False)), ("model", booster)])
        model.fit(train[schema.features], schema.class_index(train[schema.target]))
        proba = partial(predict_proba, model, schema=schema)

        held = pd.concat([val, test], ignore_index=True)
        every = (schema.class_index(held[schema.target]), proba(held))
        only_test = (schema.class_index(test[schema.target]), proba(test))
        print(f"\n{scenario}: calibrated on {len(held):,} held-out rows (before: {len(test):,} test rows)")
        print(f"  {'month':8} {'real':>7} {'estimate [interval]':>26} {'covered':>8} {'before':>8}")
        covered = []
        for m in range(4, 4 + args.months):
            month = simulate(f"2024-{m:02d}" if m <= 12 else f"2025-{m - 12:02d}", args.rows, scenario)
            p = proba(month)
            real = float((p.argmax(axis=1) == schema.class_index(month[schema.target])).mean())
            now = estimated_accuracy(p, every, conf, resamples)
            before = float(confidence_calibrator(*only_test).predict(p.max(axis=1)).mean())
            low, high = now["interval"]
            covered.append(low <= real <= high)
            print(f"  {month['periodo'].iloc[0]:8} {real:7.4f} {now['estimate']:9.4f} "
                  f"[{low:.4f}, {high:.4f}] {'yes' if covered[-1] else 'NO':>8} {before:8.4f}")
        print(f"  covered {np.mean(covered):.0%} of months; interval width "
              f"{high - low:.4f}")


if __name__ == "__main__":
    main()
