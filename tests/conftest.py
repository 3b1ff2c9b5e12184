"""pytest fixtures and hooks; the helpers they use live in tests/support/ (importable by benchmarks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.project import env, make_project, run


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small committed git + DVC project (three 1,200-row stable batches, fast params)."""
    return make_project(tmp_path)


@pytest.fixture(scope="session")
def reproduced_example(tmp_path_factory, worker_id) -> Path:
    """The small project after one real `dvc repro`, built once per run and shared (tests copy it
    with `copy_project`, never change it): outputs and DVC cache in place, not committed (HEAD holds
    the batches and no model). Under pytest-xdist the first worker to need it builds it in the run's
    temp dir, the others wait on a file lock and share it."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":  # each xdist worker's temp dir sits inside the run's own
        root = root.parent
    base, done = root / "reproduced-example", root / "reproduced-example.done"
    with FileLock(str(root / "reproduced-example.lock")):
        if not done.exists():
            shutil.rmtree(base, ignore_errors=True)  # a build interrupted by a failure
            run(["dvc", "repro", "-q"], make_project(base))  # its DVC config stays in the temp dir
            done.touch()
    return base / "project"


@pytest.fixture(autouse=True)
def _offline_dvc(monkeypatch, tmp_path):
    """In-process DVC calls (dvc.api) keep their global config inside the test's temp dir."""
    for key, value in env(tmp_path).items():
        if key.startswith("DVC_"):
            monkeypatch.setenv(key, value)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files holding slow tests first, in collection order; the quick files after them. `make test`
    hands whole files to the workers in this order (`--dist loadfile --no-loadscope-reorder`), so the
    long end-to-end files start first and the quick ones fill in at the end. pytest-xdist's default
    order (most tests first) started the longest files, which hold few tests, last: one worker ran
    the scheduled-workflow replay alone for minutes while the other sat idle."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)  # stable: a file's tests stay together, in order
