"""Stage `validate`: every batch against the data contract (pipeline.core.file_contract, then the GX
suite by pipeline.core.suite_checks). A batch whose bytes and contract are unchanged reuses its stored
result, so adding one batch validates one batch."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.config import VALIDATION
from pipeline.core import expectations as E
from pipeline.core.file_contract import inspect_file
from pipeline.core.suite_checks import EXAMPLES, GXRunner, evaluate
from pipeline.errors import PipelineError

CONTRACT_VERSION = 1  # bump when a check changes meaning: stored results are then re-validated


def contract_key(suite: dict[str, Any], params: dict[str, Any]) -> str:
    """What a stored batch result depends on besides the batch bytes: suite, schema, this code."""
    blob = {"version": CONTRACT_VERSION, "suite": E.digest(suite), "schema": params.get("schema"),
            "examples": EXAMPLES}
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()


def validate_batches(params: dict[str, Any], report_path: Path = VALIDATION) -> dict[str, Any]:
    """Validate every batch (reusing unchanged results) and write the report; returns it."""
    from pipeline.core.files import batch_files, read_json, sha256, write_json
    from pipeline.core.schema import from_params

    schema = from_params(params)
    spath = E.suite_path(params)
    suite = E.load(spath)
    key = contract_key(suite, params)
    cfg = P.section(params, "data")
    files = batch_files(cfg["batches_dir"], cfg.get("pattern", "*.csv"))
    previous: dict[str, Any] = {}
    if report_path.exists():
        try:
            previous = read_json(report_path).get("batches") or {}
        except (PipelineError, AttributeError):
            previous = {}
    runner: GXRunner | None = None
    batches: dict[str, Any] = {}
    reused = 0
    for path in files:
        name, digest = path.as_posix(), sha256(path)
        old = previous.get(name)
        if isinstance(old, dict) and old.get("sha256") == digest and old.get("contract") == key:
            batches[name] = old
            reused += 1
            continue
        frame, findings = inspect_file(path, schema, (params.get("validate") or {}).get("in_memory_rows"))
        rows = None
        if frame is not None:
            rows = len(frame)
            if runner is None:
                runner = GXRunner()
            findings += evaluate(schema, suite, path, frame, labelled=True, runner=runner)
        failed = [f for f in findings if not f.success]
        critical = [f for f in failed if f.severity == "critical"]
        batches[name] = {
            "sha256": digest, "contract": key, "rows": rows, "success": not critical,
            "critical_failures": len(critical), "warnings": len(failed) - len(critical),
            "errors": [f.line(path) for f in critical], "warning_lines": [f.line(path) for f in failed
                                                                          if f.severity == "warning"],
            "results": [f.to_json() for f in findings],
        }
    report = {
        "suite": spath.as_posix(), "suite_sha256": E.digest(suite), "contract": key,
        "success": all(b["success"] for b in batches.values()),
        "summary": {
            "batches": len(batches),
            "passed": sum(b["success"] for b in batches.values()),
            "failed": sum(not b["success"] for b in batches.values()),
            "warnings": sum(b["warnings"] for b in batches.values()),
            "expectations": len(suite["expectations"]),
        },
        "batches": batches,
    }
    write_json(report_path, report)
    report["_reused"] = reused
    return report
