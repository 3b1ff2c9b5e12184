"""Every pull request gets the required check, a fork's included (with a real `make install`): the
pull-request workflow replayed on small published projects (tests/support/story.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.project import env, run, simulate_batches
from tests.support.replay import Event, link_venv, merge_pr
from tests.support.story import PR, open_pr, small_world


@pytest.mark.slow
def test_pr_outside_the_pipeline_inputs_gets_the_required_check(tmp_path):
    """A README-only PR: no reproduction, but the gate (and the code job) report, so it can merge."""
    project, origin, gh, replay = small_world(tmp_path)
    run(["git", "checkout", "-q", "-b", "docs"], project)
    (project / "README.md").write_text("How we retrain.\n")
    open_pr(project, gh, "docs", 7, "Document the loop")
    result = replay.run(PR, Event.pull_request(origin, 7, "docs", action="opened"))
    assert result.triggered, result.reason
    assert result.ok, result.log()
    assert result.jobs["changes"].outputs["pipeline"] == "false"
    assert result.jobs["reproduce"].status == "skipped" and result.jobs["fork"].status == "skipped"
    assert result.jobs["code/lint-and-test"].status == "success"
    assert gh.check(result.event.sha, "gate") == "success"
    assert merge_pr(origin, gh, 7, env=env(tmp_path)).name == "push"


@pytest.fixture(scope="session")
def installed_once():
    """Provisioning for replays that run the real `make install`: checkouts start without .venv, so
    the first `make install` of the session creates it from nothing (uv from PyPI at the Makefile's
    pinned version, then the locked environment); later checkouts reuse that environment, as a
    runner's cache would. Returns the provisioner and the workdirs it saw."""
    seen: list[Path] = []

    def provision(work: Path) -> None:
        built = [w / ".venv" for w in seen if (w / ".venv" / ".installed").exists()]
        if built:
            link_venv(work, built[0])
        seen.append(work)
    return provision, seen


@pytest.mark.slow
def test_fork_pr_end_to_end_with_a_real_install(tmp_path, installed_once):
    """A fork's PR: no secrets, read-only token; validation and drift, a job-summary report, the gate."""
    provision, seen = installed_once
    project, origin, gh, replay = small_world(tmp_path, provision)
    run(["git", "checkout", "-q", "-b", "contributor-2024-04"], project)
    simulate_batches(project / "data" / "batches", ["2024-04"], 300, seed=4)
    open_pr(project, gh, "contributor-2024-04", 8, "Add the 2024-04 batch (fork)")
    result = replay.run(PR, Event.pull_request(origin, 8, "contributor-2024-04", action="opened", fork=True))
    assert result.ok, result.log()
    assert result.jobs["reproduce"].status == "skipped"
    fork = result.jobs["fork"]
    assert fork.status == "success" and fork.step("checks").outcome == "success", result.log()
    assert "comes from a fork" in fork.summary and "Drift" in fork.summary
    assert not gh.calls("cml") and not gh.comments()  # a read-only token cannot comment: not tried
    assert gh.check(result.event.sha, "gate") == "success"
    # the real install ran (in this session), from an empty .venv, with the Makefile's pinned uv
    built = [w for w in seen if (w / ".venv" / ".installed").exists()
             and not (w / ".venv" / "bin").is_symlink()]  # made by make install, not linked
    assert built and (built[0] / ".venv" / "bin" / "uv").exists()
    installs = [s for j in result.jobs.values() for s in j.steps if s.name.startswith("Install")]
    if built[0].is_relative_to(tmp_path):
        assert any("installed the locked environment with uv" in s.stdout for s in installs), result.log()
    merge_pr(origin, gh, 8, env=env(tmp_path))
