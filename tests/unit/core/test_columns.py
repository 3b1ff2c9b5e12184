"""Statistics over Parquet larger than memory: streamed column by column, blocked merge, and the same
numbers as in memory (KS, Mann–Whitney, Wasserstein to 1e-9) and as scipy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps

from pipeline.core import stats
from tests.support.project import ROOT, cli, make_project


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("block", [1, 7, 1000, stats.MERGE_BLOCK])
def test_blocked_merge_equals_one_pass_and_scipy(ties, block):
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 20_000), rng.normal(0.05, 1.1, 15_000)
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    xs, ys = np.sort(a), np.sort(b)
    got, whole = stats.numeric(xs, ys, block=block), stats.numeric(xs, ys, block=xs.size + ys.size)
    ks, mw = sps.ks_2samp(a, b), sps.mannwhitneyu(a, b)
    assert got["ks"]["statistic"] == whole["ks"]["statistic"] == ks.statistic
    assert got["ks"]["pvalue"] == pytest.approx(ks.pvalue, rel=1e-9, abs=1e-300)
    assert got["mann_whitney"]["statistic"] == mw.statistic
    assert got["mann_whitney"]["pvalue"] == pytest.approx(mw.pvalue, rel=1e-9, abs=1e-300)
    assert got["wasserstein"] == pytest.approx(sps.wasserstein_distance(a, b), rel=1e-9)
    assert got["distinct_values"] == np.unique(np.concatenate([a, b])).size
    assert got["psi"] == whole["psi"] and got["bins"] == whole["bins"]


def test_streamed_drift_equals_in_memory_drift(tmp_path):
    """The drift report of two Parquet files streamed column by column (in_memory_rows: 0) equals the
    in-memory one, with nulls, integers and categories (a new one, a missing one) in play."""
    from pipeline.drift.data import data_drift
    from pipeline.params import load
    from pipeline.stages import drift

    DRIFT = load(ROOT / "params.yaml")["drift"]  # the repository's knobs

    rng = np.random.default_rng(5)
    n = 30_000
    ref = pd.DataFrame({"x": rng.normal(0, 1, n), "k": rng.integers(0, 40, n),
                        "c": rng.choice(["a", "b", "c"], n)})
    cur = pd.DataFrame({"x": rng.normal(0.1, 1, n // 2), "k": rng.integers(0, 45, n // 2),
                        "c": rng.choice(["a", "b", "d"], n // 2)})
    ref.loc[::97, "x"] = np.nan
    cur.loc[::13, "c"] = None
    paths = []
    for name, frame in (("ref", ref), ("cur", cur)):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=4096)
        paths.append(path)
    streamed = drift.read_batches([paths[0]], limit_rows=0), drift.read_batches([paths[1]], limit_rows=0)
    in_memory = drift.read_batches([paths[0]]), drift.read_batches([paths[1]])
    from pipeline.core.columns import ParquetColumns

    assert isinstance(streamed[0], ParquetColumns) and isinstance(in_memory[0], pd.DataFrame)
    a = data_drift(*streamed, ["x", "k"], ["c"], DRIFT)
    b = data_drift(*in_memory, ["x", "k"], ["c"], DRIFT)
    assert a["drifted_features"] == b["drifted_features"] and a["share_drifted"] == b["share_drifted"]
    for col in ("x", "k"):
        fa, fb = a["features"][col], b["features"][col]
        for key in ("ks", "mann_whitney"):
            for part in ("statistic", "pvalue"):
                assert fa[key][part] == pytest.approx(fb[key][part], rel=1e-9, abs=1e-300), (col, key)
        assert fa["wasserstein"] == pytest.approx(fb["wasserstein"], rel=1e-9)
        assert fa["missing"] == fb["missing"] and fa["bins"] == fb["bins"]
    assert a["features"]["c"]["shares"] == b["features"]["c"]["shares"]
    assert a["features"]["c"]["chi2"] == b["features"]["c"]["chi2"]


def test_streamed_drift_command_and_its_one_line_errors(tmp_path):
    project = make_project(tmp_path, git=False, rows=800, suffix=".parquet",
                           overrides={"data": {"pattern": "*.parquet"}, "drift": {"in_memory_rows": 10}})
    batches = sorted((project / "data" / "batches").glob("*.parquet"))
    out = tmp_path / "d.json"
    cli(["drift", "--reference", str(batches[0]), "--current", str(batches[2]), "-o", str(out)], project)
    report = json.loads(out.read_text())
    assert report["n_features"] == 21 and report["reference"]["rows"] == 800
    assert "streamed" in report["prediction_drift"]["reason"]

    # text stored in a numeric column: the in-memory reader's line, from the Parquet schema
    table = pq.read_table(batches[2])
    i = table.schema.get_field_index("edad")
    pq.write_table(table.set_column(i, "edad", table.column("edad").cast(pa.string())), batches[2])
    proc = cli(["drift", "--reference", str(batches[0]), "--current", str(batches[2]), "-o", str(out)],
               project, check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].endswith(
        "2024-03.parquet: column 'edad': expected numbers (a numeric feature), found string in the "
        "Parquet schema")
    batches[2].write_bytes(b"PAR1 not really")
    proc = cli(["drift", "--reference", str(batches[0]), "--current", str(batches[2]), "-o", str(out)],
               project, check=False)
    assert "2024-03.parquet: cannot be read as Parquet" in proc.stderr


def test_monitoring_streams_a_large_parquet_training_window(tmp_path, monkeypatch):
    """Over drift.in_memory_rows the unchanged Parquet training window is streamed by column: the
    monitoring drift verdict is the in-memory one; prediction drift is reported as not measured."""

    from pipeline.core.columns import ParquetColumns
    from pipeline.core.files import sha256
    from pipeline.core.schema import from_params
    from pipeline.modeling.estimators import build_estimator, build_preprocessor
    from pipeline.modeling.estimators import saved_form as _pipeline
    from pipeline.monitoring import inputs, scoring
    from pipeline.params import load

    project = make_project(tmp_path, git=False, rows=600, suffix=".parquet")
    monkeypatch.chdir(project)
    params = load("params.yaml")
    schema = from_params(params)
    files = sorted(Path("data/batches").glob("*.parquet"))
    entries = [{"path": p.as_posix(), "sha256": sha256(p)} for p in files[:2]]
    assert inputs.streamed_reference(entries, {"in_memory_rows": 10_000}) is None
    streamed = inputs.streamed_reference(entries, {"in_memory_rows": 10})
    assert isinstance(streamed, ParquetColumns) and len(streamed) == 1200

    frame = pd.concat([pd.read_parquet(p) for p in files[:2]], ignore_index=True)
    pre = build_preprocessor(schema, scale=True).fit(frame[schema.features])
    est = build_estimator("logistic", {}, len(schema.classes), 0, 1, 0)
    est.fit(pre.transform(frame[schema.features]), schema.class_index(frame[schema.target]))
    model = _pipeline(pre, est)
    current = pd.read_parquet(files[2])
    a, _ = scoring.score_period(files[2], current, model, schema, params["monitor"], None, streamed,
                                params["drift"])
    b, _ = scoring.score_period(files[2], current, model, schema, params["monitor"], None, frame,
                                params["drift"])
    assert a["data_drift"] == b["data_drift"] and a["accuracy"] == b["accuracy"]
    assert a["prediction_drift"] is None and "streamed" in a["prediction_drift_detail"]["reason"]
    assert b["prediction_drift"] is not None

    entries[0]["sha256"] = "0" * 64  # changed since training: the verified in-memory path instead
    assert inputs.streamed_reference(entries, {"in_memory_rows": 10}) is None


def test_validation_of_a_streamed_parquet_batch_equals_in_memory(tmp_path, monkeypatch):
    """Above validate.in_memory_rows a Parquet batch is checked one column at a time: the same
    findings, the same one-line error."""
    from pipeline.stages.validate import validate_batches

    project = make_project(tmp_path, git=False, rows=500, suffix=".parquet",
                           overrides={"data": {"pattern": "*.parquet"}})
    path = project / "data" / "batches" / "2024-03.parquet"
    frame = pd.read_parquet(path)
    frame.loc[[3, 7], "ciudad"] = "Gotham"
    frame.loc[5, "edad"] = -4
    frame.to_parquet(path, index=False)
    from pipeline.params import load

    params = load(project / "params.yaml")
    reports = {}
    monkeypatch.chdir(project)
    for limit in (None, 0):
        params["validate"]["in_memory_rows"] = limit
        reports[limit] = validate_batches(params, tmp_path / f"v{limit}.json")
    streamed, in_memory = reports[0]["batches"], reports[None]["batches"]
    assert streamed == in_memory
    bad = streamed["data/batches/2024-03.parquet"]
    assert not bad["success"] and any("column 'ciudad': unseen category values" in e and "rows 5, 9" in e
                                      for e in bad["errors"])
    assert any("column 'edad': out of range" in e for e in bad["errors"])
