"""The model registry: versions as git tags (GTO convention), read with plain git plumbing.

A version names a model's bytes: `credit-risk@vX.Y.Z` is an annotated tag on the commit of `main`
whose dvc.lock first pinned that model, and `credit-risk#prod#N` assigns the stage. The identity of a
model is the md5 that dvc.lock records for the artifact (the DVC remote's content address), checked
against the sha256 in the model card once the bytes are pulled (`verify_model`).

Rollback policy: a model equal to an earlier version's is NOT a new version. `promote` re-assigns the
stage to that version (a new `credit-risk#prod#N` tag whose message records "rollback to vN", the
version it replaced and the commit/PR that did it), so `gto show credit-risk#prod` answers the old
version, and `dvc artifacts get` resolves its exact bytes. Everyone who needs the production model
(compare, drift, monitor, predict, the site) asks `production_ref` here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline import params as P
from pipeline.config import CARD_JSON, DVC_LOCK
from pipeline.core import model_card
from pipeline.core.git import git, show
from pipeline.errors import PipelineError, UnfetchableError, one_line

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
        return model_card.model_sha256(self.card) or self.fields.get("model-sha256")


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
    text = show(rev, CARD_JSON.as_posix())
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


def semver(version: str) -> tuple[int, ...]:
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
    return min(hits, key=lambda v: semver(v.version)) if hits else None


def next_version(reg: Registry, hist: History) -> str:
    if not hist.versions:
        return reg.first_version
    major, minor, patch = max(semver(v) for v in hist.versions)
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
        raise PipelineError(f"{CARD_JSON}: not committed at HEAD (the evaluate stage writes it)")
    if not path.exists():
        raise PipelineError(f"{reg.artifact}: missing after the pull")
    expected = model_card.model_sha256(card)
    digest = sha256(path)
    if digest != expected:
        raise PipelineError(f"{reg.artifact}: sha256 {digest[:12]} does not match {CARD_JSON} "
                            f"({str(expected)[:12]}); the model card and dvc.lock disagree")
    return where


# --- what a version holds ------------------------------------------------------------------------


def critical_class(params: dict[str, Any]) -> str | None:
    """The class whose recall every listing shows beside the key metrics (schema.critical_class, optional)."""
    return (params.get("schema") or {}).get("critical_class")


def key_metrics(card: dict[str, Any] | None, critical: str | None = None) -> dict[str, Any]:
    """The test metrics every listing shows (and the critical class's recall), from a model card."""
    test = model_card.test_metrics(card)
    out = {k: test.get(k) for k in KEY_METRICS}
    if critical and critical in (test.get("per_class") or {}):
        out[f"recall_{critical}"] = test["per_class"][critical].get("recall")
    return out


def version_tag(model: str, commit: str) -> str | None:
    """The highest `<model>@v*` tag pointing at `commit` (the GTO convention), if any."""
    found = git("tag", "--points-at", commit, "--list", f"{model}@v*", "--sort=-v:refname",
                check=False).split()
    return found[0].split("@", 1)[1] if found else None


def reverted_commits(commit: str) -> list[str]:
    """Commits that `commit` undoes: `This reverts commit X.` in the messages the merge brought in.

    `git revert` writes that line; a merge commit brings the revert commit along, GitHub's squash
    message concatenates the branch's messages, and a rebase merge makes the revert commit the head.
    """
    parents = git("rev-list", "--parents", "-n1", commit).split()[1:]
    text = git("log", "--format=%B", f"{parents[0]}..{commit}" if parents else commit, check=False)
    return re.findall(r"This reverts commit ([0-9a-f]{7,40})", text)


def undone_assignment(hist: History, commit: str) -> Assignment | None:
    """The stage assignment made for a merge that `commit` reverts, if any (the latest)."""
    shas = reverted_commits(commit)
    for a in reversed(hist.assignments):
        made_for = a.fields.get("commit", "")
        if made_for and any(made_for.startswith(s) or s.startswith(made_for) for s in shas):
            return a
    return None
