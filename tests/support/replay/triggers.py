"""Which workflow runs GitHub starts for an event (filters, [skip ci], tokens) and which it cancels."""

from __future__ import annotations

import re
from typing import Any

from tests.support.replay.events import Event
from tests.support.replay.expressions import to_str, truthy


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



def cancelled(specs: list[Any]) -> list[bool]:
    """Which of these runs (their `concurrency:`, in arrival order, all arriving while the first of
    their group runs) GitHub cancels. At most one running and ONE pending run per group: a new run
    cancels the pending one, whatever `cancel-in-progress` says; with `cancel-in-progress: true` it
    also cancels the running one (docs: control-the-concurrency-of-workflows-and-jobs). So the
    first and the last of a group run, everything in between is cancelled without running."""
    groups: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        group = spec.get("group") if isinstance(spec, dict) else spec
        groups.setdefault(to_str(group) if group else f"__{i}", []).append(i)
    out = [False] * len(specs)
    for members in groups.values():
        spec = specs[members[0]]
        keep = {members[-1]} if isinstance(spec, dict) and truthy(spec.get("cancel-in-progress")) else {
            members[0], members[-1]}
        for i in members:
            out[i] = i not in keep
    return out


