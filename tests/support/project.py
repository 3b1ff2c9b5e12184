"""Temporary copies of this repository as real git + DVC projects (tests and benchmarks share them).

Tests shrink data and search budgets through params overrides so the whole suite stays fast;
they run the real `git` and `dvc` commands from this environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COPIED = ["pipeline", "dvc.yaml", "params.yaml", "expectations", ".gitignore", "Makefile",
          "pyproject.toml", "uv.lock", ".github", "monitoring", "benchmarks"]
# The copy's own test suite, which the replayed `code` job runs with `make test-fast` (the real
# repository's CI runs all of tests/; a replay cannot afford the suite inside each of its tests).
SMOKE_TEST = '''"""The command line answers: what the replayed CI job's `make test-fast` runs."""
import subprocess
import sys


def test_cli_help():
    out = subprocess.run([sys.executable, "-m", "pipeline", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage" in out.stdout
'''

# Small budgets: one trial per family, few trees, no GX Data Docs (every replayed promotion
# publishes the site; GX's import and re-validation were most of each build; tests/unit/site builds
# them). Applied on top of params.yaml.
FAST_PARAMS: dict[str, Any] = {
    "models": {
        "xgboost": {"n_trials": 1, "fixed": {"n_estimators": 60}},
        "lightgbm": {"n_trials": 1, "fixed": {"n_estimators": 60, "subsample_freq": 1}},
        "random_forest": {"n_trials": 1, "fixed": {"n_estimators": 25}},
        "logistic": {"n_trials": 1},
    },
    "site": {"data_docs_batches": 0},
}


def deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else value
    return out


def env(tmp_root: Path | None = None) -> dict[str, str]:
    """The environment every subprocess gets: this venv first, DVC config kept out of $HOME."""
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e["DVC_NO_ANALYTICS"] = "1"
    e["PYTHONHASHSEED"] = "0"
    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        e[key] = "Test Engineer"
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        e[key] = "engineer@example.invalid"
    if tmp_root is not None:
        for key, sub in (("DVC_GLOBAL_CONFIG_DIR", "dvc-global"), ("DVC_SYSTEM_CONFIG_DIR",
                         "dvc-system"), ("DVC_SITE_CACHE_DIR", "dvc-site")):
            e[key] = str(tmp_root / sub)
    return e


def run(cmd: list[str] | str, cwd: Path, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run a real command; on an unexpected failure show its output in the assertion."""
    proc = subprocess.run(cmd, cwd=cwd, env=kw.pop("env", None) or env(cwd.parent),
                          capture_output=True, text=True, shell=isinstance(cmd, str), **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\n"
                             f"stderr:\n{proc.stderr[-4000:]}")
    return proc


def cli(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "pipeline", *args], cwd, check=check)


def write_params(project: Path, overrides: dict[str, Any], families: tuple[str, ...] | None = None
                 ) -> dict[str, Any]:
    """Merge overrides into params.yaml block by block, keeping its comments (as users' edits do);
    `families` keeps only those model families (each one trained is a process and a DVC stage)."""
    from pipeline.params import replace_block

    path = project / "params.yaml"
    text = path.read_text()
    merged = deep_merge(yaml.safe_load(text), overrides)
    if families is not None:
        merged["models"] = {family: merged["models"][family] for family in families}
    for key in dict.fromkeys([*overrides, *(["models"] if families is not None else [])]):
        text = replace_block(text, key, merged[key])
    path.write_text(text)
    return merged


def simulate_batches(directory: Path, periods: list[str], rows: int, scenario: str = "stable",
                     seed: int = 0, suffix: str = ".csv") -> list[Path]:
    from pipeline.core.files import write_frame
    from pipeline.simulate import simulate

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for period in periods:
        path = directory / f"{period}{suffix}"
        write_frame(path, simulate(period, rows, scenario, seed))
        paths.append(path)
    return paths


def make_project(base: Path, periods: list[str] | None = None, rows: int = 1200,
                 overrides: dict[str, Any] | None = None, git: bool = True, fast: bool = True,
                 suffix: str = ".csv", families: tuple[str, ...] | None = None) -> Path:
    """A copy of this repository with simulated batches, committed in a fresh git repo.

    `fast` shrinks the search budgets (tests); benchmarks pass False to time the real params.
    `families` keeps only those model families: a test about the loop, the data or the engine needs
    one or two, and each family costs a process of several seconds per repro."""
    project = base / "project"
    project.mkdir(parents=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, project / name)
    (project / "tests").mkdir()
    (project / "tests" / "test_smoke.py").write_text(SMOKE_TEST)
    simulate_batches(project / "data" / "batches",
                     periods or ["2024-01", "2024-02", "2024-03"], rows, suffix=suffix)
    write_params(project, deep_merge(FAST_PARAMS if fast else {}, overrides or {}), families)
    write_null_champion(project)
    if git:
        run(["git", "init", "-q", "-b", "main"], project)
        run(["dvc", "init", "-q"], project)
        run(["dvc", "config", "core.analytics", "false"], project)
        run(["git", "add", "-A"], project)
        run(["git", "commit", "-q", "-m", "initial project"], project)
    return project


def write_null_champion(project: Path) -> None:
    """models/champion.json as a new project has it: no champion. The library reads a missing file
    the same way, but DVC refuses to run a stage whose declared dependency is absent."""
    from pipeline.config import CHAMPION
    from pipeline.core import champion

    path = project / CHAMPION
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(champion.render(champion.null("a new project: no production model yet")))


def copy_project(src: Path, base: Path) -> Path:
    """A private copy of a prepared project (git history, DVC cache, outputs) at `base/project`, where
    make_project would put it: tests share one expensive `dvc repro` and change only their copy."""
    dest = base / "project"
    shutil.copytree(src, dest, symlinks=True)
    return dest
