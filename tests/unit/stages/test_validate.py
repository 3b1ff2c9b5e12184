"""The data contract stops every kind of bad delivery with one clear line and changes nothing.

A corpus of bad batches is generated here from a good simulated one. Every kind runs through the
validate stage's command (`python -m pipeline validate`, in-process so GX is imported once) in a
real git + DVC project; a representative handful runs through a real `dvc repro`, which must stop
before `prepare` and leave the git-tracked data and every file under models/ byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tests.support.project import make_project, run, write_params

BAD = "data/batches/2024-04.csv"


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def _edit(fn: Callable[[pd.DataFrame], pd.DataFrame | None]) -> Callable[[pd.DataFrame], bytes]:
    def make(good: pd.DataFrame) -> bytes:
        frame = good.copy()
        out = fn(frame)
        return _csv(frame if out is None else out)
    return make


def _set(col: str, rows: list[int], value) -> Callable[[pd.DataFrame], bytes]:
    def fn(f: pd.DataFrame) -> pd.DataFrame:
        f[col] = f[col].astype(object)
        f.loc[rows, col] = value
        return f
    return _edit(fn)


def _dup_ids(f: pd.DataFrame) -> None:
    f.loc[[7, 30], "id_solicitud"] = f.loc[3, "id_solicitud"]


# kind -> (bad bytes from the good frame, column named or None, words the error must contain)
CORPUS: dict[str, tuple[Callable[[pd.DataFrame], bytes], str | None, str]] = {
    "empty file": (lambda g: b"", None, "file is empty"),
    "header only": (lambda g: _csv(g.head(0)), None, "header only"),
    "semicolon export": (lambda g: g.to_csv(index=False, sep=";", decimal=",").encode(), None,
                         "wrong delimiter"),
    "undecodable bytes": (lambda g: g.to_csv(index=False).encode("latin-1"), None, "not valid UTF-8"),
    "truncated file": (lambda g: _csv(g)[: len(_csv(g)) // 2], None, "fields, the header has"),
    "missing target": (_edit(lambda f: f.drop(columns=["nivel_riesgo"])), "nivel_riesgo",
                       "target column missing"),
    "missing feature": (_edit(lambda f: f.drop(columns=["dti"])), "dti", "required column missing"),
    "duplicated column names": (lambda g: _csv(g).replace(b",ltv,", b",dti,", 1), "dti",
                                "duplicated column name"),
    "duplicated ids": (_edit(_dup_ids), "id_solicitud", "duplicated values"),
    "text in a numeric column": (_set("edad", [2, 15], "abc"), "edad", "text in a numeric column"),
    "unseen class label": (_set("nivel_riesgo", [4], "Muy alto"), "nivel_riesgo", "unseen class labels"),
    "unseen category": (_set("ciudad", [1, 9], "Gotham"), "ciudad", "unseen category values"),
    "out of range": (_set("edad", [5], 230), "edad", "out of range"),
    "excessive nulls": (_set("ingresos_adicionales", list(range(0, 1200, 3)), None),
                        "ingresos_adicionales", "excessive nulls"),
    "nulls in a column that allows none": (_set("salario_mensual", [8], None), "salario_mensual",
                                           "empty values"),
}
WARNINGS: dict[str, tuple[Callable[[pd.DataFrame], bytes], str]] = {
    "extra column": (_edit(lambda f: f.assign(comentario="x")), "unexpected extra columns"),
    "period not matching the file name": (_set("periodo", [0, 1], "2023-12"),
                                          "period does not match the file name"),
}
DVC_KINDS = ["semicolon export", "unseen category"]  # one file-level, one GX-level


def _tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def contract_project(tmp_path_factory) -> Path:
    """One committed project with good batches and a validated report (reused by every case)."""
    project = make_project(tmp_path_factory.mktemp("contract"), rows=1200)
    good = project / "data/batches/2024-03.csv"
    (project / "good-2024-03.csv").write_bytes(good.read_bytes())
    return project


@pytest.fixture
def in_project(contract_project, monkeypatch):
    monkeypatch.chdir(contract_project)
    yield contract_project
    (contract_project / BAD).unlink(missing_ok=True)


def _good(project: Path) -> pd.DataFrame:
    frame = pd.read_csv(project / "good-2024-03.csv", engine="pyarrow")
    frame["periodo"] = "2024-04"
    frame["id_solicitud"] = frame["id_solicitud"].str.replace("202403", "202404")
    return frame


def _validate(capsys) -> tuple[int, str, str]:
    from pipeline.cli import main

    code = main(["validate"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_good_batches_pass_and_unchanged_ones_are_reused(in_project, capsys):
    code, out, err = _validate(capsys)
    assert code == 0, err
    report = json.loads((in_project / "reports/validation.json").read_text())
    assert report["success"] and report["summary"]["failed"] == 0
    entry = report["batches"]["data/batches/2024-01.csv"]
    assert entry["rows"] == 1200 and entry["critical_failures"] == 0
    checks = {(r["check"], r["column"]) for r in entry["results"]}
    assert ("expect_column_values_to_be_unique", "id_solicitud") in checks
    assert all(r["severity"] in ("critical", "warning") for r in entry["results"])
    # a rerun reuses every stored result and rewrites identical bytes
    before = (in_project / "reports/validation.json").read_bytes()
    code, out, _ = _validate(capsys)
    assert code == 0 and "3 unchanged, reused" in out
    assert (in_project / "reports/validation.json").read_bytes() == before


@pytest.mark.parametrize("kind", list(CORPUS))
def test_bad_batch_stops_with_one_clear_line(in_project, capsys, kind):
    make, column, words = CORPUS[kind]
    batches = in_project / "data/batches"
    before = _tree_digest(batches)
    (in_project / BAD).write_bytes(make(_good(in_project)))
    bad_bytes = (in_project / BAD).read_bytes()
    code, out, err = _validate(capsys)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {BAD}: "), lines[0]
    if column:
        assert f"column '{column}'" in lines[0], lines[0]
    assert words in lines[0], lines[0]
    assert "Traceback" not in err
    assert (in_project / BAD).read_bytes() == bad_bytes
    after = _tree_digest(batches)
    after.pop("2024-04.csv")
    assert after == before
    assert not (in_project / "data/prepared").exists()
    report = json.loads((in_project / "reports/validation.json").read_text())
    entry = report["batches"][BAD]
    assert not report["success"] and not entry["success"]
    failed = [r for r in entry["results"] if not r["success"] and r["severity"] == "critical"]
    assert failed and (column is None or failed[0]["column"] == column)


def test_failure_details_name_rows_and_values(in_project, capsys):
    (in_project / BAD).write_bytes(CORPUS["unseen category"][0](_good(in_project)))
    code, _, err = _validate(capsys)
    assert code != 0
    # frame rows 1 and 9 are file rows 3 and 11 (the header is row 1)
    assert "(2 rows, e.g. rows 3, 11: values 'Gotham', 'Gotham')" in err
    report = json.loads((in_project / "reports/validation.json").read_text())
    hit = next(r for r in report["batches"][BAD]["results"] if r["column"] == "ciudad" and not r["success"])
    assert hit["unexpected_count"] == 2 and hit["unexpected_rows"] == [3, 11]
    assert hit["unexpected_percent"] == pytest.approx(100 * 2 / 1200, abs=1e-3)


@pytest.mark.parametrize("kind", list(WARNINGS))
def test_warnings_are_reported_and_let_the_run_go_on(in_project, capsys, kind):
    make, words = WARNINGS[kind]
    (in_project / BAD).write_bytes(make(_good(in_project)))
    code, out, err = _validate(capsys)
    assert code == 0, err
    assert words in out
    report = json.loads((in_project / "reports/validation.json").read_text())
    assert report["success"] and report["batches"][BAD]["warnings"] >= 1


def test_open_categories_turn_an_unseen_value_into_a_warning(in_project, capsys):
    (in_project / BAD).write_bytes(CORPUS["unseen category"][0](_good(in_project)))
    original = (in_project / "params.yaml").read_text()
    try:
        write_params(in_project, {"schema": {"open_categories": ["ciudad"]}})
        code, out, err = _validate(capsys)
    finally:
        (in_project / "params.yaml").write_text(original)
    assert code == 0, err
    assert "column 'ciudad': unseen category values" in out and "open set" in out


def test_predict_refuses_a_bad_row_with_the_same_message(in_project, capsys, tmp_path):
    from pipeline.cli import main
    from pipeline.core.suite_checks import check_frame
    from pipeline.params import load

    rows = _good(in_project).drop(columns=["nivel_riesgo"]).head(50)
    findings = check_frame(load("params.yaml"), "ok.csv", rows, labelled=False)
    assert findings and not any(f.column == "nivel_riesgo" for f in findings)
    bad = rows.copy()
    bad["edad"] = bad["edad"].astype(object)
    bad.loc[4, "edad"] = 999
    src, out = tmp_path / "to_score.csv", tmp_path / "scored.csv"
    bad.to_csv(src, index=False)
    code = main(["predict", str(src), "-o", str(out)])
    err = capsys.readouterr().err.strip()
    assert code != 0 and not out.exists()
    assert err == f"error: {src}: column 'edad': out of range [0, 129] (1 row, e.g. rows 6: values '999')"


@pytest.mark.slow
def test_real_dvc_repro_stops_before_anything_downstream(contract_project):
    """A representative handful through real `dvc repro`: non-zero, column named, nothing changed."""
    project = contract_project
    models = project / "models"
    models.mkdir(exist_ok=True)
    (models / "model.skops").write_bytes(os.urandom(64))  # stands in for a production model
    (models / "model_card.json").write_text('{"model": "production"}\n')
    tracked = run(["git", "ls-files", "data"], project).stdout.split()
    digest = {p: hashlib.sha256((project / p).read_bytes()).hexdigest() for p in tracked}
    models_before = _tree_digest(models)
    for kind in DVC_KINDS:
        make, column, words = CORPUS[kind]
        (project / BAD).write_bytes(make(_good(project)))
        proc = run(["dvc", "repro"], project, check=False)
        assert proc.returncode != 0, proc.stdout
        text = proc.stdout + proc.stderr
        assert f"error: {BAD}: column '{column}'" in text if column else f"error: {BAD}: " in text
        assert words in text
        assert "Running stage 'prepare'" not in text and not (project / "data/prepared").exists()
        assert {p: hashlib.sha256((project / p).read_bytes()).hexdigest() for p in tracked} == digest
        assert _tree_digest(models) == models_before
        (project / BAD).unlink()
    # only the stand-ins this test wrote are new (models/ itself is tracked once it holds the
    # champion pointer)
    status = run(["git", "status", "--porcelain", "--", "data", "models", "expectations"], project).stdout
    assert set(status.splitlines()) <= {"?? models/", "?? models/model.skops", "?? models/model_card.json"}


def test_inspect_file_reports_a_missing_final_newline_as_a_warning(tmp_path):
    from pipeline.core.file_contract import inspect_file

    path = tmp_path / "2024-01.csv"
    path.write_bytes(b"a,b\n1,2")
    frame, findings = inspect_file(path)
    assert frame is not None and len(frame) == 1
    assert [f.severity for f in findings] == ["warning"] and "newline" in findings[0].rule


def test_ragged_row_is_located(tmp_path):
    from pipeline.core.file_contract import read_batch

    path = tmp_path / "x.csv"
    path.write_bytes(b"a,b,c\n1,2,3\n4,5,6\n7,8\n")
    with pytest.raises(Exception, match=r"row 4 has 2 fields, the header has 3"):
        read_batch(path)
