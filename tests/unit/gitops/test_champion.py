"""The champion pointer (models/champion.json): written from the registry on a tiny git repository,
byte-identical for the same champion, null without one; a missing file reads as null."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from pipeline import params as P
from pipeline.config import CHAMPION
from pipeline.core import champion as pointer
from pipeline.errors import PipelineError
from pipeline.gitops import champion as G
from tests.support.project import ROOT, env, run

PARAMS = {"registry": P.section(P.load(ROOT / "params.yaml"), "registry")}
MD5 = "0123456789abcdef0123456789abcdef"
FILES = [{"path": "data/batches/2024-01.csv", "sha256": "a" * 64, "rows": 10},
         {"path": "data/batches/2024-02.csv", "sha256": "b" * 64, "rows": 10}]


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """An empty git repository on main, as the working directory (git identity from the test env)."""
    monkeypatch.chdir(tmp_path)
    for key, value in env(tmp_path).items():
        if key.startswith("GIT_"):
            monkeypatch.setenv(key, value)
    run(["git", "init", "-q", "-b", "main"], tmp_path)
    (tmp_path / "README").write_text("x\n")
    commit(tmp_path, "initial")
    return tmp_path


def commit(path, message):
    run(["git", "add", "-A"], path)
    run(["git", "commit", "-q", "-m", message], path)
    return run(["git", "rev-parse", "HEAD"], path).stdout.strip()


def write_model(path, md5=MD5, files=FILES):
    lock = {"schema": "2.0", "stages": {"evaluate": {"cmd": "x", "outs": [
        {"path": "models/model.skops", "md5": md5, "size": 3}]}}}
    (path / "dvc.lock").write_text(yaml.safe_dump(lock))
    (path / "models").mkdir(exist_ok=True)
    (path / "models" / "model_card.json").write_text(json.dumps(
        {"model": {"family": "xgboost", "sha256": "c" * 64}, "data": {"files": files}}))


def test_no_production_model_writes_a_null_pointer_once(repo):
    found, changed = G.write(PARAMS)
    assert found["champion"] is None and "pins no models/model.skops" in found["reason"] and changed
    text = CHAMPION.read_bytes()
    assert G.write(PARAMS)[1] is False and CHAMPION.read_bytes() == text
    assert pointer.read()["champion"] is None


def test_pointer_names_md5_commit_and_training_files_and_is_idempotent(repo):
    write_model(repo)
    pinned = commit(repo, "first model")
    found, changed = G.write(PARAMS)
    champ = found["champion"]
    assert changed and champ["md5"] == MD5 and champ["commit"] == pinned
    assert champ["files"] == [{"path": f["path"], "sha256": f["sha256"]} for f in FILES]
    assert champ["version"] is None and champ["rev"] == "main" and "no version" in champ["note"]
    text = CHAMPION.read_bytes()
    (repo / "README").write_text("another commit on main, same model\n")
    commit(repo, "docs")
    assert G.write(PARAMS)[1] is False and CHAMPION.read_bytes() == text  # byte-identical
    assert pointer.read() == json.loads(text)
    assert pointer.training_files(pointer.read()) == {"2024-01": "a" * 64, "2024-02": "b" * 64}
    write_model(repo, md5="f" * 32, files=FILES[:1])
    newer = commit(repo, "retrained")
    champ = G.write(PARAMS)[0]["champion"]
    assert champ["md5"] == "f" * 32 and champ["commit"] == newer and len(champ["files"]) == 1


def test_an_unknown_explicit_revision_fails_closed(repo):
    with pytest.raises(PipelineError, match="git revision 'v9': unknown"):
        G.find(PARAMS, "v9")


def test_a_missing_pointer_is_a_null_champion(tmp_path):
    assert not (tmp_path / "champion.json").exists()
    got = pointer.read(tmp_path / "champion.json")
    assert got["champion"] is None and "no champion pointer" in got["reason"]
    assert pointer.training_files(got) == {}


def test_a_malformed_pointer_fails_closed(tmp_path):
    path = tmp_path / "champion.json"
    path.write_text('{"champion": {"md5": "x"}}')
    with pytest.raises(PipelineError, match="champion.stage: missing"):
        pointer.read(path)
    path.write_text("{not json")
    with pytest.raises(PipelineError, match="not valid JSON"):
        pointer.read(path)


def test_the_command_prints_the_champion(repo, capsys):
    import argparse

    from pipeline.commands import champion as cmd

    write_model(repo)
    commit(repo, "first model")
    params = repo / "params.yaml"
    params.write_text(yaml.safe_dump(PARAMS))
    assert cmd.main(argparse.Namespace(params=os.fspath(params), rev=None)) == 0
    assert f"md5 {MD5}), trained on 2 batch files" in capsys.readouterr().out
