"""What GitHub delivers to a workflow run: the event, its ref, SHA and `github.event` payload."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPOSITORY = "acme/credit-risk"
WRITE_TOKEN, READ_TOKEN = "replay-token-write", "replay-token-read-only"


class ReplayError(Exception):
    """The workflow uses something the replay refuses or does not know (it would not be proven)."""


# --- events ---------------------------------------------------------------------------------------


def git(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReplayError(f"git {' '.join(args)} in {cwd}: {proc.stderr.strip()}")
    return proc.stdout.strip()


@dataclass
class Event:
    """What GitHub would deliver: the event name, GITHUB_REF/SHA and the `github.event` payload."""

    name: str
    ref: str
    sha: str
    payload: dict[str, Any] = field(default_factory=dict)
    base_ref: str = ""
    head_ref: str = ""
    fork: bool = False
    changed: list[str] | None = None  # files the event changes (paths filters)
    head_message: str = ""
    token: str = "user"  # who caused it: "user" (a person or an app token) or "GITHUB_TOKEN"
    mergeable: bool = True  # pull_request: GitHub could build the merge commit

    @classmethod
    def pull_request(cls, origin: Path, number: int, head: str, base: str = "main",
                     action: str = "synchronize", fork: bool = False,
                     repository: str = REPOSITORY, token: str = "user") -> Event:
        """A PR event for branch `head` of `origin` (a fork PR gets no secrets, a read-only token)."""
        head_sha = git(["rev-parse", f"refs/heads/{head}"], origin)
        base_sha = git(["rev-parse", f"refs/heads/{base}"], origin)
        merge_base = git(["merge-base", base_sha, head_sha], origin)
        # GitHub builds refs/pull/N/merge; when the branches conflict it cannot, and no
        # pull_request workflow runs ("Workflows will not run on pull_request activity if the pull
        # request has a merge conflict", docs: events-that-trigger-workflows#pull_request)
        mergeable = subprocess.run(["git", "merge-tree", "--write-tree", base_sha, head_sha], cwd=origin,
                                   capture_output=True).returncode == 0
        changed = git(["diff", "--name-only", merge_base, head_sha], origin).splitlines()
        head_repo = f"contributor/{repository.split('/')[1]}" if fork else repository
        payload = {
            "action": action, "number": number,
            "pull_request": {
                "number": number, "title": f"PR {number}",
                "head": {"ref": head, "sha": head_sha, "repo": {"full_name": head_repo, "fork": fork}},
                "base": {"ref": base, "sha": base_sha, "repo": {"full_name": repository}},
            },
            "repository": {"full_name": repository, "default_branch": "main"},
        }
        return cls("pull_request", f"refs/pull/{number}/merge", head_sha, payload, base_ref=base,
                   head_ref=head, fork=fork, changed=changed,
                   head_message=git(["log", "-1", "--format=%B", head_sha], origin), token=token,
                   mergeable=mergeable)

    @classmethod
    def push(cls, origin: Path, branch: str = "main", before: str | None = None,
             repository: str = REPOSITORY, token: str = "user") -> Event:
        """A push to `branch`; `before` is the previous tip (default: the first parent)."""
        sha = git(["rev-parse", f"refs/heads/{branch}"], origin)
        before = before or git(["rev-parse", f"{sha}^"], origin)
        changed = git(["diff", "--name-only", before, sha], origin).splitlines()
        payload = {"ref": f"refs/heads/{branch}", "before": before, "after": sha,
                   "head_commit": {"id": sha, "message": git(["log", "-1", "--format=%B", sha], origin)},
                   "repository": {"full_name": repository, "default_branch": "main"}}
        return cls("push", f"refs/heads/{branch}", sha, payload, changed=changed,
                   head_message=payload["head_commit"]["message"], token=token)

    @classmethod
    def schedule(cls, origin: Path, cron: str = "", branch: str = "main") -> Event:
        sha = git(["rev-parse", f"refs/heads/{branch}"], origin)
        return cls("schedule", f"refs/heads/{branch}", sha, {"schedule": cron})

    @classmethod
    def workflow_dispatch(cls, origin: Path, inputs: dict[str, Any] | None = None,
                          branch: str = "main") -> Event:
        sha = git(["rev-parse", f"refs/heads/{branch}"], origin)
        return cls("workflow_dispatch", f"refs/heads/{branch}", sha, {"inputs": dict(inputs or {})})


