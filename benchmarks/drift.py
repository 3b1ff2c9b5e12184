"""Benchmark: the drift stage's statistics vs a plain per-column scipy loop vs Evidently, same run.

    .venv/bin/python -m benchmarks.drift [--rows 1000000] [--repeat 2] [--skip-evidently]
                                         [--big-rows 10000000 --big-cols 20 | --skip-big]

1,000,000 rows × (10 numeric + 2 categorical) per side, written once as CSV under benchmarks/.cache/
(four numeric columns and one categorical column drifted, the rest drawn from one distribution):

- this stage: `pipeline.drift.data.data_drift` (one sort per numeric column, one merge, every statistic);
- the baseline: per column `scipy.stats.ks_2samp`, `mannwhitneyu`, `wasserstein_distance`, and
  `pd.crosstab` + `chi2_contingency` for categories, as one would write it by hand;
- Evidently 0.7 `DataDriftPreset` in its own environment (it does not import with pandas 3): created
  once under benchmarks/.cache/evidently-venv with `uv` (pandas < 3), run as a subprocess.

Compute-only times are best of `--repeat` (the scipy loop and Evidently run once: they are slow),
beside the floor: `np.sort` of the same numeric columns (both sides), one core and on every core as
the stage spreads its columns. End to end is a fresh process each, timed from outside: the stage's own
command (`python -m pipeline drift --reference --current -o`: start-up, imports, reading both CSVs
with pyarrow, every statistic, the JSON) against a script that reads them with pandas' default engine
and runs the scipy loop. Every KS, Mann–Whitney, Wasserstein and chi-squared statistic and p-value
of the stage is checked against scipy's (the script fails otherwise). Then 10,000,000 rows × 20 columns
per side in a child process, for peak memory (getrusage max RSS, and tracemalloc's peak of what the
computation allocated on top of the data). Targets: ≥ 10× the scipy loop and ≥ 50× Evidently on the
computation, statistics ≤ 2× the cost of sorting the same columns (on the same cores), ≥ 4× the scipy
loop end to end (processes), 10M × 20 within 8 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from benchmarks.timing import best

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
EVIDENTLY_VENV = CACHE / "evidently-venv"
EVIDENTLY_REQ = ["evidently==0.7.23", "pandas<3", "pyarrow"]
DRIFT = yaml.safe_load((ROOT / "params.yaml").read_text())["drift"]  # the repository's thresholds
NUMERIC = [f"num_{i}" for i in range(10)]
CATEGORICAL = ["city", "channel"]
DRIFTED = {"num_0": "mean +0.25 SD", "num_1": "scale x1.3", "num_2": "5% tail mixture",
           "num_3": "integer, ties, mean +0.3 SD", "city": "re-weighted"}
TARGETS = {"scipy_compute": 10.0, "evidently_compute": 50.0, "scipy_end_to_end": 4.0, "sort_ratio": 2.0,
           "big_peak_gib": 8.0}
AT_MOST = {"sort_ratio", "big_peak_gib"}  # targets that are ceilings; the others are floors


# --- data -----------------------------------------------------------------------------------------------


def make_frame(rows: int, seed: int, drifted: bool, n_numeric: int = 10):
    """Numeric columns of several shapes (continuous, skewed, tied) and two categoricals."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(n_numeric):
        kind = i % 5
        if kind == 0:
            x = rng.normal(size=rows) + (0.25 if drifted and i == 0 else 0.0)
        elif kind == 1:
            x = rng.lognormal(15, 0.45, size=rows)
            if drifted and i == 1:  # spread about the mean grows by 30 %
                m = np.exp(15 + 0.45**2 / 2)
                x = m + (x - m) * 1.3
        elif kind == 2:
            x = rng.normal(size=rows)
            if drifted and i == 2:
                far = rng.random(rows) < 0.05
                x = np.where(far, rng.normal(4, 1, size=rows), x)
        elif kind == 3:
            x = rng.poisson(3.0 + (0.3 * 3**0.5 if drifted and i == 3 else 0.0), size=rows).astype(float)
        else:
            x = rng.gamma(2.0, 2.0, size=rows)
        cols[f"num_{i}"] = x
    city_p = [0.36, 0.2, 0.14, 0.1, 0.08, 0.07, 0.05]
    if drifted:
        city_p = [0.2, 0.2, 0.14, 0.1, 0.08, 0.18, 0.1]
    cities = np.array(["Bogotá", "Medellín", "Cali", "Barranquilla", "Bucaramanga", "Cartagena", "Pereira"])
    channels = np.array(["Oficina", "Digital", "Asesor"])
    cols["city"] = pd.Categorical.from_codes(rng.choice(7, rows, p=city_p), cities).astype("str")
    cols["channel"] = pd.Categorical.from_codes(rng.choice(3, rows, p=[0.45, 0.35, 0.2]),
                                                channels).astype("str")
    return pd.DataFrame(cols)


def csv_files(rows: int) -> tuple[Path, Path]:
    """Reference and current CSVs, written once (pyarrow writes floats exactly, shortest repr)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    paths = CACHE / f"drift-{rows}-reference.csv", CACHE / f"drift-{rows}-current.csv"
    CACHE.mkdir(parents=True, exist_ok=True)
    for path, seed, drifted in ((paths[0], 1, False), (paths[1], 2, True)):
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            pacsv.write_csv(pa.Table.from_pandas(make_frame(rows, seed, drifted), preserve_index=False), tmp)
            tmp.replace(path)
    return paths


# --- the three contenders -----------------------------------------------------------------------------


def stage(ref, cur) -> dict:
    from pipeline.drift import data as drift

    return drift.data_drift(ref, cur, NUMERIC, CATEGORICAL, DRIFT)


def scipy_loop(ref, cur) -> dict:
    """What one writes by hand: scipy per column."""
    import pandas as pd
    from scipy import stats

    out = {}
    for col in NUMERIC:
        a, b = ref[col].to_numpy(), cur[col].to_numpy()
        ks, mw = stats.ks_2samp(a, b), stats.mannwhitneyu(a, b)
        out[col] = {"ks": (float(ks.statistic), float(ks.pvalue)), "mw": (float(mw.statistic),
                    float(mw.pvalue)), "wasserstein": float(stats.wasserstein_distance(a, b))}
    for col in CATEGORICAL:
        side = pd.Series(["reference"] * len(ref) + ["current"] * len(cur))
        table = pd.crosstab(side, pd.concat([ref[col], cur[col]], ignore_index=True))
        res = stats.chi2_contingency(table.to_numpy())
        out[col] = {"chi2": (float(res.statistic), float(res.pvalue))}
    return out


def sort_floor(ref, cur, threads: int) -> None:
    """np.sort of every numeric column of both sides (float64, as the stage sorts them)."""
    import numpy as np

    arrays = [frame[col].to_numpy(dtype=np.float64) for frame in (ref, cur) for col in NUMERIC]
    if threads == 1:
        for a in arrays:
            np.sort(a)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(np.sort, arrays))


SCIPY_SCRIPT = r"""
import json, sys
import pandas as pd
from benchmarks.drift import scipy_loop
ref, cur = pd.read_csv(sys.argv[1]), pd.read_csv(sys.argv[2])
json.dump(scipy_loop(ref, cur), open(sys.argv[3], "w"))
"""


def end_to_end(ref_path: Path, cur_path: Path, repeat: int) -> tuple[float, float]:
    """Wall time of a fresh process each: the stage's command, and a plain scipy script."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # the thresholds from this repository's params.yaml;
        env = {**os.environ, "PYTHONPATH": str(ROOT)}  # its schema's columns are not there: inferred

        def stage_cmd():
            subprocess.run([sys.executable, "-m", "pipeline", "--params", str(ROOT / "params.yaml"),
                            "drift", "--reference", str(ref_path),
                            "--current", str(cur_path), "-o", "drift.json"], cwd=tmp, env=env, check=True,
                           capture_output=True)

        def scipy_cmd():
            subprocess.run([sys.executable, "-c", SCIPY_SCRIPT, str(ref_path), str(cur_path), "scipy.json"],
                           cwd=tmp, env=env, check=True, capture_output=True)

        ours, _ = best(stage_cmd, repeat)
        theirs, _ = best(scipy_cmd, 1)
    return ours, theirs


def check_equal(ours: dict, theirs: dict) -> dict[str, float]:
    """Largest relative difference per statistic; fails the run beyond 1e-12 (stat) / 1e-9 (p)."""
    worst: dict[str, float] = {}

    def rel(a: float, b: float) -> float:
        return 0.0 if a == b else abs(a - b) / max(abs(b), 1e-300)

    for col, t in theirs.items():
        f = ours["features"][col]
        pairs = ([("ks", f["ks"]["statistic"], t["ks"][0]), ("ks_p", f["ks"]["pvalue"], t["ks"][1]),
                  ("mw", f["mann_whitney"]["statistic"], t["mw"][0]),
                  ("mw_p", f["mann_whitney"]["pvalue"], t["mw"][1]),
                  ("wasserstein", f["wasserstein"], t["wasserstein"])] if "ks" in t else
                 [("chi2", f["chi2"]["statistic"], t["chi2"][0]),
                  ("chi2_p", f["chi2"]["pvalue"], t["chi2"][1])])
        for name, a, b in pairs:
            worst[name] = max(worst.get(name, 0.0), rel(a, b))
    for name, value in worst.items():
        limit = 1e-9 if name.endswith("_p") else 1e-12
        if value > limit:
            raise SystemExit(f"FAIL: {name} differs from scipy by {value:.3g} (limit {limit})")
    return worst


EVIDENTLY_SCRIPT = r"""
import json, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
ref_path, cur_path = sys.argv[1], sys.argv[2]
numeric, categorical = sys.argv[3].split(","), sys.argv[4].split(",")
t0 = time.perf_counter()
ref = pd.read_csv(ref_path, engine="pyarrow")
cur = pd.read_csv(cur_path, engine="pyarrow")
t1 = time.perf_counter()
dd = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
report = Report([DataDriftPreset()])
result = report.run(Dataset.from_pandas(cur, data_definition=dd),
                    Dataset.from_pandas(ref, data_definition=dd))
t2 = time.perf_counter()
drifted, methods = [], {}
for m in result.dict()["metrics"]:
    cfg = m.get("config", {})
    if cfg.get("column") is not None:
        methods[cfg["column"]] = cfg.get("method")
        value, threshold = m["value"], cfg.get("threshold")
        # p-value methods drift below the threshold, distances above it
        is_p = "p_value" in str(cfg.get("method"))
        if (value < threshold) if is_p else (value >= threshold):
            drifted.append(cfg["column"])
print(json.dumps({"read": t1 - t0, "compute": t2 - t1, "drifted": sorted(drifted), "methods": methods}))
"""


def evidently_env() -> Path:
    """Create the benchmark-only Evidently environment (pandas < 3) once; return its python."""
    python = EVIDENTLY_VENV / "bin" / "python"
    if python.exists():
        return python
    uv = Path(sys.executable).parent / "uv"
    print(f"creating {EVIDENTLY_VENV} ({', '.join(EVIDENTLY_REQ)}) ...", flush=True)
    subprocess.run([str(uv), "venv", "-q", "-p", "3.11", str(EVIDENTLY_VENV)], check=True)
    subprocess.run([str(uv), "pip", "install", "-q", *EVIDENTLY_REQ], check=True,
                   env={**os.environ, "VIRTUAL_ENV": str(EVIDENTLY_VENV)})
    return python


def run_evidently(ref_path: Path, cur_path: Path) -> dict:
    python = evidently_env()
    proc = subprocess.run([str(python), "-c", EVIDENTLY_SCRIPT, str(ref_path), str(cur_path),
                           ",".join(NUMERIC), ",".join(CATEGORICAL)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"Evidently failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- 10M × 20: peak memory in a child process ------------------------------------------------------------


def memory_child(rows: int, cols: int) -> None:
    """Build both sides in memory, then run the stage's computation; print JSON figures."""
    import resource
    import tracemalloc

    import numpy as np

    from pipeline.drift import data as drift

    n_numeric = cols - 2
    t0 = time.perf_counter()
    ref = make_frame(rows, 1, False, n_numeric)
    cur = make_frame(rows, 2, True, n_numeric)
    data_bytes = int(ref.memory_usage(deep=True).sum() + cur.memory_usage(deep=True).sum())
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t1 = time.perf_counter()
    tracemalloc.start()
    numeric = [c for c in ref.columns if c.startswith("num_")]
    result = drift.data_drift(ref, cur, numeric, CATEGORICAL, DRIFT)
    t2 = time.perf_counter()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": rows, "cols": cols, "data_bytes": data_bytes, "rss_after_data": rss_data,
                      "peak_rss": peak, "compute_extra_peak": traced_peak, "generate_s": t1 - t0,
                      "compute_s": t2 - t1, "drifted": result["drifted_features"],
                      "numpy": np.__version__}))


# --- main ------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument("--big-cols", type=int, default=20)
    parser.add_argument("--memory-child", nargs=2, type=int, metavar=("ROWS", "COLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return 0


    from pipeline.core.files import read_csv

    ref_path, cur_path = csv_files(args.rows)
    mib = (ref_path.stat().st_size + cur_path.stat().st_size) / 2**20
    print(f"data: {args.rows:,} rows x ({len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical) per side, "
          f"{mib:,.0f} MiB of CSV; drifted: {', '.join(f'{k} ({v})' for k, v in DRIFTED.items())}")

    # imports are not computation: warm both paths up on a small slice first
    small_ref, small_cur = make_frame(2000, 5, False), make_frame(2000, 6, True)
    stage(small_ref, small_cur), scipy_loop(small_ref, small_cur)
    read_stage, (ref, cur) = best(lambda: (read_csv(ref_path), read_csv(cur_path)), args.repeat)
    ours_s, ours = best(lambda: stage(ref, cur), args.repeat)
    loop_s, theirs = best(lambda: scipy_loop(ref, cur), 1)
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    sort1_s, _ = best(lambda: sort_floor(ref, cur, 1), args.repeat)
    sortn_s, _ = best(lambda: sort_floor(ref, cur, threads), args.repeat)
    worst = check_equal(ours, theirs)
    print("statistics equal to scipy: largest relative difference "
          + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    print(f"drifted (this stage): {', '.join(ours['drifted_features'])} -> {ours['recommendation']}")
    if sorted(ours["drifted_features"]) != sorted(DRIFTED):
        raise SystemExit(f"FAIL: expected exactly {sorted(DRIFTED)} drifted")
    e2e_ours, e2e_loop = end_to_end(ref_path, cur_path, args.repeat)

    rows = [("compute", ours_s, loop_s, None)]
    evid = None
    if not args.skip_evidently:
        evid = run_evidently(ref_path, cur_path)
        rows[0] = ("compute", ours_s, loop_s, evid["compute"])
        print(f"drifted (Evidently defaults): {', '.join(evid['drifted'])}")
    e2e_evid = (evid["read"] + evid["compute"]) if evid else None
    rows.append(("end to end", e2e_ours, e2e_loop, e2e_evid))

    print(f"\n{'':16s}{'this stage':>12s}{'scipy loop':>12s}{'Evidently':>12s}{'vs scipy':>10s}"
          f"{'vs Evid.':>10s}")
    for name, a, b, c in rows:
        cells = f"{name:16s}{a:11.2f}s{b:11.2f}s" + (f"{c:11.2f}s" if c is not None else f"{'-':>12s}")
        cells += f"{b / a:9.1f}x" + (f"{c / a:9.1f}x" if c is not None else f"{'-':>10s}")
        print(cells)
    print(f"(end to end: a fresh process each, start-up and imports included; this stage reads with "
          f"pyarrow, the scipy script with pandas' default engine; Evidently: read + compute in its "
          f"process. Reading both CSVs in this process: {read_stage:.2f}s)")
    print(f"floor: np.sort of the {2 * len(NUMERIC)} numeric columns {sort1_s:.2f}s on one core, "
          f"{sortn_s:.2f}s on {threads}; statistics / sort on {threads} = {ours_s / sortn_s:.2f}x "
          f"(on one core's sort {ours_s / sort1_s:.2f}x)")
    ratios = {"scipy_compute": loop_s / ours_s, "scipy_end_to_end": e2e_loop / e2e_ours,
              "sort_ratio": ours_s / sortn_s}
    if evid:
        ratios["evidently_compute"] = evid["compute"] / ours_s

    big = None
    if not args.skip_big:
        print(f"\n{args.big_rows:,} rows x {args.big_cols} columns per side (child process) ...", flush=True)
        proc = subprocess.run([sys.executable, "-m", __spec__.name, "--memory-child", str(args.big_rows),
                               str(args.big_cols)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"big run failed:\n{proc.stderr[-3000:]}")
        big = json.loads(proc.stdout.strip().splitlines()[-1])
        gib = 2**30
        print(f"data in memory {big['data_bytes'] / gib:.2f} GiB "
              f"(RSS {big['rss_after_data'] / gib:.2f} GiB); "
              f"peak RSS {big['peak_rss'] / gib:.2f} GiB; the computation's own peak "
              f"{big['compute_extra_peak'] / gib:.2f} GiB; compute {big['compute_s']:.1f}s; "
              f"drifted: {', '.join(big['drifted'])}")
        ratios["big_peak_gib"] = big["peak_rss"] / gib

    print("\ntargets:")
    ok = True
    for key, target in TARGETS.items():
        if key not in ratios:
            continue
        value = ratios[key]
        passed = value <= target if key in AT_MOST else value >= target
        ok &= passed
        unit = " GiB" if key == "big_peak_gib" else "x"
        sign = "<=" if key in AT_MOST else ">="
        print(f"  {key:18s} {value:7.1f}{unit}  (target {sign} {target}{unit.strip()})  "
              f"{'ok' if passed else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
