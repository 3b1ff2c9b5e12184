"""warm_start's base model comes through the champion pointer: fetched by md5 from the local DVC cache
or the default remote, checked, loaded with the trusted list; unfetchable or mismatched bytes stop
the stage with one line, and the work tree's models/model.skops is never used instead."""

from __future__ import annotations

import hashlib

import pytest

from pipeline import params as P
from pipeline.config import CHAMPION, MODEL
from pipeline.core import champion as pointer
from pipeline.errors import PipelineError
from pipeline.stages.train import _warm_start_base
from tests.support.project import ROOT, run, simulate_batches


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    """A tiny fitted xgboost pipeline, saved as skops."""
    from xgboost import XGBClassifier

    from pipeline.core.files import read_table, save_model
    from pipeline.core.schema import from_params
    from pipeline.modeling.estimators import build_preprocessor, saved_form

    base = tmp_path_factory.mktemp("model")
    schema = from_params(P.load(ROOT / "params.yaml"))
    frame = read_table(simulate_batches(base, ["2024-01"], 300)[0])
    pre = build_preprocessor(schema, scale=False).fit(frame[schema.features])
    est = XGBClassifier(n_estimators=2, max_depth=2, n_jobs=1).fit(
        pre.transform(frame[schema.features]), schema.class_index(frame[schema.target]))
    save_model(base / "m.skops", saved_form(pre, est))
    return (base / "m.skops").read_bytes()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A git + DVC repository with a local folder as its default remote, as the working directory."""
    monkeypatch.chdir(tmp_path)
    run(["git", "init", "-q", "-b", "main"], tmp_path)
    run(["dvc", "init", "-q"], tmp_path)
    run(["dvc", "remote", "add", "-d", "store", str(tmp_path / "remote")], tmp_path)
    return tmp_path


def point_at(md5):
    CHAMPION.parent.mkdir(exist_ok=True)
    CHAMPION.write_text(pointer.render({"champion": {
        "stage": "prod", "version": "v0.1.0", "rev": "credit-risk@v0.1.0", "commit": "a" * 40,
        "md5": md5, "artifact": "models/model.skops", "files": []}}))


def put(root, md5, data):
    path = root / "files" / "md5" / md5[:2] / md5[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_the_base_is_fetched_by_md5_from_the_local_cache(project, model_bytes):
    md5 = hashlib.md5(model_bytes).hexdigest()
    put(project / ".dvc" / "cache", md5, model_bytes)
    point_at(md5)
    model, digest, champ = _warm_start_base("xgboost")
    assert type(model.named_steps["model"]).__name__ == "XGBClassifier" and champ["md5"] == md5
    assert digest == hashlib.sha256(model_bytes).hexdigest() and not MODEL.exists()
    assert _warm_start_base("lightgbm") == (None, None, None)  # another family: from scratch


def test_the_base_is_fetched_from_the_default_remote_and_kept(project, model_bytes):
    md5 = hashlib.md5(model_bytes).hexdigest()
    put(project / "remote", md5, model_bytes)
    point_at(md5)
    assert _warm_start_base("xgboost")[1] == hashlib.sha256(model_bytes).hexdigest()
    assert (project / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).read_bytes() == model_bytes


def test_a_missing_object_fails_closed_never_the_work_tree_model(project, model_bytes):
    MODEL.parent.mkdir(exist_ok=True)
    MODEL.write_bytes(model_bytes)  # a loadable model in the work tree: must not be used
    point_at("0" * 32)
    with pytest.raises(PipelineError) as err:
        _warm_start_base("xgboost")
    line = str(err.value)
    assert "\n" not in line and "md5 00000000000000000000000000000000" in line
    assert "the local DVC cache" in line and "the DVC remote 'store'" in line and "absent" in line


def test_bytes_that_do_not_match_the_md5_fail_closed(project, model_bytes):
    wrong = "1" * 32
    put(project / ".dvc" / "cache", wrong, model_bytes)
    put(project / "remote", wrong, model_bytes)
    point_at(wrong)
    with pytest.raises(PipelineError, match=f"md5 {wrong}: no file.*corrupt"):
        _warm_start_base("xgboost")


def test_a_null_or_missing_pointer_trains_from_scratch(project):
    assert _warm_start_base("xgboost") == (None, None, None)
    CHAMPION.parent.mkdir(exist_ok=True)
    CHAMPION.write_text(pointer.render(pointer.null("none yet")))
    assert _warm_start_base("xgboost") == (None, None, None)
