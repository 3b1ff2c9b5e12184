"""`expectations init`: a reviewable suite generated from data, that never silently overwrites edits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.project import ROOT, make_project, simulate_batches


@pytest.fixture(scope="module")
def init_project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("init"), rows=600, git=False)


def _init(capsys, *args: str) -> tuple[int, str, str]:
    from pipeline.cli import main

    code = main(["expectations", "init", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_init_round_trips_and_refuses_to_overwrite_hand_edits(init_project, monkeypatch, capsys):
    from pipeline.core import expectations as E

    monkeypatch.chdir(init_project)
    suite_file = init_project / "expectations/credit_risk.json"
    suite_file.unlink()
    code, out, err = _init(capsys)
    assert code == 0, err and "3 batches, 1800 rows" in out
    text = suite_file.read_text()
    suite = E.load(suite_file)
    assert all(e["meta"]["severity"] in ("critical", "warning") for e in suite["expectations"])
    # plain GX Core JSON: GX builds it, and its own serialisation keeps every kwarg and meta
    gx_suite = E.to_gx(suite)
    again = gx_suite.to_json_dict()["expectations"]
    assert len(again) == len(suite["expectations"])
    for ours, theirs in zip(suite["expectations"], again, strict=True):
        assert theirs["type"] == ours["type"] and theirs["meta"] == ours["meta"]
        assert theirs["severity"] == ours["meta"]["severity"]  # GX's native severity follows meta
        assert theirs["kwargs"].items() <= ours["kwargs"].items()  # GX drops default-valued kwargs
    # re-running on the same data changes nothing
    code, out, _ = _init(capsys)
    assert code == 0 and "up to date" in out and suite_file.read_text() == text
    # a hand edit is shown and kept without --force
    edited = json.loads(text)
    rng = next(e for e in edited["expectations"] if e["type"] == "expect_column_values_to_be_between"
               and e["kwargs"]["column"] == "edad")
    rng["kwargs"]["max_value"] = 99
    suite_file.write_text(json.dumps(edited, indent=2))
    code, out, err = _init(capsys)
    assert code != 0 and "--force" in err
    assert "~ expect_column_values_to_be_between column 'edad': kwargs.max_value 99 ->" in out
    assert json.loads(suite_file.read_text()) == edited
    code, _, _ = _init(capsys, "--force")
    assert code == 0 and suite_file.read_text() == text


def test_init_from_selected_batches_and_generated_values(init_project, tmp_path, monkeypatch, capsys):
    from pipeline.core import expectations as E

    monkeypatch.chdir(init_project)
    out_file = tmp_path / "one.json"
    code, out, err = _init(capsys, "--from", "data/batches/2024-01.csv", "-o", str(out_file))
    assert code == 0, err
    suite = E.load(out_file)
    assert list(suite["meta"]["generated_from"]) == ["data/batches/2024-01.csv"]
    by = {(e["type"], e["kwargs"].get("column")): e for e in suite["expectations"]}
    edad = by[("expect_column_values_to_be_between", "edad")]
    lo, hi = edad["meta"]["observed"]
    assert edad["kwargs"]["min_value"] <= lo and edad["kwargs"]["max_value"] > hi  # a margin
    assert edad["kwargs"]["min_value"] >= 0  # a non-negative column stays non-negative
    nulls = by[("expect_column_values_to_not_be_null", "ingresos_adicionales")]
    assert 0 < nulls["kwargs"]["mostly"] < 1 - nulls["meta"]["observed_null_share"]
    assert "mostly" not in by[("expect_column_values_to_not_be_null", "edad")]["kwargs"]
    assert by[("expect_column_values_to_be_in_set", "nivel_riesgo")]["kwargs"]["value_set"] == \
        ["Bajo", "Medio", "Alto"]
    assert "Bogotá" in by[("expect_column_values_to_be_in_set", "ciudad")]["kwargs"]["value_set"]


def test_load_rejects_an_expectation_without_severity(tmp_path):
    from pipeline.core import expectations as E
    from pipeline.errors import PipelineError

    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "s", "expectations": [
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}, "meta": {}}]}))
    with pytest.raises(PipelineError, match=r"expectation #1 .*meta.severity"):
        E.load(path)


def test_committed_suite_accepts_every_simulated_scenario(tmp_path):
    """Other stages' tests simulate drifting data: the contract must warn about drift, never stop it."""
    from pipeline.core import expectations as E
    from pipeline.core.file_contract import read_batch
    from pipeline.core.schema import from_params
    from pipeline.core.suite_checks import GXRunner, evaluate
    from pipeline.params import load

    root = ROOT
    params = load(root / "params.yaml")
    schema, suite = from_params(params), E.load(root / E.suite_path(params))
    runner = GXRunner()
    for scenario in ("salary_inflation", "policy_change", "new_segment"):
        for path in simulate_batches(tmp_path / scenario, ["2025-12"], 1200, scenario, seed=3):
            findings = evaluate(schema, suite, path, read_batch(path), True, runner)
            critical = [f.line(path) for f in findings if not f.success and f.severity == "critical"]
            assert not critical, critical
