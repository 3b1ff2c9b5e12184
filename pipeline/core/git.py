"""git, as the rest of the package calls it: one wrapper, errors as one line naming the command."""

from __future__ import annotations

import subprocess

from pipeline.errors import PipelineError


def run(*args: str) -> subprocess.CompletedProcess:
    """`git ARGS` in the working directory, output captured; the caller reads the return code."""
    return subprocess.run(["git", *args], capture_output=True, text=True)


def git(*args: str, check: bool = True) -> str:
    """The standard output of `git ARGS`; a failure raises (unless `check` is False)."""
    proc = run(*args)
    if check and proc.returncode != 0:
        raise PipelineError(f"git {' '.join(args)}: {proc.stderr.strip() or 'failed'}")
    return proc.stdout


def show(rev: str, path: str) -> str | None:
    """A git-tracked file at `rev`, or None when that revision has no such file."""
    proc = run("show", f"{rev}:{path}")
    return proc.stdout if proc.returncode == 0 else None


def resolve(rev: str) -> str | None:
    """Full commit of `rev`, or None when git does not know it."""
    return run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").stdout.strip() or None
