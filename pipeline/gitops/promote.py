"""Model versions as git tags (GTO convention): promote on merge, list the history, spot rollbacks.

A version names a model's bytes: `credit-risk@vX.Y.Z` is an annotated tag on the commit of `main`
whose dvc.lock first pinned that model, and `credit-risk#prod#N` assigns the stage. The identity of a
model is the md5 that dvc.lock records for the artifact (the DVC remote's content address), checked
against the sha256 in the model card once the bytes are pulled.

Rollback policy: a model equal to an earlier version's is NOT a new version. `promote` re-assigns the
stage to that version (a new `credit-risk#prod#N` tag whose message records "rollback to vN", the
version it replaced and the commit/PR that did it), so `gto show credit-risk#prod` answers the old
version, and `dvc artifacts get` resolves its exact bytes.

Everything here is plain git plumbing except the tag creation, which goes through `gto.api`
(importing gto takes seconds: only `promote` does it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline import params as P
from pipeline.commands.github import output as github_output
from pipeline.commands.github import summary as step_summary
from pipeline.config import CARD_JSON, CARD_MD, DVC_LOCK
from pipeline.core.git import git, show
from pipeline.core.git import run as git_run
from pipeline.errors import PipelineError, UnfetchableError, one_line

CARD = CARD_JSON.as_posix()
KEY_METRICS = ("accuracy", "f1_weighted", "roc_auc")
RETRAIN_BRANCH = "retrain/"  # branches the scheduled job opens its retraining PRs from


@dataclass(frozen=True)
class Registry:
    """The `registry:` block of params.yaml."""

    model: str
    stage: str
    artifact: str
    bump: str
    first_version: str
    fallback_rev: str
    override_label: str
    comparison: str


@dataclass
class Version:
    """One registered version: its tag, the commit it points at and what that commit holds."""

    version: str
    tag: str
    commit: str
    date: str
    md5: str | None
    card: dict[str, Any] | None
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str | None:
        return (self.card or {}).get("model", {}).get("sha256") or self.fields.get("model-sha256")


@dataclass
class Event:
    """A registration or a stage assignment, in time order."""

    kind: str  # "registered" | "recorded" (a version the gate kept out of the stage) | "rollback"
    version: str
    tag: str
    date: str
    commit: str
    promoted_by: str
    from_version: str | None = None


@dataclass
class Assignment:
    """One `<model>#<stage>#N` tag: a period of production starts here."""

    number: int
    tag: str
    date: str
    version: str
    fields: dict[str, str]

    @property
    def reason(self) -> str:
        return self.fields.get("reason") or ("rollback" if self.fields.get("rollback-from") else "promote")


@dataclass
class History:
    versions: dict[str, Version]
    events: list[Event]
    prod: str | None  # the version the stage points at now
    assignments: list[Assignment] = field(default_factory=list)


@dataclass(frozen=True)
class ProductionRef:
    """Where the production model lives: the git revision to read it from, and what that is."""

    rev: str             # a version tag (`credit-risk@v0.3.0`), or the fallback revision
    version: str | None  # the version in the stage; None before anything is registered
    note: str | None     # set when the fallback is used: say so


def settings(params: dict[str, Any]) -> Registry:
    """Every key is required: the defaults are those written in params.yaml, nowhere else."""
    return Registry(**{k: str(P.section(params, "registry", k)) for k in Registry.__dataclass_fields__})


# --- git plumbing ---------------------------------------------------------------------------------


def lock_md5(lock_text: str | None, artifact: str) -> str | None:
    """The md5 dvc.lock pins for `artifact` (any stage's outs), or None."""
    if not lock_text:
        return None
    lock = yaml.safe_load(lock_text) or {}
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            if out.get("path") == artifact:
                return out.get("md5")
    return None


def card_at(rev: str) -> dict[str, Any] | None:
    text = show(rev, CARD)
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return None


def promoted_by(commit: str) -> str:
    """'PR #12 (abc1234)' for GitHub merges and squash merges, else 'commit abc1234: subject'."""
    subject = git("log", "-1", "--format=%s", commit, check=False).strip()
    short = commit[:7]
    pr = re.match(r"Merge pull request #(\d+)", subject) or re.search(r"\(#(\d+)\)\s*$", subject)
    if pr:
        what = "scheduled retraining, PR" if RETRAIN_BRANCH in subject else "PR"
        return f"{what} #{pr.group(1)} ({short})"
    return f"commit {short}: {subject[:60]}"


def _tags(pattern: str) -> list[dict[str, str]]:
    """Annotated tags matching `pattern`: name, peeled commit, tagger date, message."""
    sep, end = "\x1f", "\x1e"
    fmt = sep.join(["%(refname:short)", "%(objecttype)", "%(*objectname)", "%(objectname)",
                    "%(taggerdate:iso-strict)", "%(creatordate:iso-strict)", "%(contents)"]) + end
    out = git("for-each-ref", f"--format={fmt}", pattern, check=False)
    rows = []
    for record in out.split(end):
        parts = record.strip("\n").split(sep)
        if len(parts) != 7:
            continue
        name, kind, peeled, obj, tagdate, created, message = parts
        rows.append({"name": name, "commit": peeled if kind == "tag" else obj,
                     "date": tagdate or created, "message": message.strip()})
    return rows


def _fields(message: str) -> dict[str, str]:
    """`key: value` lines of a tag message (written by `promote`)."""
    out = {}
    for line in message.splitlines()[1:]:
        key, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"[a-z0-9-]+", key):
            out[key] = value.strip()
    return out


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def history(reg: Registry) -> History:
    """Versions and stage assignments from the tags (GTO convention), with each commit's model card."""
    versions: dict[str, Version] = {}
    for row in _tags(f"refs/tags/{reg.model}@v*"):
        version = row["name"].split("@", 1)[1]
        if not re.fullmatch(r"v\d+\.\d+\.\d+", version):
            continue
        fields = _fields(row["message"])
        versions[version] = Version(
            version=version, tag=row["name"], commit=row["commit"], date=row["date"],
            md5=fields.get("model-md5") or lock_md5(show(row["commit"], DVC_LOCK.as_posix()), reg.artifact),
            card=card_at(row["commit"]), fields=fields)
    assignments = []
    for row in _tags(f"refs/tags/{reg.model}#{reg.stage}#*"):
        number = row["name"].rsplit("#", 1)[1]
        fields = _fields(row["message"])
        version = fields.get("version") or next(
            (v.version for v in versions.values() if v.commit == row["commit"]), None)
        if number.isdigit() and version:
            assignments.append((int(number), row, fields, version))
    assignments.sort(key=lambda a: a[0])

    events = [Event("recorded" if v.fields.get("reason") == "keep" else "registered", v.version, v.tag,
                    v.date, v.fields.get("commit", v.commit),
                    v.fields.get("promoted-by") or promoted_by(v.commit))
              for v in versions.values()]
    prod = None
    periods = [Assignment(n, row["name"], row["date"], version, fields)
               for n, row, fields, version in assignments]
    for _, row, fields, version in assignments:
        if fields.get("rollback-from") or row["message"].startswith(f"{reg.model}: rollback"):
            events.append(Event("rollback", version, row["name"], row["date"],
                                fields.get("commit", row["commit"]),
                                fields.get("promoted-by") or promoted_by(row["commit"]),
                                fields.get("rollback-from")))
        prod = version
    events.sort(key=lambda e: (e.date, e.kind != "registered"))
    return History(versions=versions, events=events, prod=prod, assignments=periods)


def production_ref(params: dict[str, Any], rev: str | None = None) -> ProductionRef:
    """The production model's revision, resolved one way for every command.

    `rev` None or the stage name (`prod`) means the registry: the version the latest
    `<model>#<stage>#N` tag assigns (`gto show credit-risk#prod`). Before anything is registered,
    the fallback revision (registry.fallback_rev, main) with a note saying so. Any other `rev` is
    an explicit git revision and is used as given.
    """
    reg = settings(params)
    if rev not in (None, "", reg.stage):
        return ProductionRef(rev=str(rev), version=None, note=None)
    hist = history(reg)
    if hist.prod is None:
        return ProductionRef(rev=reg.fallback_rev, version=None,
                             note=f"no version of {reg.model} in stage {reg.stage} yet: using the model "
                                  f"at {reg.fallback_rev}")
    return ProductionRef(rev=hist.versions[hist.prod].tag, version=hist.prod, note=None)


def match(hist: History, md5: str | None) -> Version | None:
    """The earliest registered version holding the model with this md5."""
    hits = [v for v in hist.versions.values() if md5 and v.md5 == md5]
    return min(hits, key=lambda v: _semver(v.version)) if hits else None


def next_version(reg: Registry, hist: History) -> str:
    if not hist.versions:
        return reg.first_version
    major, minor, patch = max(_semver(v) for v in hist.versions)
    if reg.bump == "major":
        return f"v{major + 1}.0.0"
    if reg.bump == "patch":
        return f"v{major}.{minor}.{patch + 1}"
    return f"v{major}.{minor + 1}.0"


# --- DVC ------------------------------------------------------------------------------------------


def verify_model(reg: Registry, card: dict[str, Any] | None, md5: str, require_remote: bool) -> str:
    """Pull the artifact and check it: in the remote, md5 as in dvc.lock, sha256 as in the card.

    DVC runs in-process (one import instead of three `dvc` processes of a second or more each).
    """
    from dvc.repo import Repo

    from pipeline.core.files import sha256

    path = Path(reg.artifact)
    with Repo(".") as repo:
        remote = repo.config["core"].get("remote")
        if remote:
            try:
                repo.pull(targets=[reg.artifact])
                missing = repo.status(targets=[reg.artifact], cloud=True)
            except Exception as exc:  # dvc raises many kinds; the message is what matters
                raise PipelineError(f"{reg.artifact}: not in the DVC remote '{remote}' (md5 {md5}; "
                                    f"pull failed: {one_line(exc)}); push it (`dvc push`) before "
                                    "merging") from None
            if missing:
                raise PipelineError(f"{reg.artifact}: not in the DVC remote '{remote}' ({missing}); "
                                    "run `dvc push` from the commit that produced it")
            where = "DVC remote"
        elif require_remote:
            raise PipelineError("no default DVC remote configured: set one (`dvc remote add -d storage "
                                "URL`, or DVC_REMOTE_URL for `make dvc-remote`)")
        else:
            # A version is a promise that its bytes can be fetched: a copy in the work tree alone
            # (not in the cache, no remote) is not enough to register it.
            if not Path(repo.cache.local.oid_to_path(md5)).exists():
                raise UnfetchableError(f"{reg.artifact}@HEAD: md5 {md5} is not in the local DVC cache "
                                       "and there is no DVC remote to fetch it from; `dvc repro` or "
                                       "`dvc pull` it first")
            try:
                repo.checkout(targets=[reg.artifact])
            except Exception as exc:
                raise PipelineError(f"{reg.artifact}: not in the local DVC cache ({one_line(exc)}); "
                                    "run `dvc pull` or `dvc repro` first") from None
            where = "local DVC cache"
    if card is None:
        raise PipelineError(f"{CARD}: not committed at HEAD (the evaluate stage writes it)")
    if not path.exists():
        raise PipelineError(f"{reg.artifact}: missing after the pull")
    expected = card.get("model", {}).get("sha256")
    digest = sha256(path)
    if digest != expected:
        raise PipelineError(f"{reg.artifact}: sha256 {digest[:12]} does not match {CARD} "
                            f"({str(expected)[:12]}); the model card and dvc.lock disagree")
    return where


# --- outputs for CI -------------------------------------------------------------------------------


def _metrics(card: dict[str, Any] | None, critical: str | None = None) -> dict[str, Any]:
    test = ((card or {}).get("metrics") or {}).get("test") or {}
    out = {k: test.get(k) for k in KEY_METRICS}
    if critical and critical in (test.get("per_class") or {}):
        out[f"recall_{critical}"] = test["per_class"][critical].get("recall")
    return out


def _rows(card: dict[str, Any] | None) -> Any:
    return ((card or {}).get("data") or {}).get("rows", {}).get("train")


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("–" if value is None else str(value))


def metrics_table(rows: list[tuple[str, dict[str, Any] | None]], critical: str | None) -> list[str]:
    """Markdown table of key metrics, one column per (label, card)."""
    names = [*KEY_METRICS] + ([f"recall_{critical}"] if critical else [])
    values = [(label, _metrics(card, critical)) for label, card in rows]
    lines = ["| metric | " + " | ".join(label for label, _ in values) + " |",
             "| --- |" + " ---: |" * len(values)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(_fmt(m.get(name)) for _, m in values) + " |")
    lines.append("| training rows | " + " | ".join(_fmt(_rows(c)) for _, c in rows) + " |")
    return lines


# --- commands -------------------------------------------------------------------------------------


def reverted_commits(commit: str) -> list[str]:
    """Commits that `commit` undoes: `This reverts commit X.` in the messages the merge brought in.

    `git revert` writes that line; a merge commit brings the revert commit along, GitHub's squash
    message concatenates the branch's messages, and a rebase merge makes the revert commit the head.
    """
    parents = git("rev-list", "--parents", "-n1", commit).split()[1:]
    text = git("log", "--format=%B", f"{parents[0]}..{commit}" if parents else commit, check=False)
    return re.findall(r"This reverts commit ([0-9a-f]{7,40})", text)


def _undone(hist: History, commit: str) -> Assignment | None:
    """The stage assignment made for a merge that `commit` reverts, if any (the latest)."""
    shas = reverted_commits(commit)
    for a in reversed(hist.assignments):
        made_for = a.fields.get("commit", "")
        if made_for and any(made_for.startswith(s) or s.startswith(made_for) for s in shas):
            return a
    return None


def verdict(reg: Registry, commit: str, sha: str, hist: History,
            labels: list[str]) -> tuple[str, list[str]]:
    """What merging `commit` does with its model: ("promote" | "override" | "keep", the reasons).

    The decision is the one CI committed with dvc.lock (registry.comparison) for these exact bytes.
    No comparison, or one for other bytes, keeps the stage whatever the labels say; a promotion
    judged against a champion that is no longer in the stage is stale and keeps it too.
    """
    text = show(commit, reg.comparison)
    if text is None:
        return "keep", [f"{reg.comparison}: not committed at {commit[:7]}: no comparison for this model"]
    comp = json.loads(text)
    models = comp.get("models") or {}
    judged = (models.get("challenger") or {}).get("model_sha256")
    if judged != sha:
        return "keep", [f"{reg.comparison} judged sha256 {str(judged)[:12]}, not this model's "
                        f"{sha[:12]}: the comparison is not for these bytes"]
    reasons = list(comp.get("reasons") or [])
    champion = (models.get("champion") or {}).get("model_sha256")
    current = hist.versions[hist.prod].sha256 if hist.prod else None
    if comp.get("decision") in ("promote", "no_champion"):
        if champion == current:
            return "promote", reasons
        reasons = [f"compared with champion sha256 {str(champion)[:12]}, but {reg.stage} is now "
                   f"{hist.prod} (sha256 {str(current)[:12]}): stale, reproduce the PR again", *reasons]
    return ("override" if reg.override_label in labels else "keep"), reasons


def _assign(reg: Registry, version: str, message: str) -> None:
    import gto.api

    gto.api.assign(".", reg.model, reg.stage, version=version, message=message, force=True, simple=False)


def _rollback(reg: Registry, hist: History, undone: Assignment, commit: str, by: str) -> dict[str, str]:
    """A revert of a promotion merge: the stage goes back to the version that was there before it."""
    from pipeline.core.revision import read_bytes

    target = undone.fields.get("previous")
    if not target or target not in hist.versions:
        raise PipelineError(f"{commit[:7]} reverts {undone.fields.get('commit', '?')[:7]}, which put "
                            f"{undone.version} in {reg.stage} with no earlier version to go back to; "
                            f"the stage stays on {hist.prod}")
    version = hist.versions[target]
    if target == hist.prod:
        return {"action": "none", "version": target, "tag": version.tag,
                "text": f"{reg.model} {target} is already in stage {reg.stage}: nothing to roll back"}
    import hashlib

    data = read_bytes(reg.artifact, version.commit, version.tag)  # fail closed: the bytes must exist
    digest = hashlib.sha256(data or b"").hexdigest()
    if data is None or digest != version.sha256:
        raise PipelineError(f"{reg.artifact}@{version.tag}: sha256 {digest[:12]} is not {target}'s "
                            f"({str(version.sha256)[:12]}); not rolling back to bytes that differ")
    _assign(reg, target, f"{reg.model}: rollback to {target} (from {hist.prod})\ncommit: {commit}\n"
                         f"promoted-by: {by}\nreason: rollback\nversion: {target}\n"
                         f"previous: {hist.prod}\nrollback-from: {hist.prod}\n"
                         f"revert-of: {undone.fields.get('commit', '')}")
    return {"action": "rollback", "version": target, "tag": version.tag,
            "text": f"{reg.model}: rollback to {target} (from {hist.prod}) by {by}, reverting "
                    f"{undone.fields.get('promoted-by', undone.tag)}; stage {reg.stage} -> {target} "
                    f"(model sha256 {digest[:12]} fetched)"}


def promote(params: dict[str, Any], rev: str = "HEAD", require_remote: bool = False,
            notes: str | None = None, labels: list[str] | None = None,
            actor: str | None = None) -> dict[str, str]:
    """Apply a merge's verdict to the registry: promote, override, keep (data only) or roll back.

    `labels` are the merged PR's labels and `actor` who merged it (the workflow passes both from the
    event payload); registry.override_label among them overrides a rejection.
    """
    reg = settings(params)
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}").strip()
    head = git("rev-parse", "HEAD").strip()
    if commit != head:
        raise PipelineError(f"promote registers the checked-out commit; check out {rev} first")
    hist = history(reg)
    by = promoted_by(commit)
    critical = (params.get("schema") or {}).get("critical_class")
    undone = _undone(hist, commit)
    if undone is not None:
        result = _rollback(reg, hist, undone, commit, by)
        card = hist.versions[result["version"]].card
        return _finish(reg, result, card, hist, by, critical, notes, [])
    md5 = lock_md5(show(commit, DVC_LOCK.as_posix()), reg.artifact)
    if md5 is None:
        raise PipelineError(f"dvc.lock at {commit[:7]}: no output '{reg.artifact}' (run `dvc repro` "
                            "and commit dvc.lock)")
    card = card_at(commit)
    where = verify_model(reg, card, md5, require_remote)
    sha = card["model"]["sha256"]
    action, reasons = verdict(reg, commit, sha, hist, list(labels or []))
    found = match(hist, md5)
    fields = (f"commit: {commit}\npromoted-by: {by}\nmodel-md5: {md5}\nmodel-sha256: {sha}\n"
              f"reason: {action}\nprevious: {hist.prod or ''}")
    if action == "override":
        fields += (f"\noverride-label: {reg.override_label}\noverride-by: {actor or 'unknown'}\n"
                   f"gate-reasons: {'; '.join(reasons)}")
    import gto.api

    if found is not None and found.version == hist.prod:
        result = {"action": "none", "version": found.version, "tag": found.tag,
                  "text": f"{reg.model} {found.version} is already in stage {reg.stage} "
                          f"(model sha256 {sha[:12]}): nothing to register"}
    elif action == "keep":
        if found is None:
            version = next_version(reg, hist)
            gto.api.register(".", reg.model, commit, version=version,
                             message=f"{reg.model} {version}: recorded, not promoted (sha256 {sha[:12]})\n"
                                     f"{fields}\ngate-reasons: {'; '.join(reasons)}")
            result = {"action": "recorded", "version": version, "tag": f"{reg.model}@{version}"}
        else:
            result = {"action": "kept", "version": found.version, "tag": found.tag}
        keeps = f"keeps {hist.prod} in {reg.stage}" if hist.prod else f"leaves {reg.stage} empty"
        result["text"] = (f"{reg.model}: {by} lands its data and {keeps}; model sha256 {sha[:12]} is "
                          f"{result['version']}, not promoted: {reasons[0] if reasons else 'rejected'}")
    else:
        version = found.version if found else next_version(reg, hist)
        if found is None:
            gto.api.register(".", reg.model, commit, version=version,
                             message=f"{reg.model} {version}: new model (sha256 {sha[:12]})\n{fields}")
        how = "override of the gate by " + (actor or "unknown") if action == "override" else "promote"
        _assign(reg, version, f"{reg.model}: assign {reg.stage} to {version} ({how})\n{fields}\n"
                              f"version: {version}")
        result = {"action": "registered" if found is None else "promoted", "version": version,
                  "tag": f"{reg.model}@{version}",
                  "text": f"{reg.model}: {'registered ' if found is None else ''}{version} (model sha256 "
                          f"{sha[:12]}, from the {where}) by {by}; stage {reg.stage} -> {version}"
                          + (f" (override by {actor or 'unknown'}, label {reg.override_label})"
                             if action == "override" else "")}
    result["decision"] = action
    return _finish(reg, result, card, hist, by, critical, notes, reasons)


def _finish(reg: Registry, result: dict[str, str], card: dict[str, Any] | None, hist: History, by: str,
            critical: str | None, notes: str | None, reasons: list[str]) -> dict[str, str]:
    """Print the one-line outcome, write the release notes, report to the workflow."""
    print(result.pop("text"))
    body = release_notes(reg, result, card, hist, by, critical, reasons)
    if notes:
        from pipeline.core.files import write_text

        write_text(notes, body)
        result["notes"] = notes
    result["title"] = f"{reg.model} {result['version']}"
    result["prod"] = history(reg).prod or ""
    github_output(result)
    step_summary(body)
    return result


def release_notes(reg: Registry, result: dict[str, str], card: dict[str, Any] | None, hist: History,
                  by: str, critical: str | None, reasons: list[str] | None = None) -> str:
    """Markdown for the GitHub release (or the job summary): what happened, key metrics, the card."""
    version = result["version"]
    override = result.get("decision") == "override"
    heading = {"registered": f"{reg.model} {version}: new production model",
               "promoted": f"{reg.model} {version}: back in production",
               "rollback": f"{reg.model}: rollback to {version} (from {hist.prod})",
               "recorded": f"{reg.model} {version}: recorded, not promoted ({hist.prod} stays)",
               "kept": f"{reg.model}: data accepted, {hist.prod} stays in production",
               "none": f"{reg.model} {version}: unchanged"}[result["action"]]
    lines = [f"# {heading}", "", f"Merged by {by}; stage `{reg.stage}`.", ""]
    if override:
        lines += [f"**Override**: the gate rejected this model; the label `{reg.override_label}` "
                  "promoted it anyway.", ""]
    if reasons and result["action"] != "rollback":
        lines += ["Gate:", "", *(f"- {r}" for r in reasons), ""]
    lines += metrics_table([(version, card)], critical)
    lines += ["", f"Model sha256 `{(card or {}).get('model', {}).get('sha256', '?')}`.", "",
              "Fetch it: `dvc artifacts get . " + f"{reg.model} --stage {reg.stage} -o model.skops` "
              "or `git checkout " + result["tag"] + " && dvc pull " + reg.artifact + "`."]
    card_md = show("HEAD", CARD_MD.as_posix())
    if card_md:
        lines += ["", "<details><summary>Model card</summary>", "", card_md.strip(), "", "</details>"]
    return "\n".join(lines) + "\n"


def rollback_check(params: dict[str, Any], report: str | None) -> dict[str, str]:
    """On a PR: does it revert a promotion merge, restoring the model of the version before it?

    Then merging puts the stage back on that version (see `promote`), and its exact bytes need no
    retraining. Any other PR, a revert of a merge that promoted nothing included, is reproduced.
    """
    from pipeline.core.files import sha256, write_text

    reg = settings(params)
    lock = Path(DVC_LOCK.as_posix())
    md5 = lock_md5(lock.read_text(encoding="utf-8") if lock.exists() else None, reg.artifact)
    hist = history(reg)
    undone = _undone(hist, git("rev-parse", "HEAD").strip())
    previous = undone.fields.get("previous") if undone else None
    found = hist.versions.get(previous) if previous else None
    if found is None or found.md5 != md5 or found.version == hist.prod:
        why = ("it reverts no promotion merge" if undone is None else
               f"it reverts the first promotion ({undone.version}): no earlier version" if found is None
               else f"the model is {found.version}, already in stage {reg.stage}"
               if found.version == hist.prod else
               f"it reverts {undone.version}'s promotion (merging puts {reg.stage} back on "
               f"{found.version}), but dvc.lock pins another model than {found.version}'s")
        print(f"rollback-check: not a rollback ({why}): reproduce the pipeline")
        result = {"rollback": "false", "version": found.version if found else ""}
        github_output(result)
        return result
    path = Path(reg.artifact)
    if not path.exists():
        raise PipelineError(f"{reg.artifact}: {found.version}'s model (md5 {md5}) is not in the DVC "
                            "remote or cache; a rollback needs its bytes (`dvc push` them from a clone "
                            "that has them)")
    if found.sha256 and sha256(path) != found.sha256:
        raise PipelineError(f"{reg.artifact}: sha256 {sha256(path)[:12]} is not {found.version}'s "
                            f"({found.sha256[:12]})")
    critical = (params.get("schema") or {}).get("critical_class")
    current = hist.versions.get(hist.prod) if hist.prod else None
    lines = [f"## Rollback to {found.version}", "",
             f"This pull request restores the model of **{found.version}** (sha256 "
             f"`{(found.sha256 or '?')[:12]}`, registered {found.date[:10]} by "
             f"{found.fields.get('promoted-by') or promoted_by(found.commit)}), replacing "
             f"**{hist.prod}** in stage `{reg.stage}`.", "",
             f"Retraining skipped: the model's exact bytes were pulled from the DVC remote and match "
             f"{found.version}'s sha256. Merging assigns `{reg.stage}` back to {found.version}.", ""]
    lines += metrics_table([(f"{found.version} (restored)", found.card)]
                           + ([(f"{hist.prod} (current)", current.card)] if current else []), critical)
    text = "\n".join(lines) + "\n"
    if report:
        write_text(report, text)
    print(f"rollback-check: rollback to {found.version} (from {hist.prod}); retraining skipped")
    result = {"rollback": "true", "version": found.version, "from": hist.prod or ""}
    github_output(result)
    step_summary(text)
    return result


def version_rows(params: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per registration and per rollback, oldest first."""
    reg = settings(params)
    hist = history(reg)
    critical = (params.get("schema") or {}).get("critical_class")
    rows = []
    for event in hist.events:
        v = hist.versions[event.version]
        note = {"recorded": "recorded, not promoted",
                "rollback": f"rollback to {event.version} (from {event.from_version})"}
        rows.append({"version": event.version, "event": event.kind, "date": event.date,
                     "model_sha256": v.sha256, "model_md5": v.md5,
                     "metrics": _metrics(v.card, critical), "training_rows": _rows(v.card),
                     "promoted_by": event.promoted_by, "commit": event.commit, "tag": event.tag,
                     "note": note.get(event.kind, ""),
                     "current": False})
    for row in reversed(rows):
        if row["version"] == hist.prod:
            row["current"] = True
            break
    return rows


def timeline_rows(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The production timeline: one row per period of the stage, who or what started it, oldest first."""
    reg = settings(params)
    hist = history(reg)
    rows = []
    for i, a in enumerate(hist.assignments):
        end = hist.assignments[i + 1].date if i + 1 < len(hist.assignments) else None
        f = a.fields
        how = {"rollback": f"rollback {f.get('rollback-from') or f.get('previous') or '?'} → {a.version} "
                           f"(revert by {f.get('promoted-by', '?')})",
               "override": f"override by {f.get('override-by', '?')} (label {f.get('override-label')}), "
                           f"{f.get('promoted-by', '?')}"}.get(a.reason, f.get("promoted-by") or a.tag)
        rows.append({"from": a.date, "to": end, "version": a.version, "reason": a.reason, "by": how,
                     "previous": f.get("previous") or None, "tag": a.tag,
                     "gate_reasons": f.get("gate-reasons")})
    return rows


def lineage_rows(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Without version tags (a clone that did not fetch them): every commit of this branch that changed
    the model pinned in dvc.lock, oldest first, so the history is visible before anything is registered."""
    reg = settings(params)
    critical = (params.get("schema") or {}).get("critical_class")
    rows: list[dict[str, Any]] = []
    log = git("log", "--reverse", "--format=%H %cI", "--", DVC_LOCK.as_posix(), check=False)
    for line in log.splitlines():
        commit, date = line.split(" ", 1)
        md5 = lock_md5(show(commit, DVC_LOCK.as_posix()), reg.artifact)
        if md5 is None or (rows and rows[-1]["model_md5"] == md5):
            continue
        card = card_at(commit)
        rows.append({"version": "unregistered", "event": "model change", "date": date,
                     "model_sha256": ((card or {}).get("model") or {}).get("sha256"), "model_md5": md5,
                     "metrics": _metrics(card, critical), "training_rows": _rows(card),
                     "promoted_by": promoted_by(commit), "commit": commit, "tag": None, "note": "",
                     "current": False})
    if rows:
        rows[-1]["current"] = True
    return rows


def event_labels(path: str | None) -> tuple[list[str], str | None]:
    """Labels and merger of the merged pull request: from a `pull_request` event payload
    ($GITHUB_EVENT_PATH: `pull_request.labels[].name`, `pull_request.merged_by.login`), or from
    `gh pr list --json labels,mergedBy` (a list; its first entry), which a `push` run uses because a
    push event's payload names no pull request.
    """
    if not path:
        return [], None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PipelineError(f"{path}: GitHub event payload unreadable ({one_line(exc)})") from None
    if isinstance(event, list):  # gh pr list --json number,labels,mergedBy
        pr = event[0] if event else {}
        return [str(label.get("name")) for label in pr.get("labels") or []], (
            pr.get("mergedBy") or {}).get("login")
    pr = event.get("pull_request") or {}
    labels = [str(label.get("name")) for label in pr.get("labels") or []]
    return labels, (pr.get("merged_by") or {}).get("login") or (event.get("sender") or {}).get("login")


def cli(args: argparse.Namespace) -> int:
    labels, actor = event_labels(args.event)
    promote(P.load(args.params), require_remote=args.require_remote, notes=args.notes,
            labels=labels + list(args.label or []), actor=args.actor or actor)
    return 0


def print_timeline(reg: Registry, timeline: list[dict[str, Any]]) -> None:
    if not timeline:
        print(f"\n{reg.model}: nothing has been in stage {reg.stage} yet")
        return
    print(f"\nproduction timeline ({reg.model}#{reg.stage}):")
    for t in timeline:
        print(f"  {t['from'][:19]} → {(t['to'] or 'now')[:19]:<19}  {t['version']:<8}  {t['by']}")


def versions_cli(args: argparse.Namespace) -> int:
    params = P.load(args.params)
    reg = settings(params)
    if args.timeline:
        timeline = timeline_rows(params)
        print(json.dumps(timeline, indent=2)) if args.json else print_timeline(reg, timeline)
        return 0
    rows = version_rows(params)
    if not rows:
        rows = lineage_rows(params)
        if rows and not args.json:
            print(f"{reg.model}: no version tags in this clone (`git fetch --tags`, or merge to main to run "
                  "`python -m pipeline promote`); model history from git:")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"{reg.model}: no versions registered yet (merge to main runs `python -m pipeline "
              "promote`, or run it yourself)")
        return 0
    critical = (params.get("schema") or {}).get("critical_class")
    names = [*KEY_METRICS] + ([f"recall_{critical}"] if critical else [])
    head = ["version", "date", "model", *names, "train rows", "promoted by", ""]
    table = [head]
    for r in rows:
        mark = ", ".join(x for x in (f"← {reg.stage}" if r["current"] else "", r["note"]) if x)
        table.append([r["version"], r["date"][:10], (r["model_sha256"] or "?")[:12],
                      *(_fmt(r["metrics"].get(n)) for n in names), _fmt(r["training_rows"]),
                      r["promoted_by"], mark])
    widths = [max(len(str(row[i])) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print_timeline(reg, timeline_rows(params))
    return 0


def rollback_check_cli(args: argparse.Namespace) -> int:
    rollback_check(P.load(args.params), args.report)
    return 0


def commit_back(branch: str | None, remote: str, message: str,
                include: list[str] | None = None) -> str | None:
    """Commit dvc.lock, the git-tracked pipeline outputs and the `include` paths (the comparison — the
    verdict travels with the exact model it judged — and its figures, which the report links at this
    commit); push them to the PR branch.

    Returns the commit that now carries this run's outputs on the branch (None when the branch moved
    on to new inputs: that newer commit's own run reports). No skip marker in the message: a push
    made with GITHUB_TOKEN starts no workflow anyway, and a `[skip ci]` in a squash message or a
    rebased head would skip the workflows of the merge on main. A re-run replays the old event:
    when the branch's tip only added outputs of these same inputs (an earlier run's commit-back),
    the commit is rebuilt on that tip instead of being refused as a non-fast-forward push."""
    from dvc.repo import Repo

    with Repo(".") as repo:
        outs = list(repo.index.outs)
        tracked = {os.path.relpath(out.fs_path, repo.root_dir) for out in outs if not out.use_cache}
        # the .gitignore files DVC writes beside cached outputs: a directory dependency such as
        # models/candidates hashes them too, so a clone without them would re-run the stage
        ignores = {os.path.relpath(Path(out.fs_path).parent / ".gitignore", repo.root_dir)
                   for out in outs if out.use_cache}
    extra = {os.path.normpath(p) for p in include or []}
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
                print(f"commit-back: {remote}/{branch} moved on to {tip[:7]} with new inputs "
                      f"({', '.join(inputs[:3])}): its own run reports; nothing pushed")
                github_output({"pushed": "false", "head": ""})
                return None
            git("reset", "-q", "--soft", tip)  # the same inputs: build on the earlier run's commit
            base = tip
    git("add", "--", *paths)
    if git_run("diff", "--cached", "--quiet").returncode == 0:
        print(f"commit-back: dvc.lock and the tracked outputs are already committed ({base[:7]})")
        github_output({"pushed": "false", "head": base})
        return base
    git("commit", "-q", "-m", message)
    sha = git("rev-parse", "HEAD").strip()
    if branch:
        git("push", "-q", remote, f"HEAD:refs/heads/{branch}")
        print(f"commit-back: {sha[:7]} pushed to {remote}/{branch} ({len(paths)} paths)")
    else:
        print(f"commit-back: committed {sha[:7]} (no --branch: not pushed)")
    github_output({"pushed": "true" if branch else "false", "head": sha})
    return sha


def commit_back_cli(args: argparse.Namespace) -> int:
    commit_back(args.branch, args.remote, args.message,
                [*(args.include or []), settings(P.load(args.params)).comparison])
    return 0
