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
