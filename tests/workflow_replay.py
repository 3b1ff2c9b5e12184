"""Replay GitHub Actions workflows on this machine: the workflows' own `run:` steps, in order.

There is no GitHub here, so the proof that the workflows work is a replay: parse the workflow YAML
(from the commit the event points at, as GitHub does), decide whether the event triggers it
(branches, paths, types, `[skip ci]`), expand reusable workflows (`uses: ./.github/workflows/x.yaml`
with `with:` and `secrets:`), then run every job's steps like a runner would:

- a fresh runner directory per job; `actions/checkout` becomes a real clone of the bare `origin`
  (full history and tags), checked out at `with.ref`; `persist-credentials: false` leaves the clone
  unable to push (its push URL points nowhere), exactly the failure GitHub would give;
- `run:` steps run as GitHub runs them (`bash -e`, or `-eo pipefail` when `shell: bash` is set),
  with GITHUB_* variables, the
  `env:` blocks of workflow, job and step (their `${{ }}` expressions substituted from a context),
  and the GITHUB_OUTPUT / GITHUB_ENV / GITHUB_PATH / GITHUB_STEP_SUMMARY files; a `${{ }}` inside
  `run:` is refused (the security rule this repository follows);
- `if:` conditions, `continue-on-error`, `steps.<id>.outputs|outcome|conclusion`, `needs`, job
  and reusable-workflow `outputs`;
- setup actions (setup-python, setup-uv, setup-cml, setup-dvc) are no-ops: the runner is
  provisioned with this repository's environment (`.venv` linked into the clone, marked installed, so
  `make install` is the no-op a cache hit gives; pass another `provision` to run the real install)
  — but it is NOT put on PATH: the workflow must do that itself, as on GitHub;
- `cml` and `gh` are stand-ins on PATH that keep a small fake GitHub in a JSON file (`FakeGitHub`):
  comments (`cml comment create|update`, one per watermark title and target, updated in place),
  pull requests, issues, releases, and every call with its arguments. A read-only token (fork PRs)
  makes every write fail with GitHub's 403 message.

GitHub's own rules, each modelled where it applies and citing the documentation there:
- check runs (one per job, named by its `name:`, "caller / called" inside a reusable workflow;
  skipped jobs report "skipped") and commit statuses (`gh api .../statuses/SHA`) on a commit SHA;
  branch protection with required checks: `merge_pr` refuses a head whose required check is missing
  or not passing, or a conflicting branch (`FakeGitHub.protect`, `FakeGitHub.check`);
- a protected branch refuses pushes, GITHUB_TOKEN's included (origin's pre-receive hook, GH006); a
  job's `permissions:` scope its token (pushes, comments, statuses, issues, releases);
- merge methods: merge commit, squash (GitHub's default message lists the branch's commits) and
  rebase (the branch's last commit becomes the head);
- events caused by GITHUB_TOKEN trigger no workflow (`Event.token`; origin's post-receive hook logs
  who pushed); a skip marker anywhere in the head commit's message skips push workflows;
- concurrency groups: one running, one pending, the older pending run cancelled (`run_concurrently`);
- re-runs replay the original event (`rerun`); a conflicting PR gets no pull_request run.

Deviations from GitHub, on purpose: a pull_request event runs on the PR head (GitHub builds a merge
commit `refs/pull/N/merge`); runs are sequential (concurrency decides which of a batch of events
run, not when); no matrix.

Use:
    gh = FakeGitHub(tmp / "github.json")
    replay = Replayer(origin=bare_repo, workspace=tmp / "runner", github=gh,
                      secrets={"DVC_REMOTE_URL": str(remote)})
    result = replay.run(".github/workflows/pr.yaml", Event.pull_request(origin, 1, "batch-2024-04"))
    assert result.ok, result.log()
    gh.comments()   # what was posted
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
VENV = Path(sys.executable).parent.parent
REPOSITORY = "acme/credit-risk"
WRITE_TOKEN, READ_TOKEN = "replay-token-write", "replay-token-read-only"


class ReplayError(Exception):
    """The workflow uses something the replay refuses or does not know (it would not be proven)."""


# --- events ---------------------------------------------------------------------------------------


def _git(args: list[str], cwd: Path) -> str:
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
        head_sha = _git(["rev-parse", f"refs/heads/{head}"], origin)
        base_sha = _git(["rev-parse", f"refs/heads/{base}"], origin)
        merge_base = _git(["merge-base", base_sha, head_sha], origin)
        # GitHub builds refs/pull/N/merge; when the branches conflict it cannot, and no
        # pull_request workflow runs ("Workflows will not run on pull_request activity if the pull
        # request has a merge conflict", docs: events-that-trigger-workflows#pull_request)
        mergeable = subprocess.run(["git", "merge-tree", "--write-tree", base_sha, head_sha], cwd=origin,
                                   capture_output=True).returncode == 0
        changed = _git(["diff", "--name-only", merge_base, head_sha], origin).splitlines()
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
                   head_message=_git(["log", "-1", "--format=%B", head_sha], origin), token=token,
                   mergeable=mergeable)

    @classmethod
    def push(cls, origin: Path, branch: str = "main", before: str | None = None,
             repository: str = REPOSITORY, token: str = "user") -> Event:
        """A push to `branch`; `before` is the previous tip (default: the first parent)."""
        sha = _git(["rev-parse", f"refs/heads/{branch}"], origin)
        before = before or _git(["rev-parse", f"{sha}^"], origin)
        changed = _git(["diff", "--name-only", before, sha], origin).splitlines()
        payload = {"ref": f"refs/heads/{branch}", "before": before, "after": sha,
                   "head_commit": {"id": sha, "message": _git(["log", "-1", "--format=%B", sha], origin)},
                   "repository": {"full_name": repository, "default_branch": "main"}}
        return cls("push", f"refs/heads/{branch}", sha, payload, changed=changed,
                   head_message=payload["head_commit"]["message"], token=token)

    @classmethod
    def schedule(cls, origin: Path, cron: str = "", branch: str = "main") -> Event:
        sha = _git(["rev-parse", f"refs/heads/{branch}"], origin)
        return cls("schedule", f"refs/heads/{branch}", sha, {"schedule": cron})

    @classmethod
    def workflow_dispatch(cls, origin: Path, inputs: dict[str, Any] | None = None,
                          branch: str = "main") -> Event:
        sha = _git(["rev-parse", f"refs/heads/{branch}"], origin)
        return cls("workflow_dispatch", f"refs/heads/{branch}", sha, {"inputs": dict(inputs or {})})


# --- expressions ----------------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,*])
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
)""", re.VERBOSE)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ReplayError(f"cannot parse expression at {text[pos:]!r} in {text!r}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            out.append(("lit", value[1:-1].replace("''", "'")))
        elif kind == "num":
            out.append(("lit", float(value) if "." in value else int(value)))
        elif kind == "name" and value in ("true", "false", "null"):
            out.append(("lit", {"true": True, "false": False, "null": None}[value]))
        else:
            out.append((kind, value))
    return out


def _to_str(value: Any) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _to_num(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return float("nan")


def _equal(a: Any, b: Any) -> bool:
    """GitHub's loose equality: strings compare case-insensitively; mixed types compare as numbers
    (null and '' are both 0, so an unset `vars.X != ''` is false, as on GitHub)."""
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if type(a) is type(b):
        return a == b
    return _to_num(a) == _to_num(b)


def truthy(value: Any) -> bool:
    return not (value is None or value is False or value == "" or value == 0)


class _Parser:
    """Recursive descent over GitHub's expression grammar (the parts workflows use)."""

    def __init__(self, text: str, context: dict[str, Any], status: dict[str, bool]):
        self.text, self.toks, self.i = text, _tokens(text), 0
        self.ctx, self.status = context, status

    def parse(self) -> Any:
        value = self.or_()
        if self.i != len(self.toks):
            raise ReplayError(f"unexpected {self.toks[self.i][1]!r} in expression {self.text!r}")
        return value

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ReplayError(f"expected {value!r} in expression {self.text!r}")
        self.i += 1
        return tok

    def or_(self) -> Any:
        left = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            left = left if truthy(left) else right
        return left

    def and_(self) -> Any:
        left = self.cmp()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.cmp()
            left = right if truthy(left) else left
        return left

    def cmp(self) -> Any:
        left = self.unary()
        while self.peek() and self.peek()[0] == "op" and self.peek()[1] in ("==", "!=", "<", ">",
                                                                             "<=", ">="):
            op = self.take()[1]
            right = self.unary()
            if op == "==":
                left = _equal(left, right)
            elif op == "!=":
                left = not _equal(left, right)
            else:
                a, b = ((left.lower(), right.lower()) if isinstance(left, str) and isinstance(right, str)
                        else (_to_num(left), _to_num(right)))
                left = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return left

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "lit":
            return value
        if (kind, value) == ("op", "("):
            inner = self.or_()
            self.take(")")
            return inner
        if kind == "name":
            if self.peek() == ("op", "("):
                self.take()
                args = []
                while self.peek() != ("op", ")"):
                    args.append(self.or_())
                    if self.peek() == ("op", ","):
                        self.take()
                self.take(")")
                return self.call(value, args)
            return self.ctx.get(value)
        raise ReplayError(f"unexpected {value!r} in expression {self.text!r}")

    def postfix(self, value: Any) -> Any:
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                kind, name = self.take()
                if (kind, name) == ("op", "*"):
                    raise ReplayError(f"object filters (.*) are not replayed: {self.text!r}")
                value = _index(value, name)
            else:
                key = self.or_()
                self.take("]")
                value = _index(value, key)
        return value

    def call(self, name: str, args: list[Any]) -> Any:
        lname = name.lower()
        if lname in self.status:
            return self.status[lname]
        if lname == "contains":
            hay, needle = args
            if isinstance(hay, list):
                return any(_equal(x, needle) for x in hay)
            return _to_str(needle).lower() in _to_str(hay).lower()
        if lname == "startswith":
            return _to_str(args[0]).lower().startswith(_to_str(args[1]).lower())
        if lname == "endswith":
            return _to_str(args[0]).lower().endswith(_to_str(args[1]).lower())
        if lname == "format":
            text = _to_str(args[0])
            for i, arg in enumerate(args[1:]):
                text = text.replace(f"{{{i}}}", _to_str(arg))
            return text.replace("{{", "{").replace("}}", "}")
        if lname == "join":
            sep = _to_str(args[1]) if len(args) > 1 else ","
            return sep.join(_to_str(x) for x in args[0]) if isinstance(args[0], list) else _to_str(args[0])
        if lname == "tojson":
            return json.dumps(args[0], indent=2)
        if lname == "fromjson":
            return json.loads(_to_str(args[0]))
        if lname == "hashfiles":
            return ""
        raise ReplayError(f"function {name}() is not replayed ({self.text!r})")


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        if key in value:
            return value[key]
        lowered = {str(k).lower(): v for k, v in value.items()}
        return lowered.get(str(key).lower())
    if isinstance(value, list) and isinstance(key, (int, float)) and 0 <= int(key) < len(value):
        return value[int(key)]
    return None


STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")


def evaluate(expr: str, context: dict[str, Any], status: dict[str, bool] | None = None) -> Any:
    """Evaluate one expression (without the `${{ }}`)."""
    return _Parser(expr, context, status or {"success": True, "failure": False, "always": True,
                                             "cancelled": False}).parse()


_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def substitute(value: Any, context: dict[str, Any]) -> Any:
    """`${{ expr }}` in strings (recursively in lists and mappings); a lone expression keeps its type."""
    if isinstance(value, dict):
        return {k: substitute(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, context) for v in value]
    if not isinstance(value, str) or "${{" not in value:
        return value
    whole = _TEMPLATE.fullmatch(value.strip())
    if whole:
        return evaluate(whole.group(1), context)
    return _TEMPLATE.sub(lambda m: _to_str(evaluate(m.group(1), context)), value)


def condition(expr: Any, context: dict[str, Any], status: dict[str, bool]) -> bool:
    """An `if:`: with or without `${{ }}`; success() is implied unless a status function is used."""
    if expr is None:
        return status["success"]
    if isinstance(expr, bool):
        return expr and status["success"]
    text = str(expr).strip()
    whole = _TEMPLATE.fullmatch(text)
    if whole:
        text = whole.group(1).strip()
    if not re.search(r"\b(" + "|".join(STATUS_FUNCTIONS) + r")\s*\(", text, re.IGNORECASE):
        text = f"success() && ({text})"
    return truthy(evaluate(text, context, status))


# --- triggers -------------------------------------------------------------------------------------


def _glob(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            if pattern.startswith("/", i):
                out = out[:-2] + "(?:.*/)?"
                i += 1
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def _matches(patterns: list[str], value: str) -> bool:
    """GitHub filter lists: later `!pattern` entries exclude, later positive ones include again."""
    hit = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if _glob(pattern[1:]).match(value):
                hit = False
        elif _glob(pattern).match(value):
            hit = True
    return hit


def triggers(on: Any) -> dict[str, Any]:
    if isinstance(on, str):
        return {on: {}}
    if isinstance(on, list):
        return {name: {} for name in on}
    return {k: (v or {}) for k, v in (on or {}).items()}


def triggered(workflow: dict[str, Any], event: Event) -> tuple[bool, str]:
    """Would GitHub start this workflow for this event? (and why not)"""
    on = triggers(workflow.get("on", workflow.get(True)))
    if event.name not in on:
        return False, f"not triggered by {event.name}"
    spec = on[event.name]
    # "events triggered by the GITHUB_TOKEN, with the exception of workflow_dispatch and
    # repository_dispatch, will not create a new workflow run" (docs: automatic-token-authentication)
    if event.token == "GITHUB_TOKEN" and event.name not in ("workflow_dispatch", "repository_dispatch"):
        return False, "caused by GITHUB_TOKEN: GitHub starts no workflow"
    # "include any of the following strings in the commit message ... the HEAD commit", anywhere in
    # the message (docs: skipping-workflow-runs)
    if event.name in ("push", "pull_request") and re.search(
            r"\[(skip ci|ci skip|no ci|skip actions|actions skip)\]|\nskip-checks: ?true",
            event.head_message, re.IGNORECASE):
        return False, "head commit message says [skip ci]"
    if event.name == "pull_request":
        if not event.mergeable:
            return False, "merge conflict: no merge commit, no pull_request run"
        types = spec.get("types") or ["opened", "synchronize", "reopened"]
        if event.payload.get("action") not in types:
            return False, f"action {event.payload.get('action')} not in {types}"
        if "branches" in spec and not _matches(spec["branches"], event.base_ref):
            return False, f"base {event.base_ref} not in branches"
    if event.name == "push":
        branch = event.ref.removeprefix("refs/heads/")
        if "branches" in spec and not _matches(spec["branches"], branch):
            return False, f"branch {branch} not in branches"
    if "paths" in spec and event.changed is not None and not any(
            _matches(spec["paths"], path) for path in event.changed):
        return False, "no changed file matches paths"
    return True, ""


# --- fake GitHub (the cml and gh stand-ins) -------------------------------------------------------


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


def _options(argv: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Split `--flag value`, `--flag=value`, `-t value` and bare flags; positional args apart."""
    flags_without_value = {"--publish", "--latest", "--draft", "--prerelease", "--fill", "--web",
                           "--native", "--commit-sha", "--watch", "--json-only", "--generate-notes"}
    positional: list[str] = []
    opts: dict[str, list[str]] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and arg != "-":
            key, sep, value = arg.partition("=")
            if not sep:
                if key in flags_without_value or i + 1 >= len(argv):
                    value = "true"
                else:
                    i += 1
                    value = argv[i]
            opts.setdefault(key, []).append(value)
        else:
            positional.append(arg)
        i += 1
    return positional, opts


def _one(opts: dict[str, list[str]], *names: str, default: str | None = None) -> str | None:
    for name in names:
        if name in opts:
            return opts[name][-1]
    return default


def _body(opts: dict[str, list[str]]) -> str | None:
    path = _one(opts, "--body-file", "-F", "--notes-file")
    if path is not None:
        return sys.stdin.read() if path == "-" else Path(path).read_text()
    return _one(opts, "--body", "-b", "--notes", "-n")


def _images(markdown: str, base: Path) -> list[dict[str, Any]]:
    """Local images a CML --publish would upload: path and whether it exists."""
    out = []
    for ref in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", markdown) + re.findall(r'<img[^>]+src="([^"]+)"',
                                                                          markdown):
        if re.match(r"[a-z]+://", ref):
            continue
        out.append({"path": ref, "exists": (base / ref).is_file()})
    return out


def _jq(data: Any, expr: str) -> str:
    """The few `--jq` forms workflows use: `.[].field`, `.[0].field`, `length`, `.field`."""
    expr = expr.strip()
    if expr == "length":
        return str(len(data))
    m = re.fullmatch(r"\.\[(\d*)\]((?:\.[A-Za-z_]+)*)", expr)
    if m:
        items = data if m.group(1) == "" else data[int(m.group(1)):int(m.group(1)) + 1]
        out = []
        for item in items:
            for key in filter(None, m.group(2).split(".")):
                item = item.get(key) if isinstance(item, dict) else None
            out.append(item if isinstance(item, str) else json.dumps(item))
        return "\n".join(out)
    m = re.fullmatch(r"((?:\.[A-Za-z_]+)+)", expr)
    if m:
        for key in filter(None, m.group(1).split(".")):
            data = data.get(key) if isinstance(data, dict) else None
        return data if isinstance(data, str) else json.dumps(data)
    raise ReplayError(f"--jq {expr!r} is not replayed")


def _print_json(items: Any, opts: dict[str, list[str]]) -> None:
    fields = _one(opts, "--json")
    if fields:
        keys = fields.split(",")
        items = ([{k: i.get(k) for k in keys} for i in items] if isinstance(items, list)
                 else {k: items.get(k) for k in keys})
    jq = _one(opts, "--jq", "-q")
    text = _jq(items, jq) if jq else json.dumps(items)
    if text:
        print(text)


class _Denied(Exception):
    pass


def fake_main(tool: str, argv: list[str]) -> int:
    """Entry point of the `cml` / `gh` stand-ins."""
    gh = FakeGitHub(Path(os.environ["REPLAY_GITHUB_STATE"]))
    state = gh.load()
    call = {"tool": tool, "argv": argv, "cwd": os.getcwd(), "time": time.time(),
            "job": os.environ.get("REPLAY_JOB", "")}
    try:
        code = (_fake_cml if tool == "cml" else _fake_gh)(state, argv, call)
    except _Denied as exc:
        call["error"] = str(exc)
        print(str(exc), file=sys.stderr)
        code = 1
    except ReplayError as exc:
        call["error"] = str(exc)
        print(f"{tool} stand-in: {exc}", file=sys.stderr)
        code = 2
    call["exit"] = code
    state["calls"].append(call)
    gh.save(state)
    return code


def _token(write: bool, scope: str = "") -> None:
    token = os.environ.get("REPO_TOKEN") or os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not token:
        raise _Denied("error: no token: set REPO_TOKEN / GITHUB_TOKEN / GH_TOKEN in the step's env")
    if write and token != WRITE_TOKEN:
        raise _Denied("HTTP 403: Resource not accessible by integration (read-only token)")
    # the job's `permissions:` are the token's scopes; anything unlisted is none (docs:
    # assigning-permissions-to-jobs)
    granted = json.loads(os.environ.get("REPLAY_PERMISSIONS") or "null")
    if write and scope and isinstance(granted, dict) and granted.get(scope) != "write":
        raise _Denied(f"HTTP 403: Resource not accessible by integration (the job grants no {scope}: write)")


_SCOPES = {"pr": "pull-requests", "issue": "issues", "label": "issues", "release": "contents",
           "workflow": "actions"}


def _auto_target() -> str:
    event_path = os.environ.get("GITHUB_EVENT_PATH")
    if event_path and Path(event_path).exists():
        number = (json.loads(Path(event_path).read_text()).get("pull_request") or {}).get("number")
        if number:
            return f"pr/{number}"
    return f"commit/{os.environ.get('GITHUB_SHA', '')}"


def _fake_cml(state: dict[str, Any], argv: list[str], call: dict[str, Any]) -> int:
    positional, opts = _options(argv)
    if positional[:1] != ["comment"] or len(positional) < 3 or positional[1] not in ("create", "update"):
        raise ReplayError(f"cml {' '.join(argv)}: only `cml comment create|update FILE` is replayed")
    _token(write=True, scope="pull-requests")
    path = Path(positional[2])
    body = path.read_text()
    target = _one(opts, "--target", default="auto")
    target = _auto_target() if target in ("auto", "pr") else target
    watermark = _one(opts, "--watermark-title", default="")
    images = _images(body, path.parent)
    # CML 0.20: `--publish` defaults to true and uploads every local image of the report to its
    # public host (asset.cml.dev); `--publish=false` keeps them out
    publish = _one(opts, "--publish", default="true") != "false"
    call.update(action=f"comment {positional[1]}", target=target, watermark=watermark, body=body,
                images=images, publish=publish, uploaded=[i["path"] for i in images if publish])
    existing = [c for c in state["comments"] if c["target"] == target and c["watermark"] == watermark]
    if positional[1] == "update" and existing:
        existing[-1].update(body=body, images=images, updates=existing[-1]["updates"] + 1)
        print(f"https://github.com/{REPOSITORY}/{target}#comment-{existing[-1]['id']}")
        return 0
    comment = {"id": len(state["comments"]) + 1, "target": target, "watermark": watermark, "body": body,
               "images": images, "updates": 0}
    state["comments"].append(comment)
    print(f"https://github.com/{REPOSITORY}/{target}#comment-{comment['id']}")
    return 0


def _fake_gh(state: dict[str, Any], argv: list[str], call: dict[str, Any]) -> int:
    positional, opts = _options(argv)
    group, action = (positional + ["", ""])[:2]
    call.update(action=f"{group} {action}".strip())
    writes = {("pr", "create"), ("pr", "comment"), ("pr", "edit"), ("pr", "close"), ("issue", "create"),
              ("issue", "comment"), ("issue", "edit"), ("issue", "close"), ("release", "create"),
              ("release", "edit"), ("release", "upload"), ("label", "create"), ("workflow", "enable")}
    if group == "api":
        return _fake_api(state, positional[1:], opts, call)
    _token(write=(group, action) in writes, scope=_SCOPES.get(group, ""))
    body = _body(opts)
    if body is not None:
        call["body"] = body
    labels = [x for v in opts.get("--label", []) + opts.get("-l", []) + opts.get("--add-label", [])
              for x in v.split(",")]

    def numbered(kind: str) -> dict[str, Any]:
        items = state["prs" if kind == "pr" else "issues"]
        number = int(positional[2].rsplit("/", 1)[-1])
        found = [i for i in items if i["number"] == number]
        if not found:
            raise _Denied(f"GraphQL: Could not resolve to a {kind} with the number of {number}.")
        return found[0]

    if (group, action) == ("pr", "create"):
        head = _one(opts, "--head", "-H") or subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True, text=True).stdout.strip()
        base = _one(opts, "--base", "-B", default="main")
        if any(p["headRefName"] == head and p["state"] == "OPEN" for p in state["prs"]):
            raise _Denied(f'a pull request for branch "{head}" into branch "{base}" already exists')
        number = state["next_number"]
        state["next_number"] += 1
        pr = {"number": number, "headRefName": head, "baseRefName": base,
              "title": _one(opts, "--title", "-t", default=""), "body": body or "", "state": "OPEN",
              "labels": labels, "url": f"https://github.com/{REPOSITORY}/pull/{number}"}
        state["prs"].append(pr)
        call["number"] = number
        print(pr["url"])
    elif (group, action) == ("issue", "create"):
        number = state["next_number"]
        state["next_number"] += 1
        issue = {"number": number, "title": _one(opts, "--title", "-t", default=""), "body": body or "",
                 "state": "OPEN", "labels": labels, "comments": [],
                 "url": f"https://github.com/{REPOSITORY}/issues/{number}"}
        state["issues"].append(issue)
        call["number"] = number
        print(issue["url"])
    elif action == "list" and group in ("pr", "issue"):
        items = state["prs" if group == "pr" else "issues"]
        wanted = (_one(opts, "--state", "-s", default="open") or "open").upper()
        head = _one(opts, "--head", "-H")
        search = _one(opts, "--search", "-S")
        out = [i for i in items if wanted == "ALL" or i["state"] == wanted]
        out = [i for i in out if not head or i.get("headRefName") == head]
        out = [i for i in out if all(lb in i.get("labels", []) for lb in labels)]
        if search:
            words = [w for w in re.sub(r"\b(in:title|is:open|is:issue|is:pr)\b", "", search).split() if w]
            out = [i for i in out if all(w.strip('"').lower() in i["title"].lower() for w in words)]
        _print_json([{**i, "labels": [{"name": lb} for lb in i.get("labels", [])]} for i in out], opts)
    elif action in ("comment", "edit", "close", "view") and group in ("pr", "issue"):
        item = numbered(group)
        if action == "comment":
            item.setdefault("comments", []).append(body or "")
        elif action == "edit":
            if body is not None:
                item["body"] = body
            if _one(opts, "--title", "-t"):
                item["title"] = _one(opts, "--title", "-t")
            item["labels"] = sorted(set(item.get("labels", [])) | set(labels))
        elif action == "close":
            item["state"] = "CLOSED"
        else:
            _print_json(item, opts)
        call["number"] = item["number"]
    elif (group, action) == ("release", "create"):
        tag = positional[2]
        if any(r["tag"] == tag for r in state["releases"]):
            raise _Denied(f"HTTP 422: Validation Failed (release for tag {tag} already exists)")
        files = [{"path": p, "exists": Path(p.split("#")[0]).is_file(),
                  "bytes": Path(p.split("#")[0]).read_bytes().decode("utf-8", "replace")
                  if Path(p.split("#")[0]).is_file() else None} for p in positional[3:]]
        if "--latest" in opts:  # one release is "Latest"
            for r in state["releases"]:
                r["latest"] = False
        state["releases"].append({"tag": tag, "title": _one(opts, "--title", "-t", default=tag),
                                  "notes": body or "", "files": files, "latest": "--latest" in opts})
        print(f"https://github.com/{REPOSITORY}/releases/tag/{tag}")
    elif (group, action) in (("release", "view"), ("release", "edit")):
        found = [r for r in state["releases"] if r["tag"] == positional[2]]
        if not found:
            raise _Denied("release not found")
        if action == "edit" and "--latest" in opts:
            for r in state["releases"]:
                r["latest"] = r is found[0]
        if action == "view":
            _print_json(found[0], opts)
    elif (group, action) == ("label", "create"):
        pass
    elif (group, action) == ("workflow", "enable"):
        state.setdefault("enabled", []).append(positional[2])  # resets the 60-day inactivity clock
    else:
        raise ReplayError(f"gh {' '.join(argv)}: not replayed")
    return 0


def _fake_api(state: dict[str, Any], positional: list[str], opts: dict[str, list[str]],
              call: dict[str, Any]) -> int:
    """`gh api`: the commit status endpoint (POST /repos/{owner}/{repo}/statuses/{sha})."""
    fields = dict(f.split("=", 1) for f in opts.get("-f", []) + opts.get("--raw-field", []) + opts.get(
        "-F", []) + opts.get("--field", []))
    method = (_one(opts, "-X", "--method") or ("POST" if fields else "GET")).upper()
    m = re.fullmatch(r"/?repos/([^/]+/[^/]+)/statuses/([0-9a-f]{40})", positional[0] if positional else "")
    if method != "POST" or not m:
        raise ReplayError(f"gh api {method} {positional}: only POST repos/OWNER/REPO/statuses/SHA is "
                          "replayed")
    _token(write=True, scope="statuses")
    if fields.get("state") not in ("error", "failure", "pending", "success") or not fields.get("context"):
        raise _Denied("HTTP 422: Validation Failed (state must be error|failure|pending|success, "
                      "context required)")
    call.update(action="status", sha=m.group(2), context=fields["context"], state=fields["state"])
    state["checks"].append({"sha": m.group(2), "name": fields["context"], "conclusion": fields["state"],
                            "kind": "status", "description": fields.get("description", "")})
    print(json.dumps({"state": fields["state"], "context": fields["context"]}))
    return 0


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
sys.path.insert(0, {here!r})
from workflow_replay import FakeGitHub
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
        hook.write_text(text.format(python=sys.executable, state=str(github.path), here=str(HERE),
                                    repo=REPOSITORY))
        hook.chmod(0o755)


def install_stand_ins(bin_dir: Path) -> Path:
    """`cml` and `gh` executables that call fake_main with this interpreter."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("cml", "gh"):
        script = bin_dir / tool
        script.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(HERE)!r})\n"
                          "from workflow_replay import fake_main\n"
                          f"sys.exit(fake_main({tool!r}, sys.argv[1:]))\n")
        script.chmod(0o755)
    return bin_dir


# --- the runner -----------------------------------------------------------------------------------


@dataclass
class StepResult:
    name: str
    id: str | None
    outcome: str  # success | failure | skipped
    conclusion: str
    outputs: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    run: str | None = None
    uses: str | None = None
    seconds: float = 0.0
    summary: str = ""  # what the step appended to $GITHUB_STEP_SUMMARY


@dataclass
class JobResult:
    id: str
    status: str  # success | failure | skipped
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    workdir: Path | None = None
    permissions: Any = None
    display: str = ""  # the check run's name: the job's `name:`, "caller / called" for reusable ones
    reusable: bool = False

    def step(self, name_or_id: str) -> StepResult:
        for s in self.steps:
            if name_or_id in (s.id, s.name):
                return s
        raise KeyError(f"no step {name_or_id!r} in job {self.id}: {[s.name for s in self.steps]}")


@dataclass
class RunResult:
    workflow: str
    event: Event
    triggered: bool
    reason: str = ""
    jobs: dict[str, JobResult] = field(default_factory=dict)
    concurrency: Any = None
    cancelled: bool = False  # a concurrency group cancelled it before it ran

    @property
    def ok(self) -> bool:
        return self.triggered and not self.cancelled and all(j.status != "failure"
                                                             for j in self.jobs.values())

    @property
    def summary(self) -> str:
        return "\n".join(j.summary for j in self.jobs.values() if j.summary)

    def output(self) -> str:
        """Everything the steps printed, in order (what the Actions log would show)."""
        return "\n".join(s.stdout + s.stderr for j in self.jobs.values() for s in j.steps)

    def log(self) -> str:
        lines = [f"{self.workflow} on {self.event.name}: "
                 f"{'triggered' if self.triggered else 'not triggered: ' + self.reason}"]
        for job in self.jobs.values():
            lines.append(f"job {job.id}: {job.status}")
            for s in job.steps:
                lines.append(f"  [{s.outcome}] {s.name} ({s.seconds:.1f}s)")
                if s.outcome == "failure" or os.environ.get("REPLAY_VERBOSE"):
                    lines += ["    | " + ln for ln in (s.stdout + s.stderr).splitlines()[-40:]]
        return "\n".join(lines)


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


def _read_kv_file(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV syntax: `key=value` lines and `key<<DELIM` heredocs."""
    out: dict[str, str] = {}
    if not path.exists():
        return out
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delim = line.split("<<", 1)
            body = []
            i += 1
            while i < len(lines) and lines[i] != delim:
                body.append(lines[i])
                i += 1
            out[key] = "\n".join(body)
        elif "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
        i += 1
    return out


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
        text = _git(["show", f"{sha}:{path}"], self.origin)
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
            env.update({k: _to_str(substitute(v, env_ctx)) for k, v in block.items()})
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
        result.outputs = {k: _to_str(substitute(v, env_ctx)) for k, v in (job.get("outputs") or {}).items()}
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
                value = _to_num(value)
            inputs[key] = "" if value is None else value
        secrets_spec = job.get("secrets")
        if secrets_spec == "inherit":
            secrets = dict(ctx["secrets"])
        else:
            secrets = {k: _to_str(substitute(v, ctx)) for k, v in (secrets_spec or {}).items()}
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
        outputs = {k: _to_str(substitute((v or {}).get("value"), out_ctx))
                   for k, v in (spec.get("outputs") or {}).items()}
        result = JobResult(name, status, outputs=outputs, permissions=job.get("permissions"), reusable=True)
        results[name] = result
        return result

    def _run_step(self, step: dict[str, Any], sname: str, env: dict[str, str], ctx: dict[str, Any],
                  work: Path, temp: Path, extra_path: list[str], job_name: str) -> StepResult:
        started = time.time()
        step_env = {k: _to_str(substitute(v, ctx)) for k, v in (step.get("env") or {}).items()}
        if "uses" in step:
            res = self._action(step, sname, ctx, work)
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
        env.update(_read_kv_file(files["GITHUB_ENV"]))
        extra_path += [ln for ln in files["GITHUB_PATH"].read_text().splitlines() if ln.strip()]
        return StepResult(sname, step.get("id"), outcome, outcome, _read_kv_file(files["GITHUB_OUTPUT"]),
                          proc.stdout, proc.stderr, run=script, seconds=time.time() - started,
                          summary=files["GITHUB_STEP_SUMMARY"].read_text())

    def _action(self, step: dict[str, Any], sname: str, ctx: dict[str, Any], work: Path) -> StepResult:
        uses = step["uses"]
        action = uses.split("@", 1)[0]
        args = {k: substitute(v, ctx) for k, v in (step.get("with") or {}).items()}
        res = StepResult(sname, step.get("id"), "success", "success", uses=uses)
        if action == "actions/checkout":
            ref = _to_str(args.get("ref")) or ctx["github"]["sha"]
            if any(work.iterdir()):
                shutil.rmtree(work)
                work.mkdir()
            _git(["clone", "-q", "--no-hardlinks", str(self.origin), "."], work)
            proc = subprocess.run(["git", "checkout", "-q", "--detach", ref], cwd=work, capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                proc = subprocess.run(["git", "checkout", "-q", "--detach", f"origin/{ref}"], cwd=work,
                                      capture_output=True, text=True)
            if proc.returncode != 0:
                res.outcome = res.conclusion = "failure"
                res.stderr = proc.stderr
                return res
            if not truthy(args.get("persist-credentials", True)):
                nowhere = "/nonexistent/persist-credentials-false"
                _git(["remote", "set-url", "--push", "origin", nowhere], work)
            res.stdout = f"checked out {ref} with full history"
            self.provision(work)
        elif action in ("actions/setup-python", "astral-sh/setup-uv", "iterative/setup-cml",
                        "iterative/setup-dvc"):
            res.stdout = f"{action}: provided by the replay runner"
        elif action in ("actions/upload-artifact", "actions/upload-pages-artifact"):
            default = "github-pages" if action.endswith("pages-artifact") else "artifact"
            dest = work.parent / "artifacts" / _to_str(args.get("name", default))
            dest.mkdir(parents=True, exist_ok=True)
            for pattern in _to_str(args.get("path")).split():
                for src in work.glob(pattern):
                    (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / src.name)
        elif action == "actions/deploy-pages":  # the site is the uploaded github-pages artifact
            res.outputs = {"page_url": f"https://{self.repository.split('/')[0]}.github.io/"
                                       f"{self.repository.split('/')[1]}/"}
        else:
            raise ReplayError(f"step {sname!r}: action {uses} is not replayed")
        return res


def cancelled(specs: list[Any]) -> list[bool]:
    """Which of these runs (their `concurrency:`, in arrival order, all arriving while the first of
    their group runs) GitHub cancels. At most one running and ONE pending run per group: a new run
    cancels the pending one, whatever `cancel-in-progress` says; with `cancel-in-progress: true` it
    also cancels the running one (docs: control-the-concurrency-of-workflows-and-jobs). So the
    first and the last of a group run, everything in between is cancelled without running."""
    groups: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        group = spec.get("group") if isinstance(spec, dict) else spec
        groups.setdefault(_to_str(group) if group else f"__{i}", []).append(i)
    out = [False] * len(specs)
    for members in groups.values():
        spec = specs[members[0]]
        keep = {members[-1]} if isinstance(spec, dict) and truthy(spec.get("cancel-in-progress")) else {
            members[0], members[-1]}
        for i in members:
            out[i] = i not in keep
    return out


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
    head_sha = _git(["rev-parse", f"refs/heads/{head}"], origin)
    base_sha = _git(["rev-parse", f"refs/heads/{base}"], origin)
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

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=work, env=git_env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ReplayError(f"merge: git {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True, capture_output=True)
    git("checkout", "-q", "-B", base, f"origin/{base}")
    title = pr.get("title") or f"PR {number}"
    if method == "merge":
        git("merge", "-q", "--no-ff", f"origin/{head}", "-m",
            f"Merge pull request #{number} from {REPOSITORY.split('/')[0]}/{head}", "-m", title)
    elif method == "squash":
        messages = [m.strip() for m in git("log", "--reverse", "--format=%B%x00",
                                           f"origin/{base}..origin/{head}").split("\0") if m.strip()]
        git("merge", "-q", "--squash", f"origin/{head}")
        git("commit", "-q", "-m", f"{title} (#{number})", "-m", "\n\n".join(f"* {m}" for m in messages))
    elif method == "rebase":
        git("checkout", "-q", "-B", "rebased", f"origin/{head}")
        git("rebase", "-q", "--force-rebase", f"origin/{base}")
        git("checkout", "-q", "-B", base, "rebased")
    else:
        raise ReplayError(f"unknown merge method {method!r}")
    git("push", "-q", "origin", f"HEAD:refs/heads/{base}")
    state = github.load()
    for p in state["prs"]:
        if p["number"] == number:
            p["state"] = "MERGED"
    github.save(state)
    shutil.rmtree(work)
    return Event.push(origin, base, before=base_sha)


__all__ = ["Event", "FakeGitHub", "JobResult", "MergeRefused", "ReplayError", "Replayer", "RunResult",
           "StepResult", "cancelled", "evaluate", "install_hooks", "link_venv", "merge_pr", "substitute",
           "triggered"]


def publish(project: Path, base: Path, dvc_remote: Path,
            env: dict[str, str]) -> tuple[Path, FakeGitHub, Replayer]:
    """The GitHub side of a story: a bare `origin` holding the project's main, a fake GitHub, and a
    replayer whose secrets point at the local-folder DVC remote."""
    origin = base / "origin.git"
    _git(["init", "-q", "--bare", "-b", "main", str(origin)], base)
    _git(["remote", "add", "origin", str(origin)], project)
    _git(["push", "-q", "-u", "origin", "main"], project)
    github = FakeGitHub(base / "github.json")
    install_hooks(origin, github)
    replay = Replayer(origin, base / "runner", github, secrets={"DVC_REMOTE_URL": str(dvc_remote)}, env=env)
    return origin, github, replay
