"""The `cml` and `gh` stand-ins: command lines parsed as the real tools do, acting on FakeGitHub."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.replay.events import REPOSITORY, WRITE_TOKEN, ReplayError
from tests.support.replay.github import ROOT, FakeGitHub


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


def install_stand_ins(bin_dir: Path) -> Path:
    """`cml` and `gh` executables that call fake_main with this interpreter."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("cml", "gh"):
        script = bin_dir / tool
        script.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                          "from tests.support.replay.standins import fake_main\n"
                          f"sys.exit(fake_main({tool!r}, sys.argv[1:]))\n")
        script.chmod(0o755)
    return bin_dir


