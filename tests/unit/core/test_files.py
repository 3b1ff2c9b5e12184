"""Files: atomic writes, one-line read errors, byte-deterministic models with a trusted-type list."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import pytest

from pipeline.core.files import atomic_path, load_model, read_csv, save_model, write_json
from pipeline.errors import PipelineError
from tests.support.project import ROOT


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


FRESH_LOAD = """
import sys
from pipeline.core.files import load_model
from pipeline.errors import PipelineError
load_model(sys.argv[1])
try:
    load_model(sys.argv[2])
except PipelineError as exc:
    print(exc)
walked = ("sklearn.datasets", "sklearn.semi_supervised", "pytest")  # only the walk imports these
print(sorted(m for m in sys.modules if m.startswith(walked)))
"""


def test_only_the_families_estimators_are_trusted_and_skops_imports_no_walk(tmp_path):
    """skops would trust every scikit-learn estimator by default and import all of scikit-learn to
    list them; the pipeline's import trusts only TRUSTED_MODEL_TYPES. In a fresh process, as every
    command loads: a scikit-learn estimator outside the families is refused, and the walk's modules
    (sklearn.datasets, sklearn.semi_supervised, pytest) are never imported."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    X = np.random.default_rng(0).normal(size=(60, 2))
    save_model(tmp_path / "svc.skops", SVC().fit(X, X[:, 0] > 0))
    save_model(tmp_path / "logistic.skops", LogisticRegression().fit(X, X[:, 0] > 0))
    out = subprocess.run([sys.executable, "-c", FRESH_LOAD, str(tmp_path / "logistic.skops"),
                          str(tmp_path / "svc.skops")], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    refused, imported = out.stdout.strip().splitlines()
    assert "untrusted types ['sklearn.svm._classes.SVC']" in refused
    assert imported == "[]"
