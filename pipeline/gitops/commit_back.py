"""CI plumbing, not registry logic: after `dvc repro` on a pull request, commit dvc.lock and the
git-tracked outputs and push them to the PR branch, so the verdict travels with the exact model it
judged."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipeline.config import CHAMPION, DVC_LOCK
from pipeline.core.git import git
from pipeline.core.git import run as git_run
from pipeline.errors import PipelineError


def commit_back(branch: str | None, remote: str, message: str,
                include: list[str] | None = None) -> dict[str, Any]:
    """Commit dvc.lock, the git-tracked pipeline outputs, the champion pointer and the `include`
    paths (the comparison — the verdict travels with the exact model it judged — and its figures,
    which the report links at this commit); push them to the PR branch.

    Returns `head`, the commit that now carries this run's outputs on the branch (None when the branch
    moved on to new inputs: that newer commit's own run reports), `pushed` and a `message` line.
    No skip marker in the message: a push made with GITHUB_TOKEN starts no workflow anyway, and a
    `[skip ci]` in a squash message or a rebased head would skip the workflows of the merge on main.
    A re-run replays the old event: when the branch's tip only added outputs of these same inputs
    (an earlier run's commit-back), the commit is rebuilt on that tip instead of being refused as a
    non-fast-forward push."""
    from dvc.repo import Repo

    with Repo(".") as repo:
        outs = list(repo.index.outs)
        tracked = {os.path.relpath(out.fs_path, repo.root_dir) for out in outs if not out.use_cache}
        # the .gitignore files DVC writes beside cached outputs: a directory dependency such as
        # models/candidates hashes them too, so a clone without them would re-run the stage
        ignores = {os.path.relpath(Path(out.fs_path).parent / ".gitignore", repo.root_dir)
                   for out in outs if out.use_cache}
    # the champion pointer is an input of prepare and train that CI rewrites before `dvc repro`:
    # dvc.lock pins its hash, so it travels with dvc.lock
    extra = {os.path.normpath(p) for p in [*(include or []), CHAMPION.as_posix()]}
    paths = [DVC_LOCK.as_posix(), *sorted(p for p in tracked | ignores | extra if Path(p).exists())]
    base = git("rev-parse", "HEAD").strip()
    if branch:
        git("fetch", "-q", remote, f"+refs/heads/{branch}:refs/commit-back/tip")
        tip = git("rev-parse", "refs/commit-back/tip").strip()
        if tip != base:
            if git_run("merge-base", "--is-ancestor", base, tip).returncode != 0:
                raise PipelineError(f"commit-back: {remote}/{branch} ({tip[:7]}) no longer contains the "
                                    f"reproduced commit {base[:7]} (force-pushed?): nothing pushed")
            since = set(git("diff", "--name-only", base, tip).split())
            inputs = sorted(f for f in since if not any(f == p or f.startswith(p + "/") for p in paths))
            if inputs:
                return {"pushed": False, "head": None,
                        "message": f"commit-back: {remote}/{branch} moved on to {tip[:7]} with new inputs "
                                   f"({', '.join(inputs[:3])}): its own run reports; nothing pushed"}
            git("reset", "-q", "--soft", tip)  # the same inputs: build on the earlier run's commit
            base = tip
    git("add", "--", *paths)
    if git_run("diff", "--cached", "--quiet").returncode == 0:
        return {"pushed": False, "head": base,
                "message": f"commit-back: dvc.lock and the tracked outputs are already committed "
                           f"({base[:7]})"}
    git("commit", "-q", "-m", message)
    sha = git("rev-parse", "HEAD").strip()
    if branch:
        git("push", "-q", remote, f"HEAD:refs/heads/{branch}")
        done = f"commit-back: {sha[:7]} pushed to {remote}/{branch} ({len(paths)} paths)"
    else:
        done = f"commit-back: committed {sha[:7]} (no --branch: not pushed)"
    return {"pushed": bool(branch), "head": sha, "message": done}
