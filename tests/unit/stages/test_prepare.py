"""prepare holds out test rows from the newest batch and from every batch the champion never trained
on (models/champion.json); a missing pointer is a first model: the newest batch only."""

from __future__ import annotations

import pytest

from pipeline import params as P
from pipeline.config import CHAMPION, TEST_SET
from pipeline.core import champion as pointer
from pipeline.core.files import read_frame, sha256
from pipeline.stages.prepare import run
from tests.support.project import ROOT, simulate_batches

PERIODS = ["2024-01", "2024-02", "2024-03", "2024-04"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    simulate_batches(tmp_path / "data" / "batches", PERIODS, 400)
    return tmp_path


def champion_of(periods):
    files = [{"path": f"data/batches/{p}.csv", "sha256": sha256(f"data/batches/{p}.csv")} for p in periods]
    CHAMPION.parent.mkdir(exist_ok=True)
    CHAMPION.write_text(pointer.render({"champion": {
        "stage": "prod", "version": "v0.1.0", "rev": "credit-risk@v0.1.0", "commit": "a" * 40,
        "md5": "b" * 32, "artifact": "models/model.skops", "files": files}}))


def per_file(summary):
    return {e["path"].split("/")[-1][:7]: (e["split_rows"]["test"], e["test_reason"])
            for e in summary["files"]}


def test_a_missing_pointer_holds_out_the_newest_batch_only(project):
    params = P.load(ROOT / "params.yaml")
    summary = run(params)
    assert not CHAMPION.exists()
    assert per_file(summary) == {"2024-01": (0, None), "2024-02": (0, None),
                                       "2024-03": (0, None), "2024-04": (120, "newest batch")}
    assert summary["champion"]["version"] is None and summary["rows"]["test"] == 120


def test_batches_new_to_the_champion_are_held_out_too(project):
    params = P.load(ROOT / "params.yaml")
    champion_of(PERIODS[:2])  # trained on January and February: March is new to it
    summary = run(params)
    assert per_file(summary) == {"2024-01": (0, None), "2024-02": (0, None),
                                       "2024-03": (120, "new to the champion"),
                                       "2024-04": (120, "newest batch")}
    assert summary["rows"] == {"train": 1600 - 240 - 84, "val": 84, "test": 240}
    assert summary["test_batches"] == ["2024-03", "2024-04"] and summary["champion"]["version"] == "v0.1.0"
    test = read_frame(TEST_SET)
    assert sorted(set(test["periodo"])) == ["2024-03", "2024-04"]
    again = run(params)  # seeded: the same rows again
    assert again["files"][2]["splits"] == summary["files"][2]["splits"]


def test_a_champion_trained_on_every_batch_changes_nothing(project):
    params = P.load(ROOT / "params.yaml")
    champion_of(PERIODS)
    assert per_file(run(params))["2024-03"] == (0, None)


def test_compare_judges_on_every_held_out_row_neither_model_learned_from(project):
    """The champion's card lists January and February with its split masks; March and April are new
    to it: compare keeps every test row of both (240), and none of a batch the champion trained on."""
    import pandas as pd

    from pipeline.core.splits import unseen_rows

    params = P.load(ROOT / "params.yaml")
    champion_of(PERIODS[:2])
    summary = run(params)
    card = {"data": {"files": [e for e in summary["files"] if e["path"].endswith(("01.csv", "02.csv"))]}}
    current = {e["path"].split("/")[-1][:7]: e["sha256"] for e in summary["files"]}
    test = read_frame(TEST_SET)
    keep, info = unseen_rows(test, card, current, TEST_SET)
    assert info["rows"] == len(test) == 240 and info["batches"] == {"2024-03": 120, "2024-04": 120}
    # a test row from a batch the champion trained on is still left out
    train = read_frame(TEST_SET.with_name("train.parquet"))
    mixed = pd.concat([test, train[train["__batch__"] == "2024-01"].head(5)], ignore_index=True)
    keep, info = unseen_rows(mixed, card, current, TEST_SET)
    assert info["rows"] == 240 and info["excluded"][0]["rows"] == 5
