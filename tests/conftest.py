"""pytest fixtures and hooks; the helpers they use live in tests/support/ (importable by benchmarks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.project import env, make_project, run


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small committed git + DVC project (three 1,200-row stable batches, fast params)."""
    return make_project(tmp_path)


@pytest.fixture(scope="session")
def reproduced_example(tmp_path_factory) -> Path:
    """The small project after one real `dvc repro`, shared by the session (tests copy it with
    `copy_project`, never change it): outputs and DVC cache in place, not committed (HEAD holds the
    batches and no model)."""
    project = make_project(tmp_path_factory.mktemp("reproduced-example"))
    run(["dvc", "repro", "-q"], project)  # a subprocess: its DVC config stays in the temp dir (env)
    return project


@pytest.fixture(autouse=True)
def _offline_dvc(monkeypatch, tmp_path):
    """In-process DVC calls (dvc.api) keep their global config inside the test's temp dir."""
    for key, value in env(tmp_path).items():
        if key.startswith("DVC_"):
            monkeypatch.setenv(key, value)
