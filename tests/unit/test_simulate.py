"""The simulator: the same arguments give the same bytes; scenarios drift as documented."""

from __future__ import annotations

import hashlib

import pytest

from pipeline import params as P
from pipeline.core.schema import from_params
from pipeline.errors import PipelineError
from pipeline.simulate import SCENARIOS, simulate


def test_simulate_same_arguments_same_bytes(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    simulate("2024-03", 800, "policy_change", 7).to_csv(a, index=False)
    simulate("2024-03", 800, "policy_change", 7).to_csv(b, index=False)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    other = simulate("2024-03", 800, "policy_change", 8)
    assert not other.equals(simulate("2024-03", 800, "policy_change", 7))


def test_simulate_schema_and_class_mix():
    params = P.load()
    schema = from_params(params)
    frame = simulate("2024-01", 20000)
    assert list(frame.columns) == schema.columns
    assert len(schema.features) >= 20
    mix = frame[schema.target].value_counts(normalize=True)
    assert set(mix.index) == set(schema.classes)
    assert 0.4 < mix["Bajo"] < 0.6 and 0.1 < mix["Alto"] < 0.25  # majority class far below 0.8
    assert frame["id_solicitud"].is_unique
    assert frame["ingresos_adicionales"].isna().mean() == pytest.approx(0.03, abs=0.01)


def test_scenarios_drift_as_documented():
    base = simulate("2024-12", 20000, "stable")
    inflated = simulate("2024-12", 20000, "salary_inflation")
    ratio = inflated["salario_mensual"].mean() / base["salario_mensual"].mean()
    assert 1.10 < ratio < 1.18  # ≈ +14 % after 11 months
    segment = simulate("2024-12", 20000, "new_segment")
    assert (segment["ciudad"].isin(["Cartagena", "Pereira"])).mean() > 0.3
    early, late = simulate("2024-01", 20000, "policy_change"), simulate("2024-12", 20000, "policy_change")
    code = {"Bajo": 0, "Medio": 1, "Alto": 2}
    corr = [f["dti"].corr(f["nivel_riesgo"].map(code)) for f in (early, late)]
    assert corr[1] < corr[0] - 0.1  # the dti -> risk relation weakens
    assert set(SCENARIOS) == {"stable", "salary_inflation", "policy_change", "new_segment"}


@pytest.mark.parametrize("kwargs, needle", [
    ({"period": "2024-13"}, "--period"), ({"scenario": "boom"}, "--scenario"), ({"rows": 0}, "--rows"),
])
def test_simulate_bad_arguments(kwargs, needle):
    args = {"period": "2024-01", "rows": 10, "scenario": "stable"} | kwargs
    with pytest.raises(PipelineError, match=needle):
        simulate(**args)
