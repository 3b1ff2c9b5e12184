"""The scheduled job's two ways into a pull request: new data from the source, and a retraining plan.

`ingest`: when params `data.source` names a folder, S3 or HTTP location, every batch file there that
`data.batches_dir` does not hold yet comes in with `dvc import-url` (a `.dvc` file that records the
URL, so `dvc update` can follow it): the same change a data engineer's pull request makes.

`retrain-plan`: when monitoring decided `retrain`, change an input of the pipeline so that `dvc repro`
really trains a different model. Every merge already retrains on all the data, so a branch of main
with nothing changed reproduces main's dvc.lock: the same model, nothing to compare. Drift that says
the old months no longer represent the present switches the training window to the newest batches
(the original system's "replace old data"); any other trigger runs a fresh search (the next seed:
new splits and hyperparameter trials). The pull request body names the trigger and the change.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from pipeline import params as P
from pipeline.errors import PipelineError, one_line


def source_files(source: str, pattern: str) -> list[tuple[str, str]]:
    """(file name, URL) of every file at `source` matching `pattern`, by name."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(source)
        if not fs.isdir(root):
            raise FileNotFoundError(f"{root}: not a folder")
        found = fs.glob(f"{root.rstrip('/')}/{pattern}")
    except Exception as exc:  # fsspec raises per protocol: missing folder, no credentials, HTTP errors
        raise PipelineError(f"params.yaml: data.source '{source}': cannot list {pattern} there "
                            f"({one_line(exc)})") from None
    names = sorted(PurePosixPath(p).name for p in found)
    return [(name, f"{source.rstrip('/')}/{name}") for name in names]


def ingest(params: dict[str, Any]) -> dict[str, Any]:
    """Import the source's batches that are new here; returns what came in (nothing without a source)."""
    data = P.section(params, "data")
    source = data["source"]
    if not source:
        return {"source": None, "new": [], "body": ""}
    batches = Path(data["batches_dir"])
    new = [(name, url) for name, url in source_files(str(source), str(data["pattern"]))
           if not (batches / name).exists() and not (batches / f"{name}.dvc").exists()]
    if new:
        from dvc.repo import Repo

        with Repo(".") as repo:
            for name, url in new:
                try:
                    repo.imp_url(url, out=str(batches / name))
                except Exception as exc:
                    raise PipelineError(f"{url}: dvc import-url failed ({one_line(exc)})") from None
    files = [(batches / name).as_posix() for name, _ in new]
    body = "\n".join([f"## New data from `{source}`", "",
                      *(f"- `{f}` (`dvc import-url`, tracked by `{f}.dvc`)" for f in files), "",
                      "Opened by the scheduled job, as a data engineer would: CI validates the batches, "
                      "retrains, compares the model with production and comments here. Merging lands "
                      "the data whatever the verdict; production changes only if the gate (or the "
                      "override label) says so."]) + "\n" if files else ""
    return {"source": source, "new": files, "body": body}


def plan(params: dict[str, Any], params_path: Path, monitoring: Path) -> dict[str, Any]:
    """Rewrite params.yaml so that `dvc repro` trains a different model, when monitoring says retrain."""
    from pipeline.core.files import write_text

    try:
        report = json.loads(monitoring.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PipelineError(f"{monitoring}: monitoring report unreadable ({one_line(exc)}); run "
                            "`python -m pipeline monitor` first") from None
    period = (report.get("run") or {}).get("period", "?")
    fired = [t for t in report.get("triggers") or [] if t.get("fired")]
    if report.get("decision") != "retrain" or not fired:
        return {"retrain": False, "period": period, "body": "", "change": None}
    window = P.section(params, "window")
    data = P.section(params, "data")
    n_batches = len(list(Path(data["batches_dir"]).glob(str(data["pattern"]))))
    keep = int(window["replace_batches"] or 0)
    drifted = any(t.get("name") == "drift" for t in fired)
    if drifted and window["strategy"] == "combine" and 0 < keep < n_batches:
        key, value = "window", {**window, "strategy": "replace"}
        change = (f"training window `combine` → `replace`: the newest {keep} of {n_batches} batches "
                  "only, because drift says the old months no longer represent the present")
    else:
        seed = int(P.section(params, "seed"))
        key, value = "seed", seed + 1
        change = (f"fresh search: `seed` {seed} → {seed + 1} (new splits and hyperparameter trials; "
                  "the data and the window are already main's)")
    text = params_path.read_text(encoding="utf-8")
    write_text(params_path, P.replace_block(text, key, value))
    triggers = "\n".join(f"- **{t['name']}**: {t.get('reason', '')}" for t in fired)
    body = (f"## Retraining requested by the scheduled monitoring ({period})\n\n"
            f"Triggers that fired for the production model {report.get('model', {}).get('version')}:\n\n"
            f"{triggers}\n\n**Change**: {change} (`params.yaml`).\n\n"
            "The reproduce-and-report job retrains on this branch and compares the new model with "
            "production; the comment says what merging will do.\n")
    return {"retrain": True, "period": period, "body": body, "change": change, "key": key}
