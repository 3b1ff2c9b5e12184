"""What the GitOps replay tests share: the workflows they replay, a data engineer opening a pull
request, and a small published project on a protected main."""

from __future__ import annotations

from pathlib import Path

from tests.support.project import env, make_project, run
from tests.support.replay import FakeGitHub, Replayer, publish

PR, PROMOTE = ".github/workflows/pr.yaml", ".github/workflows/promote.yaml"


def open_pr(project: Path, gh: FakeGitHub, branch: str, number: int, message: str) -> None:
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", message], project)
    run(["git", "push", "-q", "-u", "origin", branch], project)
    gh.add_pr(number, branch, title=message)


def small_world(tmp_path: Path, provision=None) -> tuple[Path, Path, FakeGitHub, Replayer]:
    """A committed project on a protected main (required check `gate`), no model reproduced yet."""
    project = make_project(tmp_path, rows=300)
    remote = tmp_path / "dvc-remote"
    remote.mkdir()
    origin, gh, replay = publish(project, tmp_path, remote, env(tmp_path))
    if provision is not None:
        replay.provision = provision
    gh.protect("main", ("gate",))
    return project, origin, gh, replay
