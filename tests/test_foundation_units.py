"""Unit tests of the foundation: simulator, params/schema, io (atomic writes, safe models), splits."""

from __future__ import annotations

import hashlib
import zipfile

import numpy as np
import pandas as pd
import pytest

from pipeline import params as P
from pipeline.core.files import atomic_path, load_model, read_csv, save_model, write_json
from pipeline.core.schema import from_params, infer
from pipeline.core.splits import split, window
from pipeline.errors import PipelineError
from pipeline.modeling.search import suggest
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


def test_replace_block_keeps_comments():
    text = "# top\nseed: 1\n\nschema:\n  target: a\n  classes: [x, y]\n\n# models here\nmodels:\n  m: 1\n"
    out = P.replace_block(text, "schema", {"target": "b", "classes": ["p", "q"]})
    assert "# top" in out and "# models here" in out and "models:\n  m: 1" in out
    assert "target: b" in out and "target: a" not in out
    assert P.replace_block("seed: 1\n", "data", {"x": 1}).endswith("data:\n  x: 1\n")


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


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text().strip() == '{\n  "v": 1\n}'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_read_csv_errors_are_one_line(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(PipelineError, match="empty.csv: file is empty"):
        read_csv(empty)
    bad = tmp_path / "latin.csv"
    bad.write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(PipelineError, match="latin.csv") as info:
        read_csv(bad)
    assert "\n" not in str(info.value)


class Evil:
    """Any type outside the trusted list: loading must refuse it."""

    def __init__(self):
        self.payload = "rm -rf /"


def test_models_are_byte_deterministic_and_untrusted_types_refused(tmp_path):
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    paths = [tmp_path / "a.skops", tmp_path / "b.skops"]
    for path in paths:
        save_model(path, LogisticRegression().fit(X, y))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    with zipfile.ZipFile(paths[0]) as zf:
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in zf.infolist())
    assert (load_model(paths[0]).predict(X) == y).mean() > 0.9
    save_model(tmp_path / "evil.skops", {"model": Evil()})
    with pytest.raises(PipelineError, match="untrusted types.*Evil"):
        load_model(tmp_path / "evil.skops")
    (tmp_path / "pickle.skops").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(PipelineError, match="not a skops model file"):
        load_model(tmp_path / "pickle.skops")


def test_search_space_is_seeded_and_typed():
    import optuna

    from pipeline.modeling.search import study

    space = {"lr": {"low": 0.01, "high": 0.3, "log": True}, "depth": {"low": 2, "high": 6, "int": True},
             "leaf": [1, 5, None], "fixed": 3}

    def sampled(seed: int) -> list[dict]:
        trials: list[dict] = []
        study({}, seed, True).optimize(lambda t: trials.append(suggest(t, space)) or 0.0, n_trials=5)
        return trials

    a, b = sampled(1), sampled(1)
    assert a == b and len(a) == 5 and a != sampled(2)
    for trial in a:
        assert 0.01 <= trial["lr"] <= 0.3 and isinstance(trial["depth"], int) and 2 <= trial["depth"] <= 6
        assert trial["leaf"] in (1, 5, None) and trial["fixed"] == 3
    pruning = {"pruning": {"startup_trials": 1, "warmup_rounds": 5, "interval_rounds": 1}}
    assert isinstance(study(pruning, 0, True).pruner, optuna.pruners.MedianPruner)
    assert isinstance(study({}, 0, True).pruner, optuna.pruners.NopPruner)


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
