"""The fake GitHub: its state file (comments, PRs, issues, releases, check runs, branch protection),
origin's hooks enforcing protection, and the merge button."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.replay.events import REPOSITORY, Event, ReplayError, git

ROOT = Path(__file__).resolve().parents[3]  # the repository: hooks import this package from there


class FakeGitHub:
    """The state behind the `cml` and `gh` stand-ins: a JSON file any process can update."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.exists():
            self.save({"comments": [], "prs": [], "issues": [], "releases": [], "calls": [],
                       "next_number": 100, "checks": [], "protection": {}, "pushes": []})

    def load(self) -> dict[str, Any]:
        state = json.loads(self.path.read_text())
        for key in ("checks", "pushes"):
            state.setdefault(key, [])
        state.setdefault("protection", {})
        return state

    # --- checks and branch protection
    def protect(self, branch: str = "main", required: tuple[str, ...] = ("gate",)) -> None:
        """Branch protection (or a ruleset) on `branch`: changes only through a pull request whose
        head passed every required check; no direct push, GITHUB_TOKEN included (it cannot be a
        bypass actor: docs: about-protected-branches, about-rulesets)."""
        state = self.load()
        state["protection"][branch] = {"required": list(required)}
        self.save(state)

    def checks(self, sha: str) -> list[dict[str, Any]]:
        """Check runs and commit statuses on a commit, in the order they were reported."""
        return [c for c in self.load()["checks"] if c["sha"] == sha]

    def check(self, sha: str, name: str) -> str | None:
        """The state branch protection sees for a required check: the latest check run or commit
        status of that name on the commit (None: "Expected — Waiting for status to be reported")."""
        found = [c for c in self.checks(sha) if c["name"] == name]
        return found[-1]["conclusion"] if found else None

    def report_check(self, sha: str, name: str, conclusion: str, kind: str = "check_run") -> None:
        state = self.load()
        state["checks"].append({"sha": sha, "name": name, "conclusion": conclusion, "kind": kind})
        self.save(state)

    def pushes(self, ref: str | None = None) -> list[dict[str, Any]]:
        """Every push origin accepted: ref, before, after and the token that made it."""
        return [p for p in self.load()["pushes"] if ref is None or p["ref"] == ref]

    def save(self, state: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.path)

    def comments(self, target: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.load()["comments"] if target is None or c["target"] == target]

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.load()["calls"] if tool is None or c["tool"] == tool]

    def prs(self) -> list[dict[str, Any]]:
        return self.load()["prs"]

    def issues(self) -> list[dict[str, Any]]:
        return self.load()["issues"]

    def releases(self) -> list[dict[str, Any]]:
        return self.load()["releases"]

    def add_pr(self, number: int, head: str, base: str = "main", title: str = "") -> None:
        """Register a PR opened by a person (so `gh pr list` and auto targets know it)."""
        state = self.load()
        state["prs"].append({"number": number, "headRefName": head, "baseRefName": base,
                             "title": title or f"PR {number}", "body": "", "state": "OPEN",
                             "labels": [], "url": f"https://github.com/{REPOSITORY}/pull/{number}"})
        state["next_number"] = max(state["next_number"], number + 1)
        self.save(state)


PRE_RECEIVE = """#!{python}
# origin's rules: GitHub's protected branches and rulesets. A push to a protected branch is refused
# unless it is GitHub's own merge of a pull request (GITHUB_TOKEN cannot be a bypass actor), and a
# token whose job has no `contents: write` cannot push at all.
import json, os, sys
state = json.load(open({state!r}))
token = os.environ.get("REPLAY_TOKEN", "user")
granted = json.loads(os.environ.get("REPLAY_PERMISSIONS") or "null")
if token == "GITHUB_TOKEN" and isinstance(granted, dict) and granted.get("contents") != "write":
    sys.exit("Permission to {repo}.git denied to github-actions[bot] (the job grants no contents: write)")
for line in sys.stdin:
    old, new, ref = line.split()
    branch = ref.removeprefix("refs/heads/")
    if ref.startswith("refs/heads/") and branch in state.get("protection", {{}}) and token != "merge":
        sys.exit("error: GH006: Protected branch update failed for " + ref + ": "
                 "changes must be made through a pull request")
"""

POST_RECEIVE = """#!{python}
# every accepted push, with the token that made it (what decides whether it triggers workflows)
import json, os, sys
sys.path.insert(0, {root!r})  # a hook is a script of its own: the repository's packages
from tests.support.replay.github import FakeGitHub
gh = FakeGitHub({state!r})
state = gh.load()
token = os.environ.get("REPLAY_TOKEN", "user")
for line in sys.stdin:
    old, new, ref = line.split()
    state["pushes"].append({{"ref": ref, "before": old, "after": new,
                            "token": "user" if token == "merge" else token}})
gh.save(state)
"""


def install_hooks(origin: Path, github: FakeGitHub) -> None:
    """Make the bare `origin` enforce branch protection and log pushes into the fake GitHub."""
    for name, text in (("pre-receive", PRE_RECEIVE), ("post-receive", POST_RECEIVE)):
        hook = Path(origin) / "hooks" / name
        hook.write_text(text.format(python=sys.executable, state=str(github.path), root=str(ROOT),
                                    repo=REPOSITORY))
        hook.chmod(0o755)


# --- merging a pull request -----------------------------------------------------------------------


class MergeRefused(Exception):
    """GitHub's merge button is disabled: a required check is missing or not green, or a conflict."""


PASSING = ("success", "skipped", "neutral")


def merge_pr(origin: Path, github: FakeGitHub, number: int, method: str = "merge",
             env: dict[str, str] | None = None) -> Event:
    """Press the merge button of PR `number` with `method` (merge | squash | rebase) and return the
    push event it causes on the base branch.

    Refused while a required check of the base's protection is missing ("Expected — Waiting for
    status to be reported") or not passing on the PR's head commit (docs: about-protected-branches
    #require-status-checks-before-merging). The merge commit is "Merge pull request #N from
    owner/branch" + the title; a squash gets GitHub's default message, the PR title (#N) and every
    commit message of the branch as a `* ` list; a rebase replays the branch's commits onto the base
    (new SHAs), so the head of the push is the branch's last commit (docs: about-merge-methods-on-github,
    configuring-commit-squashing-for-pull-requests)."""
    state = github.load()
    [pr] = [p for p in state["prs"] if p["number"] == number]
    head, base = pr["headRefName"], pr["baseRefName"]
    head_sha = git(["rev-parse", f"refs/heads/{head}"], origin)
    base_sha = git(["rev-parse", f"refs/heads/{base}"], origin)
    for name in (state["protection"].get(base) or {}).get("required", []):
        found = github.check(head_sha, name)
        if found not in PASSING:
            raise MergeRefused(f"PR #{number}: required check {name!r} on {head_sha[:7]} is "
                               f"{found or 'expected — waiting for status to be reported'}")
    if subprocess.run(["git", "merge-tree", "--write-tree", base_sha, head_sha], cwd=origin,
                      capture_output=True).returncode != 0:
        raise MergeRefused(f"PR #{number}: this branch has conflicts that must be resolved")
    work = github.path.parent / f"merge-{number}-{method}-{head_sha[:7]}"
    git_env = {**(env or os.environ), "REPLAY_TOKEN": "merge"}

    def merge_git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=work, env=git_env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ReplayError(f"merge: git {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True, capture_output=True)
    merge_git("checkout", "-q", "-B", base, f"origin/{base}")
    title = pr.get("title") or f"PR {number}"
    if method == "merge":
        merge_git("merge", "-q", "--no-ff", f"origin/{head}", "-m",
            f"Merge pull request #{number} from {REPOSITORY.split('/')[0]}/{head}", "-m", title)
    elif method == "squash":
        messages = [m.strip() for m in merge_git("log", "--reverse", "--format=%B%x00",
                                           f"origin/{base}..origin/{head}").split("\0") if m.strip()]
        merge_git("merge", "-q", "--squash", f"origin/{head}")
        merge_git("commit", "-q", "-m", f"{title} (#{number})", "-m", "\n\n".join(f"* {m}" for m in messages))
    elif method == "rebase":
        merge_git("checkout", "-q", "-B", "rebased", f"origin/{head}")
        merge_git("rebase", "-q", "--force-rebase", f"origin/{base}")
        merge_git("checkout", "-q", "-B", base, "rebased")
    else:
        raise ReplayError(f"unknown merge method {method!r}")
    merge_git("push", "-q", "origin", f"HEAD:refs/heads/{base}")
    state = github.load()
    for p in state["prs"]:
        if p["number"] == number:
            p["state"] = "MERGED"
    github.save(state)
    shutil.rmtree(work)
    return Event.push(origin, base, before=base_sha)


