"""The training window and the seeded splits: the test holdout and validation from the newest batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline import params as P
from pipeline.core.schema import from_params
from pipeline.core.splits import split, window
from pipeline.errors import PipelineError
from pipeline.simulate import simulate


def test_window_strategies(tmp_path):
    files = [tmp_path / f"2024-0{i}.csv" for i in range(1, 6)]
    assert window(files, {"strategy": "combine"}) == files
    assert window(files, {"strategy": "combine", "max_batches": 2}) == files[-2:]
    assert window(files, {"strategy": "replace", "replace_batches": 3}) == files[-3:]
    assert window(files, {"strategy": "new_only"}) == files[-1:]
    with pytest.raises(PipelineError, match="window.strategy"):
        window(files, {"strategy": "all"})


def test_split_holds_out_newest_batch_stratified():
    schema = from_params(P.load())
    frames = [simulate(f"2024-0{m}", 1000) for m in (1, 2, 3)]
    train, val, test = split(frames, schema, {"test_size": 0.3, "val_size": 0.2}, seed=3)
    assert set(test["periodo"]) == {"2024-03"} and len(test) == 300
    assert set(val["periodo"]) == {"2024-03"} and len(val) == 140  # selection on the present
    ids = [set(f["id_solicitud"]) for f in (train, val, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert len(train) + len(val) + len(test) == 3000
    newest = frames[-1][schema.target].value_counts(normalize=True)
    assert (test[schema.target].value_counts(normalize=True) - newest).abs().max() < 0.01
    again = split(frames, schema, {"test_size": 0.3, "val_size": 0.2}, seed=3)
    assert again[2]["id_solicitud"].tolist() == test["id_solicitud"].tolist()


@pytest.mark.parametrize("scenario", ["salary_inflation", "policy_change"])
def test_validation_reflects_the_newest_batch_under_drift(scenario):
    """Early stopping and model selection see the month the model will face: under salary inflation
    validation salaries are at the newest month's level (older months' lag by 3.6 %);
    under the policy change dti's relation to risk in validation is the newest batch's."""
    schema = from_params(P.load())
    frames = [simulate(f"2024-{m:02d}", 3000, scenario) for m in range(1, 9)]
    train, val, test = split(frames, schema, {"test_size": 0.3, "val_size": 0.3}, seed=1)
    assert set(val["periodo"]) == {"2024-08"} and len(val) == 630
    older = pd.concat(frames[:-1], ignore_index=True)  # what a whole-window validation set mostly holds
    if scenario == "salary_inflation":
        def lag(frame):  # mean log salary against the newest month's: 14 %/year shows as -0.036
            return np.log(frame["salario_mensual"]).mean() - np.log(frames[-1]["salario_mensual"]).mean()
        assert abs(lag(val)) < 0.01 and lag(older) < -0.03
    else:
        def corr(frame):
            return frame["dti"].corr(pd.Series(schema.class_index(frame[schema.target]), index=frame.index))
        assert abs(corr(val) - corr(test)) < 0.08 < abs(corr(older) - corr(test))
