"""The `uses:` steps the replay knows: checkout (a real clone), the setup actions (provided by the
runner), artifacts and Pages, and local composite actions (read here, their steps run by the runner)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.support.replay.events import ReplayError, git
from tests.support.replay.expressions import substitute, to_str, truthy
from tests.support.replay.results import StepResult

VENV = Path(sys.executable).parent.parent
SETUP_ACTIONS = ("actions/setup-python", "astral-sh/setup-uv", "iterative/setup-cml", "iterative/setup-dvc")


def link_venv(workdir: Path, venv: Path = VENV) -> None:
    """The runner's cached environment: `.venv` links to this one, stamped installed for the Makefile."""
    target = workdir / ".venv"
    if target.exists():
        return
    target.mkdir()
    for entry in venv.iterdir():
        if entry.name != ".installed":
            (target / entry.name).symlink_to(entry)
    (target / ".installed").touch()


def checkout(res: StepResult, args: dict[str, Any], ctx: dict[str, Any], work: Path, origin: Path,
             provision: Callable[[Path], None]) -> None:
    """`actions/checkout`: a real clone of origin (full history and tags) at `with.ref`."""
    ref = to_str(args.get("ref")) or ctx["github"]["sha"]
    if any(work.iterdir()):
        shutil.rmtree(work)
        work.mkdir()
    git(["clone", "-q", "--no-hardlinks", str(origin), "."], work)
    proc = subprocess.run(["git", "checkout", "-q", "--detach", ref], cwd=work, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        proc = subprocess.run(["git", "checkout", "-q", "--detach", f"origin/{ref}"], cwd=work,
                              capture_output=True, text=True)
    if proc.returncode != 0:
        res.outcome = res.conclusion = "failure"
        res.stderr = proc.stderr
        return
    if not truthy(args.get("persist-credentials", True)):
        nowhere = "/nonexistent/persist-credentials-false"
        git(["remote", "set-url", "--push", "origin", nowhere], work)
    res.stdout = f"checked out {ref} with full history"
    provision(work)


def upload(action: str, args: dict[str, Any], work: Path) -> None:
    """`actions/upload-artifact` / `upload-pages-artifact`: copied beside the job's work tree."""
    default = "github-pages" if action.endswith("pages-artifact") else "artifact"
    dest = work.parent / "artifacts" / to_str(args.get("name", default))
    dest.mkdir(parents=True, exist_ok=True)
    for pattern in to_str(args.get("path")).split():
        for src in work.glob(pattern):
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / src.name)


def load_composite(uses: str, work: Path) -> dict[str, Any] | str:
    """The metadata of the local action `uses` (`./path`), or GitHub's error when it cannot run.

    A local action is read from the job's workspace when its step runs: "You must check out your
    repository before using the action" (docs: workflow-syntax-for-github-actions
    #example-using-an-action-in-the-same-repository-as-the-workflow); without a checkout the runner
    fails the step with "Can't find 'action.yml', 'action.yaml' or 'Dockerfile'". In a composite
    action, `shell:` is required on every `run:` step ("Required if run is set", docs:
    metadata-syntax-for-github-actions#runsstepsshell): a workflow's `defaults.run.shell` does not
    reach inside it."""
    folder = work / uses[2:]
    found = [folder / name for name in ("action.yml", "action.yaml") if (folder / name).is_file()]
    if not found:
        return (f"Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under '{folder}'. Did you "
                "forget to run actions/checkout before running your local action?")
    spec = yaml.safe_load(found[0].read_text()) or {}
    runs = spec.get("runs") or {}
    if runs.get("using") != "composite":
        raise ReplayError(f"{uses}: only composite local actions are replayed ({runs.get('using')})")
    for i, step in enumerate(runs.get("steps") or []):
        if "run" in step and not step.get("shell"):
            return f"{found[0]}: runs.steps[{i}]: Required property is missing: shell"
    return spec


def composite_inputs(uses: str, spec: dict[str, Any], given: dict[str, Any],
                     ctx: dict[str, Any]) -> dict[str, str]:
    """The action's `inputs` context: `with:` values over the declared defaults, as strings. An input
    the action does not declare is refused (GitHub only warns "Unexpected input(s)": the replay is
    stricter, a misspelt input is a bug)."""
    declared = spec.get("inputs") or {}
    unknown = set(given) - set(declared)
    if unknown:
        raise ReplayError(f"{uses}: the action declares no inputs {sorted(unknown)}")
    return {name: to_str(given[name] if name in given else substitute((decl or {}).get("default"), ctx))
            for name, decl in declared.items()}
