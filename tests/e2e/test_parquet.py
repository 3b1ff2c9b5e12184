"""Parquet batches beside CSV: the example pipeline end to end from Parquet, and the file-level
contract's Parquet checks (schema and types instead of delimiters and encodings)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.support.project import cli, make_project, run, simulate_batches


@pytest.mark.slow
def test_example_pipeline_end_to_end_from_parquet_batches(tmp_path):
    project = make_project(tmp_path, suffix=".parquet", overrides={"data": {"pattern": "*.parquet"}},
                           families=("lightgbm", "logistic"))  # the format is the subject, not the search
    batches = sorted((project / "data" / "batches").iterdir())
    assert [p.suffix for p in batches] == [".parquet"] * 3
    run(["dvc", "repro"], project)
    validation = json.loads((project / "reports" / "validation.json").read_text())
    assert validation["success"] and set(validation["batches"]) == {
        f"data/batches/{p.name}" for p in batches}
    manifest = json.loads((project / "data" / "prepared" / "manifest.json").read_text())
    assert [f["path"] for f in manifest["files"]] == [f"data/batches/{p.name}" for p in batches]
    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    assert metrics["accuracy"] >= metrics["majority_baseline"] + 0.10
    drift = json.loads((project / "reports" / "drift.json").read_text())
    assert drift["current"]["name"] == "2024-03.parquet"

    # the same rows as CSV give the same statistics: the format is not part of the verdict
    for p in batches[1:]:
        pd.read_parquet(p).to_csv(tmp_path / f"{p.stem}.csv", index=False)
    out_pq, out_csv = tmp_path / "pq.json", tmp_path / "csv.json"
    cli(["drift", "--reference", str(batches[1]), "--current", str(batches[2]), "-o", str(out_pq)],
        project)
    cli(["drift", "--reference", str(tmp_path / "2024-02.csv"), "--current",
         str(tmp_path / "2024-03.csv"), "-o", str(out_csv)], project)
    a, b = json.loads(out_pq.read_text()), json.loads(out_csv.read_text())
    assert a["features"] == b["features"] and a["n_features"] == 21

    # predict reads Parquet and writes Parquet, rows in input order
    raw = simulate_batches(tmp_path / "new", ["2024-04"], 300, suffix=".parquet")[0]
    frame = pd.read_parquet(raw).drop(columns=["nivel_riesgo"]).iloc[::-1]
    frame.to_parquet(raw, index=False)
    cli(["predict", str(raw), "-o", str(tmp_path / "scored.parquet"), "--model", "models/model.skops"],
        project)  # the reproduced, uncommitted model (the default is the registry's prod stage)
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert scored["id_solicitud"].tolist() == frame["id_solicitud"].tolist()

    # merged; then an inflated Parquet batch arrives: drift against the production model's window
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "first model"], project)
    simulate_batches(project / "data" / "batches", ["2025-06"], 1200, "salary_inflation", seed=9,
                     suffix=".parquet")
    cli(["drift"], project)
    drift = json.loads((project / "reports" / "drift.json").read_text())
    assert drift["current"]["name"] == "2025-06.parquet" and not drift["reference"]["fallback"]
    assert drift["reference"]["files"] == [f"data/batches/{p.name}" for p in batches]
    assert "salario_mensual" in drift["drifted_features"]
    assert drift["prediction_drift"]["class_mix"] and drift["concept_drift"]["available"]


def test_schema_and_expectations_init_from_parquet(tmp_path):
    project = make_project(tmp_path, git=False, suffix=".parquet")
    data = project / "data" / "batches"
    (project / "params.yaml").write_text("seed: 1\n")
    cli(["schema", "--data", str(data), "--target", "nivel_riesgo", "--id", "id_solicitud",
         "--time", "periodo"], project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"]["pattern"] == "*.parquet"
    assert "salario_mensual" in params["schema"]["numeric"]
    assert "ciudad" in params["schema"]["categorical"]
    out = cli(["expectations", "init", "-o", str(tmp_path / "suite.json"), "--from",
               *map(str, sorted(data.glob("*.parquet")))], project)
    assert "3 batches, 3600 rows" in out.stdout
    suite = json.loads((tmp_path / "suite.json").read_text())
    assert any(e["kwargs"].get("column") == "ciudad" for e in suite["expectations"])


def test_batch_files_ignores_dvc_pointers_and_refuses_a_period_in_two_formats(tmp_path):
    from pipeline.core.files import batch_files
    from pipeline.errors import PipelineError

    simulate_batches(tmp_path, ["2024-01"], 50, suffix=".parquet")
    simulate_batches(tmp_path, ["2024-02"], 50)
    (tmp_path / "2024-01.parquet.dvc").write_text("outs: []\n")
    assert [p.name for p in batch_files(tmp_path, "*")] == ["2024-01.parquet", "2024-02.csv"]
    simulate_batches(tmp_path, ["2024-02"], 50, suffix=".parquet")
    with pytest.raises(PipelineError, match=r"2024-02\.parquet: period '2024-02' is also delivered "
                                            r"as 2024-02\.csv"):
        batch_files(tmp_path, "*")


def _validate_one_line(project: Path) -> str:
    proc = cli(["validate"], project, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def parquet_project(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("pq")
    project = make_project(base, git=False, rows=400, suffix=".parquet",
                           overrides={"data": {"pattern": "*.parquet"}})
    return project


@pytest.mark.parametrize("case, expected", [
    ("not_parquet", "data/batches/2024-03.parquet: not a readable Parquet file (Parquet magic bytes "
                    "not found"),
    ("empty", "data/batches/2024-03.parquet: file is empty (the contract is a Parquet file"),
    ("no_rows", "data/batches/2024-03.parquet: no data rows (the Parquet file has a schema only)"),
    ("numeric_as_text", "data/batches/2024-03.parquet: column 'edad': stored as string in the Parquet "
                        "schema, the contract says numeric"),
    ("duplicated", "data/batches/2024-03.parquet: column 'edad': duplicated column name (2 times in the "
                   "Parquet schema)"),
    ("truncated", "data/batches/2024-03.parquet: not a readable Parquet file"),
])
def test_parquet_file_contract_one_line_errors(parquet_project, case, expected):
    path = parquet_project / "data" / "batches" / "2024-03.parquet"
    good = path.read_bytes()
    table = pq.read_table(path)
    try:
        if case == "not_parquet":
            path.write_text("id,edad\n1,30\n")  # a CSV under a .parquet name
        elif case == "empty":
            path.write_bytes(b"")
        elif case == "no_rows":
            pq.write_table(table.slice(0, 0), path)
        elif case == "numeric_as_text":
            i = table.schema.get_field_index("edad")
            pq.write_table(table.set_column(i, "edad", table.column("edad").cast(pa.string())), path)
        elif case == "duplicated":
            pq.write_table(table.append_column("edad", table.column("edad")), path)
        elif case == "truncated":
            path.write_bytes(good[: len(good) // 2])
        line = _validate_one_line(parquet_project)
        assert line.startswith("error: " + expected) or line.startswith(expected), line
        report = json.loads((parquet_project / "reports" / "validation.json").read_text())
        assert report["batches"]["data/batches/2024-03.parquet"]["success"] is False
    finally:
        path.write_bytes(good)
