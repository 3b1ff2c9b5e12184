"""The dataset schema: errors name the key, inference, class indices."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline import params as P
from pipeline.core.schema import from_params, infer
from pipeline.errors import PipelineError


def test_schema_errors_name_the_key():
    with pytest.raises(PipelineError, match="schema.target"):
        from_params({"schema": {"classes": ["a", "b"], "numeric": ["x"]}})
    with pytest.raises(PipelineError, match="critical_class"):
        from_params({"schema": {"target": "t", "classes": ["a", "b"], "numeric": ["x"],
                                "critical_class": "c"}})
    with pytest.raises(PipelineError, match="missing key 'models.xgboost'"):
        P.section({"models": {}}, "models", "xgboost")


def test_schema_infer(tmp_path):
    frame = pd.DataFrame({"a": [1.5, 2.0, None, 4.0], "b": ["x", "y", "x", "z"],
                          "flag": [True, False, True, True], "label": [1, 0, 1, 1]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    block = infer([tmp_path / "d.csv"], "label")
    assert block["numeric"] == ["a"] and block["categorical"] == ["b", "flag"]
    assert block["classes"] == ["0", "1"] and block["critical_class"] == "0"
    with pytest.raises(PipelineError, match="column 'nope'"):
        infer([tmp_path / "d.csv"], "nope")


def test_class_index_rejects_unknown_labels():
    schema = from_params(P.load())
    assert list(schema.class_index(pd.Series(["Alto", "Bajo"]))) == [2, 0]
    with pytest.raises(PipelineError, match="'nivel_riesgo'.*'Muy alto'"):
        schema.class_index(pd.Series(["Alto", "Muy alto"]))


def _with_costs(costs) -> dict:
    return {"schema": {"target": "t", "classes": ["Bajo", "Medio", "Alto"], "numeric": ["x"],
                       "costs": costs}}


FULL = {"Bajo": {"Bajo": 0, "Medio": 1, "Alto": 1}, "Medio": {"Bajo": 2, "Medio": 0, "Alto": 1},
        "Alto": {"Bajo": 10, "Medio": 5, "Alto": 0}}


def test_costs_become_a_matrix_in_class_order_and_the_example_turns_them_on():
    schema = from_params(_with_costs({"Alto": {"Medio": 5, "Bajo": 10}, "Medio": {"Bajo": 2, "Alto": 1},
                                      "Bajo": {"Medio": 1, "Alto": 1}}))  # the diagonal may be left out
    assert schema.costs == ((0, 1, 1), (2, 0, 1), (10, 5, 0))
    assert schema.cost_table()["Alto"] == {"Bajo": 10.0, "Medio": 5.0, "Alto": 0.0}
    none = from_params(_with_costs(None))
    assert none.costs is None and none.cost_table() is None
    example = from_params(P.load()).cost_table()  # the example prices a missed Alto above a false alarm
    assert example is not None and example["Alto"]["Bajo"] > example["Bajo"]["Alto"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c["Alto"].pop("Medio"), "params.yaml: schema.costs.Alto.Medio: missing"),
    (lambda c: c.pop("Medio"), "params.yaml: schema.costs.Medio: missing"),
    (lambda c: c["Medio"].update(Bajo=-2), "params.yaml: schema.costs.Medio.Bajo: -2 is negative"),
    (lambda c: c["Alto"].update(Alto=3), "params.yaml: schema.costs.Alto.Alto: 3 on the diagonal"),
    (lambda c: c.update(Muy_alto={"Bajo": 1}), "params.yaml: schema.costs.Muy_alto: unknown class"),
    (lambda c: c["Bajo"].update(Nope=1), "params.yaml: schema.costs.Bajo.Nope: unknown class"),
    (lambda c: c["Bajo"].update(Alto="high"), "params.yaml: schema.costs.Bajo.Alto: expected a finite"),
    (lambda c: c["Bajo"].update(Alto=float("inf")), "params.yaml: schema.costs.Bajo.Alto: expected a finite"),
    (lambda c: c["Bajo"].update(Alto=True), "params.yaml: schema.costs.Bajo.Alto: expected a finite"),
    (lambda c: c.update(Bajo=[0, 1, 1]), "params.yaml: schema.costs.Bajo: expected a mapping"),
])
def test_cost_matrix_errors_name_the_key(change, message):
    import copy

    costs = copy.deepcopy(FULL)
    change(costs)
    with pytest.raises(PipelineError) as exc:
        from_params(_with_costs(costs))
    assert str(exc.value).startswith(message), str(exc.value)
    assert "\n" not in str(exc.value)


def test_cost_matrix_that_is_not_a_mapping_or_all_zero_fails():
    with pytest.raises(PipelineError, match=r"^params\.yaml: schema\.costs: expected a mapping"):
        from_params(_with_costs([[0, 1], [1, 0]]))
    with pytest.raises(PipelineError, match=r"^params\.yaml: schema\.costs: every cost is 0"):
        from_params(_with_costs({a: {p: 0 for p in FULL} for a in FULL}))
