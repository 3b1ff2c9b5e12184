"""The runner: a workflow's jobs in `needs` order, reusable workflows expanded, each step run as GitHub
runs it (shell, env, GITHUB_* files, `if:`, outputs); local composite actions run their own steps."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.support.replay import actions
from tests.support.replay.actions import VENV, link_venv
from tests.support.replay.events import READ_TOKEN, REPOSITORY, WRITE_TOKEN, Event, ReplayError, git
from tests.support.replay.expressions import condition, substitute, to_num, to_str, truthy
from tests.support.replay.github import FakeGitHub, install_hooks
from tests.support.replay.results import JobResult, RunResult, StepResult, read_kv_file
from tests.support.replay.standins import install_stand_ins
from tests.support.replay.triggers import cancelled, triggered, triggers


class Replayer:
    """Runs workflows of the repository in `origin` (a bare git repo) as GitHub would."""

    def __init__(self, origin: Path, workspace: Path, github: FakeGitHub | None = None,
                 secrets: dict[str, str] | None = None, variables: dict[str, str] | None = None,
                 env: dict[str, str] | None = None, repository: str = REPOSITORY,
                 provision: Callable[[Path], None] = link_venv):
        self.origin = Path(origin)
        self.workspace = Path(workspace)
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.github = github or FakeGitHub(self.workspace / "github.json")
        self.secrets = dict(secrets or {})
        self.variables = dict(variables or {})
        self.repository = repository
        self.provision = provision
        self.stand_ins = install_stand_ins(self.workspace / "stand-ins")
        base = dict(os.environ if env is None else env)
        venv_bin = str(VENV / "bin")
        path = [p for p in base.get("PATH", "").split(os.pathsep) if p and p != venv_bin]
        base["PATH"] = os.pathsep.join([str(self.stand_ins), *path])
        for key in [k for k in base if k.startswith(("GITHUB_", "RUNNER_", "VIRTUAL_ENV", "PYTHONPATH"))]:
            base.pop(key)
        self.base_env = base
        self.counter = 0

    # workflows are read from the commit the event points at, as GitHub does
    def load(self, path: str, sha: str) -> dict[str, Any]:
        text = git(["show", f"{sha}:{path}"], self.origin)
        return yaml.safe_load(text)

    def run(self, workflow: str, event: Event, check_trigger: bool = True,
            inputs: dict[str, Any] | None = None) -> RunResult:
        wf = self.load(workflow, event.sha)
        ok, reason = triggered(wf, event) if check_trigger else (True, "")
        result = RunResult(workflow, event, ok, reason)
        if not ok:
            return result
        self.counter += 1
        run_dir = self.workspace / f"run-{self.counter:02d}-{Path(workflow).stem}-{event.name}"
        run_dir.mkdir(parents=True)
        event_path = run_dir / "event.json"
        event_path.write_text(json.dumps(event.payload, indent=2))
        ctx = self._context(wf, workflow, event, event_path, inputs)
        result.concurrency = substitute(wf.get("concurrency"), ctx)
        self._run_jobs(wf, ctx, wf.get("env") or {}, run_dir, result.jobs, prefix="", shown="")
        # Each job reports a check run on the commit the run is for (a PR's head), named by the job's
        # `name:` ("caller / called" inside a reusable workflow); a skipped job reports "skipped",
        # which satisfies a required check (docs: troubleshooting-required-status-checks).
        for job in result.jobs.values():
            if not job.reusable:
                self.github.report_check(event.sha, job.display, job.status)
        return result

    def _context(self, wf: dict[str, Any], workflow: str, event: Event, event_path: Path,
                 inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        fork = event.fork
        ctx = {
            "github": {
                "event_name": event.name, "event": event.payload, "ref": event.ref, "sha": event.sha,
                "ref_name": event.ref.rsplit("/", 1)[-1] if event.name != "pull_request"
                else f"{event.payload['number']}/merge",
                "base_ref": event.base_ref, "head_ref": event.head_ref, "repository": self.repository,
                "repository_owner": self.repository.split("/")[0], "actor": "replay",
                "token": READ_TOKEN if fork else WRITE_TOKEN, "run_id": str(self.counter),
                "run_number": str(self.counter), "server_url": "https://github.com",
                "workflow": wf.get("name", workflow), "event_path": str(event_path),
            },
            "secrets": {} if fork else {**self.secrets, "GITHUB_TOKEN": WRITE_TOKEN},
            "vars": self.variables,
            "inputs": dict(inputs or event.payload.get("inputs") or {}),
            "runner": {"os": "Linux", "arch": "X64"},
        }
        ctx["inputs"] = self._input_defaults(wf, event.name, ctx["inputs"])
        return ctx

    def rerun(self, previous: RunResult) -> RunResult:
        """"Re-run jobs": the same event again — the same commit, workflow file and payload, even if
        the branch has moved on since (docs: re-running-workflows-and-jobs)."""
        return self.run(previous.workflow, previous.event)

    def run_concurrently(self, runs: list[tuple[str, Event]]) -> list[RunResult]:
        """Events that arrive while the first run of their concurrency group is still in progress:
        the runs `cancelled()` lets through, in order; the others come back cancelled, not run."""
        results: list[RunResult] = []
        for workflow, event in runs:
            wf = self.load(workflow, event.sha)
            ok, reason = triggered(wf, event)
            spec = substitute(wf.get("concurrency"), self._context(wf, workflow, event, Path("event.json")))
            results.append(RunResult(workflow, event, ok, reason, concurrency=spec))
        live = [r for r in results if r.triggered]
        for res, dropped in zip(live, cancelled([r.concurrency for r in live]), strict=True):
            res.cancelled = dropped
            res.reason = "cancelled: a newer run of its concurrency group is pending" if dropped else ""
        return [self.run(r.workflow, r.event) if r.triggered and not r.cancelled else r for r in results]

    @staticmethod
    def _input_defaults(wf: dict[str, Any], event_name: str, given: dict[str, Any]) -> dict[str, Any]:
        spec = triggers(wf.get("on", wf.get(True))).get(event_name) or {}
        if not isinstance(spec, dict):  # `schedule:` is a list of crons and declares no inputs
            spec = {}
        out = {}
        for name, decl in (spec.get("inputs") or {}).items():
            decl = decl or {}
            value = given.get(name, decl.get("default"))
            if value is None and decl.get("required"):
                raise ReplayError(f"input {name!r} is required")
            if decl.get("type") == "boolean" and isinstance(value, str):
                value = value.lower() == "true"
            out[name] = value if value is not None else ("" if decl.get("type") != "boolean" else False)
        return {**given, **out}

    def _run_jobs(self, wf: dict[str, Any], ctx: dict[str, Any], wf_env: dict[str, Any], run_dir: Path,
                  results: dict[str, JobResult], prefix: str, shown: str) -> dict[str, JobResult]:
        jobs = wf.get("jobs") or {}
        wf_shell = ((wf.get("defaults") or {}).get("run") or {}).get("shell")
        done: dict[str, JobResult] = {}
        order = list(jobs)
        while len(done) < len(order):
            progressed = False
            for job_id in order:
                if job_id in done:
                    continue
                needs = jobs[job_id].get("needs") or []
                needs = [needs] if isinstance(needs, str) else needs
                if not all(n in done for n in needs):
                    continue
                progressed = True
                job = jobs[job_id]
                shell = ((job.get("defaults") or {}).get("run") or {}).get("shell") or wf_shell
                if shell:  # `defaults.run.shell` applies to every step that does not name its own
                    job = {**job, "steps": [{"shell": shell, **s} for s in job.get("steps") or []]}
                done[job_id] = self._run_job(job_id, job, needs, done, ctx, wf_env, run_dir, results, prefix)
                done[job_id].display = shown + str(job.get("name") or job_id)
            if not progressed:
                raise ReplayError(f"jobs with unmet or circular needs: {set(order) - set(done)}")
        return done

    def _run_job(self, job_id: str, job: dict[str, Any], needs: list[str], done: dict[str, JobResult],
                 ctx: dict[str, Any], wf_env: dict[str, Any], run_dir: Path,
                 results: dict[str, JobResult], prefix: str) -> JobResult:
        name = prefix + job_id
        jctx = {**ctx, "needs": {n: {"result": done[n].status, "outputs": done[n].outputs} for n in needs}}
        all_ok = all(done[n].status == "success" for n in needs)
        status = {"success": all_ok, "failure": any(done[n].status == "failure" for n in needs),
                  "always": True, "cancelled": False}
        if not condition(job.get("if"), jctx, status):
            results[name] = JobResult(name, "skipped", permissions=job.get("permissions"))
            return results[name]
        if "uses" in job:
            return self._run_reusable(name, job, jctx, run_dir, results)
        if "strategy" in job:
            raise ReplayError(f"job {name}: strategy/matrix is not replayed")
        result = JobResult(name, "success", permissions=job.get("permissions"))
        results[name] = result
        job_dir = run_dir / name.replace("/", "__")
        work, temp = job_dir / "work", job_dir / "temp"
        work.mkdir(parents=True)
        temp.mkdir()
        result.workdir = work
        env_ctx = {**jctx, "env": {}, "steps": {}, "job": {"status": "success"},
                   "runner": {**jctx["runner"], "temp": str(temp)}}
        env_ctx["github"] = {**jctx["github"], "workspace": str(work), "job": job_id}
        # the job's GITHUB_TOKEN, scoped by its `permissions:` (origin's hooks and the stand-ins check it)
        env: dict[str, str] = {"REPLAY_TOKEN": "GITHUB_TOKEN",
                               "REPLAY_PERMISSIONS": json.dumps(job.get("permissions"))}
        for block in (wf_env, job.get("env") or {}):
            env_ctx["env"] = dict(env)
            env.update({k: to_str(substitute(v, env_ctx)) for k, v in block.items()})
        extra_path: list[str] = []
        failed = False
        for index, step in enumerate(job.get("steps") or []):
            sid = step.get("id") or f"__step{index}"
            sname = step.get("name") or step.get("uses") or (step.get("run") or "").splitlines()[0]
            env_ctx["env"] = dict(env)
            env_ctx["job"] = {"status": "failure" if failed else "success"}
            st = {"success": not failed, "failure": failed, "always": True, "cancelled": False}
            if not condition(step.get("if"), env_ctx, st):
                res = StepResult(sname, step.get("id"), "skipped", "skipped", run=step.get("run"),
                                 uses=step.get("uses"))
            else:
                res = self._run_step(step, sname, env, env_ctx, work, temp, extra_path, name)
                if res.outcome == "failure" and truthy(substitute(step.get("continue-on-error", False),
                                                                  env_ctx)):
                    res.conclusion = "success"
                failed = failed or res.conclusion == "failure"
            result.steps.append(res)
            env_ctx["steps"][sid] = {"outputs": res.outputs, "outcome": res.outcome,
                                     "conclusion": res.conclusion}
            result.summary += res.summary
        result.status = "failure" if failed else "success"
        env_ctx["job"] = {"status": result.status}
        env_ctx["steps"] = {k: v for k, v in env_ctx["steps"].items()}
        result.outputs = {k: to_str(substitute(v, env_ctx)) for k, v in (job.get("outputs") or {}).items()}
        return result

    def _run_reusable(self, name: str, job: dict[str, Any], ctx: dict[str, Any], run_dir: Path,
                      results: dict[str, JobResult]) -> JobResult:
        uses = job["uses"]
        if not uses.startswith("./"):
            raise ReplayError(f"job {name}: only local reusable workflows are replayed ({uses})")
        wf = self.load(uses[2:], ctx["github"]["sha"])
        spec = triggers(wf.get("on", wf.get(True))).get("workflow_call")
        if spec is None:
            raise ReplayError(f"{uses}: not a reusable workflow (no on.workflow_call)")
        given = {k: substitute(v, ctx) for k, v in (job.get("with") or {}).items()}
        declared = spec.get("inputs") or {}
        unknown = set(given) - set(declared)
        if unknown:
            raise ReplayError(f"job {name}: {uses} declares no inputs {sorted(unknown)}")
        inputs = {}
        for key, decl in declared.items():
            decl = decl or {}
            value = given.get(key, decl.get("default"))
            if value is None and decl.get("required"):
                raise ReplayError(f"job {name}: input {key!r} of {uses} is required")
            if decl.get("type") == "boolean":
                value = value if isinstance(value, bool) else str(value).lower() == "true"
            elif decl.get("type") == "number" and value is not None:
                value = to_num(value)
            inputs[key] = "" if value is None else value
        secrets_spec = job.get("secrets")
        if secrets_spec == "inherit":
            secrets = dict(ctx["secrets"])
        else:
            secrets = {k: to_str(substitute(v, ctx)) for k, v in (secrets_spec or {}).items()}
            secrets = {k: v for k, v in secrets.items() if v}
            undeclared = set(secrets) - set(spec.get("secrets") or {})
            if undeclared:
                raise ReplayError(f"job {name}: {uses} declares no secrets {sorted(undeclared)}")
        inner_ctx = {**ctx, "inputs": inputs, "secrets": {**secrets, "GITHUB_TOKEN": ctx["github"]["token"]}}
        inner_ctx.pop("needs", None)
        inner = self._run_jobs(wf, inner_ctx, wf.get("env") or {}, run_dir, results, prefix=f"{name}/",
                               shown=str(job.get("name") or name.rsplit("/", 1)[-1]) + " / ")
        status = ("failure" if any(j.status == "failure" for j in inner.values()) else
                  "skipped" if all(j.status == "skipped" for j in inner.values()) else "success")
        out_ctx = {**inner_ctx,
                   "jobs": {k: {"result": j.status, "outputs": j.outputs} for k, j in inner.items()}}
        outputs = {k: to_str(substitute((v or {}).get("value"), out_ctx))
                   for k, v in (spec.get("outputs") or {}).items()}
        result = JobResult(name, status, outputs=outputs, permissions=job.get("permissions"), reusable=True)
        results[name] = result
        return result

    def _run_step(self, step: dict[str, Any], sname: str, env: dict[str, str], ctx: dict[str, Any],
                  work: Path, temp: Path, extra_path: list[str], job_name: str,
                  inherited: dict[str, str] | None = None) -> StepResult:
        """One step; `inherited` is the `env:` of the step calling the composite action it belongs to."""
        started = time.time()
        step_env = {**(inherited or {}),
                    **{k: to_str(substitute(v, ctx)) for k, v in (step.get("env") or {}).items()}}
        if "uses" in step:
            res = self._action(step, sname, env, step_env, ctx, work, temp, extra_path, job_name)
            res.seconds = time.time() - started
            return res
        script = step.get("run")
        if script is None:
            raise ReplayError(f"step {sname!r}: neither run nor uses")
        if "${{" in script:
            raise ReplayError(f"step {sname!r}: `${{{{ }}}}` inside run: is refused (pass it through env:)")
        shell = step.get("shell")
        if shell not in (None, "bash"):
            raise ReplayError(f"step {sname!r}: only the bash shell is replayed")
        # As on GitHub: an implicit shell is `bash -e {0}`; only an explicit `bash` adds pipefail.
        flags = ["-eo", "pipefail"] if shell == "bash" else ["-e"]
        index = len([p for p in temp.iterdir() if p.name.startswith("step-")])
        files = {name: temp / f"{name.lower()}-{index}" for name in ("GITHUB_OUTPUT", "GITHUB_ENV",
                                                                     "GITHUB_PATH")}
        files["GITHUB_STEP_SUMMARY"] = temp / f"summary-{index}.md"
        for path in files.values():
            path.touch()
        script_path = temp / f"step-{index}.sh"
        script_path.write_text(script)
        full_env = {**self.base_env, **env, **step_env}
        full_env.update({
            "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": ctx["github"]["event_name"],
            "GITHUB_REF": ctx["github"]["ref"], "GITHUB_SHA": ctx["github"]["sha"],
            "GITHUB_REF_NAME": ctx["github"]["ref_name"],
            "GITHUB_BASE_REF": ctx["github"]["base_ref"], "GITHUB_HEAD_REF": ctx["github"]["head_ref"],
            "GITHUB_REPOSITORY": ctx["github"]["repository"], "GITHUB_WORKSPACE": str(work),
            "GITHUB_EVENT_PATH": ctx["github"]["event_path"], "GITHUB_RUN_ID": ctx["github"]["run_id"],
            "GITHUB_SERVER_URL": "https://github.com", "GITHUB_JOB": ctx["github"]["job"],
            "RUNNER_TEMP": str(temp), "RUNNER_OS": "Linux",
            "REPLAY_GITHUB_STATE": str(self.github.path), "REPLAY_JOB": job_name,
            **{k: str(v) for k, v in files.items()},
        })
        full_env["PATH"] = os.pathsep.join([*reversed(extra_path), full_env["PATH"]])
        cwd = work / step["working-directory"] if step.get("working-directory") else work
        proc = subprocess.run(["bash", "--noprofile", "--norc", *flags, str(script_path)],
                              cwd=cwd, env=full_env, capture_output=True, text=True)
        outcome = "success" if proc.returncode == 0 else "failure"
        env.update(read_kv_file(files["GITHUB_ENV"]))
        extra_path += [ln for ln in files["GITHUB_PATH"].read_text().splitlines() if ln.strip()]
        return StepResult(sname, step.get("id"), outcome, outcome, read_kv_file(files["GITHUB_OUTPUT"]),
                          proc.stdout, proc.stderr, run=script, seconds=time.time() - started,
                          summary=files["GITHUB_STEP_SUMMARY"].read_text())

    def _action(self, step: dict[str, Any], sname: str, env: dict[str, str], step_env: dict[str, str],
                ctx: dict[str, Any], work: Path, temp: Path, extra_path: list[str],
                job_name: str) -> StepResult:
        uses = step["uses"]
        action = uses.split("@", 1)[0]
        args = {k: substitute(v, ctx) for k, v in (step.get("with") or {}).items()}
        res = StepResult(sname, step.get("id"), "success", "success", uses=uses)
        if uses.startswith("./"):
            spec = actions.load_composite(uses, work)
            if isinstance(spec, str):
                res.outcome = res.conclusion = "failure"
                res.stderr = spec
                return res
            self._composite(res, spec, actions.composite_inputs(uses, spec, args, ctx), env, step_env, ctx,
                            work, temp, extra_path, job_name)
        elif action == "actions/checkout":
            actions.checkout(res, args, ctx, work, self.origin, self.provision)
        elif action in actions.SETUP_ACTIONS:
            res.stdout = f"{action}: provided by the replay runner"
        elif action in ("actions/upload-artifact", "actions/upload-pages-artifact"):
            actions.upload(action, args, work)
        elif action == "actions/deploy-pages":  # the site is the uploaded github-pages artifact
            res.outputs = {"page_url": f"https://{self.repository.split('/')[0]}.github.io/"
                                       f"{self.repository.split('/')[1]}/"}
        else:
            raise ReplayError(f"step {sname!r}: action {uses} is not replayed")
        return res

    def _composite(self, res: StepResult, spec: dict[str, Any], inputs: dict[str, str], env: dict[str, str],
                   step_env: dict[str, str], ctx: dict[str, Any], work: Path, temp: Path,
                   extra_path: list[str], job_name: str) -> None:
        """A composite action's `runs.steps`, in the job's workspace and environment: the calling step's
        `env:` reaches them, GITHUB_ENV/GITHUB_PATH they write reach the job's later steps; their
        context has `inputs` and the action's own `steps`, no `secrets` (docs: metadata-syntax-for-
        github-actions#runs-for-composite-actions, contexts#context-availability)."""
        actx = {k: v for k, v in ctx.items() if k not in ("secrets", "needs", "vars")}
        actx.update(inputs=inputs, steps={})
        failed = False
        for index, step in enumerate(spec["runs"].get("steps") or []):
            sname = step.get("name") or step.get("uses") or (step.get("run") or "").splitlines()[0]
            actx["env"] = {**env, **step_env}
            st = {"success": not failed, "failure": failed, "always": True, "cancelled": False}
            if not condition(step.get("if"), actx, st):
                inner = StepResult(sname, step.get("id"), "skipped", "skipped", run=step.get("run"))
            else:
                inner = self._run_step(step, sname, env, actx, work, temp, extra_path, job_name, step_env)
                if inner.outcome == "failure" and truthy(substitute(step.get("continue-on-error", False),
                                                                    actx)):
                    inner.conclusion = "success"
                failed = failed or inner.conclusion == "failure"
            res.steps.append(inner)
            actx["steps"][step.get("id") or f"__step{index}"] = {
                "outputs": inner.outputs, "outcome": inner.outcome, "conclusion": inner.conclusion}
        res.outcome = res.conclusion = "failure" if failed else "success"
        res.stdout = "".join(s.stdout for s in res.steps)
        res.stderr = "".join(s.stderr for s in res.steps)
        res.summary = "".join(s.summary for s in res.steps)
        res.outputs = {k: to_str(substitute((v or {}).get("value"), actx))
                       for k, v in (spec.get("outputs") or {}).items()}


def publish(project: Path, base: Path, dvc_remote: Path,
            env: dict[str, str]) -> tuple[Path, FakeGitHub, Replayer]:
    """The GitHub side of a story: a bare `origin` holding the project's main, a fake GitHub, and a
    replayer whose secrets point at the local-folder DVC remote."""
    origin = base / "origin.git"
    git(["init", "-q", "--bare", "-b", "main", str(origin)], base)
    git(["remote", "add", "origin", str(origin)], project)
    git(["push", "-q", "-u", "origin", "main"], project)
    github = FakeGitHub(base / "github.json")
    install_hooks(origin, github)
    replay = Replayer(origin, base / "runner", github, secrets={"DVC_REMOTE_URL": str(dvc_remote)}, env=env)
    return origin, github, replay
