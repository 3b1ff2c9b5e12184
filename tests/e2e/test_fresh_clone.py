"""A newcomer's clone: `make run` gets exactly the committed outputs from the bundled example remote,
and every command that needs a model it cannot fetch fails closed (one line, exit 2).

The clone is this repository's tracked files as they are in the work tree (what CI's clean clone of
`main` holds), in a fresh git repository; `.venv` is linked to this environment so `make` does not
reinstall it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.project import ROOT, cli, copy_project, env, run, simulate_batches, write_params

pytestmark = pytest.mark.slow

MODEL = "models/model.skops"


def lock_md5(project: Path, path: str) -> str:
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    return next(o["md5"] for s in lock["stages"].values() for o in s.get("outs", [])
                if o["path"] == path)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory) -> Path:
    """The tracked files, committed in a new repository, after `make run`."""
    base = tmp_path_factory.mktemp("fresh")
    clone = base / "clone"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split("\0")
    for name in filter(None, tracked):
        src = ROOT / name
        if src.exists():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / name)  # mtimes kept: make sees the environment as installed
    (clone / ".venv").symlink_to(Path(sys.executable).parent.parent)
    run(["git", "init", "-q", "-b", "main"], clone)
    run(["git", "add", "-A"], clone)
    run(["git", "commit", "-qm", "clone"], clone)
    started = time.perf_counter()
    out = run(["make", "run"], clone).stdout
    print(f"make run on a fresh clone: {time.perf_counter() - started:.1f}s")
    (base / "make-run.log").write_text(out)
    return clone


def test_make_run_pulls_the_committed_bytes_and_reproduces_nothing(fresh_clone):
    log = (fresh_clone.parent / "make-run.log").read_text()
    assert "Running stage" not in log, log
    assert "didn't change" in log and "Selected model" in log
    assert run(["git", "status", "--porcelain"], fresh_clone).stdout == ""
    assert md5(fresh_clone / MODEL) == lock_md5(fresh_clone, MODEL)


def test_the_model_compared_with_itself_is_rejected(fresh_clone):
    proc = cli(["compare", "--base", "HEAD"], fresh_clone, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # a reject is a finding, not a failure
    result = json.loads((fresh_clone / "reports" / "comparison.json").read_text())
    assert result["decision"] == "reject" and result["promote"] is False
    assert result["models"]["champion"] is not None and result["delta"] == 0
    assert result["identical_models"] is True


def test_monitor_scores_new_months_with_the_committed_model(fresh_clone, tmp_path):
    months = simulate_batches(tmp_path / "new", ["2024-07", "2024-08"], 1500)
    out = cli(["monitor", "--rev", "HEAD", "--batches", *map(str, months), "--output-dir",
               str(tmp_path / "monitoring")], fresh_clone)
    assert "2024-08" in out.stdout
    assert (tmp_path / "monitoring" / "history.csv").exists()


def test_changing_the_model_saving_module_marks_the_train_stages(fresh_clone):
    io_module = fresh_clone / "pipeline" / "core" / "files.py"
    original = io_module.read_bytes()
    try:
        io_module.write_bytes(original + b"# a comment changes the module's hash\n")
        status = run(["dvc", "status"], fresh_clone).stdout
    finally:
        io_module.write_bytes(original)
    families = yaml.safe_load((fresh_clone / "params.yaml").read_text())["models"]
    for family in families:
        assert f"train@{family}:" in status, status
    assert "evaluate:" in status


def test_the_bundled_remote_holds_every_object_dvc_lock_pins():
    from dvc.repo import Repo

    remote = ROOT / ".dvc" / "example-remote" / "files" / "md5"
    size = sum(p.stat().st_size for p in remote.rglob("*") if p.is_file())
    assert size <= 5 * 2**20, f"bundled remote is {size:,} bytes (limit 5 MB)"
    missing, cached = [], 0
    with Repo(str(ROOT)) as repo:  # DVC's own view: dvc.yaml resolved, dvc.lock's hashes
        for out in (o for stage in repo.index.stages for o in stage.outs if o.use_cache):
            digest = out.hash_info.value
            obj = remote / digest[:2] / digest[2:]
            cached += 1
            if not obj.exists():
                missing.append(f"{out.def_path} ({digest})")
            elif digest.endswith(".dir"):
                missing += [f"{out.def_path}/{e['relpath']}" for e in json.loads(obj.read_text())
                            if not (remote / e["md5"][:2] / e["md5"][2:]).exists()]
    assert cached >= 6 and not missing, f"not in .dvc/example-remote (`make example-remote`): {missing}"


# --- fail closed ----------------------------------------------------------------------------------


@pytest.fixture(params=["no remote", "empty folder", "missing folder"])
def unfetchable(request, fresh_clone, tmp_path) -> tuple[Path, str]:
    """A copy of the clone whose cache is gone and whose remote cannot give the model."""
    clone = tmp_path / "clone"
    shutil.copytree(fresh_clone, clone, symlinks=True)
    shutil.rmtree(clone / ".dvc" / "cache")
    (clone / "reports" / "comparison.json").unlink(missing_ok=True)
    if request.param == "no remote":
        run(["dvc", "config", "--unset", "core.remote"], clone)
        expected = "no DVC remote"
    else:
        where = tmp_path / "empty-remote"
        if request.param == "empty folder":
            where.mkdir()
        run(["dvc", "remote", "add", "--local", "-d", "elsewhere", str(where)], clone)
        expected = f"'elsewhere' ({where}" + ("" if where.exists() else ", a folder that does not exist")
    return clone, expected


def _one_line_error(proc: subprocess.CompletedProcess, *parts: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for part in parts:
        assert part in errors[0], (part, errors[0])


def test_commands_needing_the_unfetchable_model_stop_with_one_line(unfetchable):
    clone, remote = unfetchable
    digest = lock_md5(clone, MODEL)
    proc = cli(["compare", "--base", "HEAD"], clone, check=False)
    _one_line_error(proc, MODEL, digest, "HEAD", remote)
    assert not (clone / "reports" / "comparison.json").exists()  # no promote decision written
    _one_line_error(cli(["monitor", "--rev", "HEAD"], clone, check=False), MODEL, digest, remote)
    _one_line_error(cli(["drift"], clone, check=False), MODEL, digest, remote)
    _one_line_error(cli(["promote"], clone, check=False), MODEL)


def test_no_champion_only_when_the_revision_has_no_model(tmp_path, reproduced_example):
    project = copy_project(reproduced_example, tmp_path)  # reproduced, not committed
    proc = cli(["compare", "--base", "HEAD"], project, check=False)  # HEAD: batches, no model yet
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((project / "reports" / "comparison.json").read_text())["decision"] == "no_champion"


# --- deterministic bytes, atomic outputs ------------------------------------------------------------


def test_linear_model_bytes_do_not_depend_on_blas_threads_or_the_clone_path(tmp_path, reproduced_example):
    project = copy_project(reproduced_example, tmp_path / "a")  # the prepared splits are there
    write_params(project, {"models": {"logistic": {"n_trials": 2}}})
    other = tmp_path / "b" / "elsewhere" / "project"
    shutil.copytree(project, other)
    digests = set()
    for where, threads in ((project, "1"), (project, "2"), (other, "2")):
        e = env(where.parent) | {"OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
        run([sys.executable, "-m", "pipeline", "train", "--family", "logistic"], where, env=e)
        digests.add(hashlib.sha256((where / "models/candidates/logistic.skops").read_bytes()).hexdigest())
    assert len(digests) == 1, digests


@pytest.mark.parametrize("stage", ["train@xgboost", "evaluate"])
def test_sigkill_mid_stage_leaves_no_half_written_file(tmp_path, reproduced_example, stage):
    project = copy_project(reproduced_example, tmp_path)  # every output there: the stage replaces them
    proc = subprocess.Popen(["dvc", "repro", "--force", "--single-item", stage], cwd=project,
                            env=env(tmp_path), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    marker = f"Running stage '{stage}'"
    seen = ""
    for line in proc.stdout:
        seen += line
        if marker in line:
            time.sleep(1.5)  # inside the stage: fitting, or writing its outputs
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert marker in seen, seen
    skip = {".git", ".dvc"}
    leftovers = [p for p in project.rglob("*") if p.is_file() and not skip & set(p.relative_to(
        project).parts) and (p.name.endswith(".tmp") or p.name.startswith("."))
        and p.name not in {".gitignore", ".dvcignore"}]
    assert not leftovers, leftovers
    from pipeline.core.files import load_model

    for model in project.glob("models/**/*.skops"):
        load_model(model)  # whole, or not there at all
    for report in project.glob("reports/**/*.json"):
        json.loads(report.read_text())
    run(["dvc", "repro"], project)
    assert "up to date" in run(["dvc", "status"], project).stdout
