"""Training benchmark: a full `dvc repro` (search within the params budget) on the example-sized data
and on 100,000 simulated rows, per family, beside the same families fitted once with library defaults
in the same run (the floor: their sum). Prints the repro time, the floor, their ratio and the selected
model's test accuracy. Targets (2 cores, 100k rows): the full repro within 90 s and within 5x the
floor, test accuracy within 0.3 points of 0.871 (the search before issue 16).

    .venv/bin/python -m benchmarks.train [--rows 100000] [--skip-example]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from pipeline.config import TIMINGS  # noqa: E402  (where the train stage leaves its console timings)
from tests.support.project import make_project, run  # the same temp-project builder as the tests

ROOT = Path(__file__).resolve().parents[1]

PERIODS = [f"2024-{m:02d}" for m in range(1, 7)]


def default_fits(project: Path) -> dict[str, float]:
    """Each family fitted once with library defaults on the same prepared split: the floor."""
    import os

    from pipeline import params as P
    from pipeline.core.files import read_frame
    from pipeline.core.schema import from_params
    from pipeline.modeling.estimators import build_estimator, build_preprocessor

    cwd = os.getcwd()
    os.chdir(project)
    try:
        params = P.load()
        schema = from_params(params)
        train = read_frame("data/prepared/train.parquet")
        y = schema.class_index(train[schema.target])
        out = {}
        for family in params["models"]:
            t0 = time.perf_counter()
            pre = build_preprocessor(schema, scale=family == "logistic")
            X = pre.fit_transform(train[schema.features])
            build_estimator(family, {}, len(schema.classes), 0, 2, 0).fit(X, y)
            out[family] = time.perf_counter() - t0
        return out
    finally:
        os.chdir(cwd)


TARGETS = {"repro_s": 90.0, "ratio": 5.0, "accuracy": 0.871 - 0.003}


def bench(label: str, rows_per_batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp), PERIODS, rows_per_batch, fast=False)
        t0 = time.perf_counter()
        out = run(["dvc", "repro"], project)
        total = time.perf_counter() - t0
        stages = [line for line in out.stdout.splitlines() if line.startswith("Running stage")]
        floor = default_fits(project)
        metrics = json.loads((project / "reports/metrics.json").read_text())
        print(f"\n== {label}: {rows_per_batch * len(PERIODS):,} rows, {len(stages)} stages, "
              f"full dvc repro {total:.1f}s (selected {metrics['selected']}, "
              f"test accuracy {metrics['accuracy']:.4f}) ==")
        print(f"{'family':<14}{'trials':>7}{'search s':>10}{'default fit s':>15}{'ratio':>8}"
              f"{'val score':>11}")
        for family, floor_s in floor.items():
            rep = json.loads((project / f"reports/candidates/{family}.json").read_text())
            took = json.loads((project / TIMINGS / f"{family}.json").read_text())["train_seconds"]
            print(f"{family:<14}{len(rep['trials']):>7}{took:>10.1f}{floor_s:>15.1f}"
                  f"{took / floor_s:>8.1f}{rep['validation_score']:>11.4f}")
        noop0 = time.perf_counter()
        run(["dvc", "repro"], project)
        print(f"no-op repro: {time.perf_counter() - noop0:.1f}s")
        floor_total = sum(floor.values())
        print(f"full repro {total:.1f}s | floor (one default fit per family) {floor_total:.1f}s | "
              f"ratio {total / floor_total:.1f}x | selected {metrics['selected']} test accuracy "
              f"{metrics['accuracy']:.4f}")
        return {"repro_s": total, "ratio": total / floor_total, "accuracy": metrics["accuracy"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="total rows of the large run")
    parser.add_argument("--skip-example", action="store_true", help="only the large run")
    args = parser.parse_args()
    if not args.skip_example:
        bench("example data", 5000)
    large = bench("large", args.rows // len(PERIODS))
    if args.rows != 100_000:
        return 0
    print("\ntargets (100k rows):")
    ok = True
    for key, target in TARGETS.items():
        passed = large[key] >= target if key == "accuracy" else large[key] <= target
        ok &= passed
        print(f"  {key:9s} {large[key]:8.3f}  ({'>=' if key == 'accuracy' else '<='} {target:g})  "
              f"{'ok' if passed else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
