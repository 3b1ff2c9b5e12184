"""Stage `validate`: every batch against the data contract (expectations/*.json, GX Core 1.x).

File-level problems (empty, undecodable, wrong delimiter, truncated, duplicated or missing columns,
text in a numeric column; for Parquet: unreadable footer, duplicated names, no rows, a numeric column
stored as text) never reach GX: they are checked here first and give the same one-line error.
The suite then runs in two passes, because GX's result format decides most of its cost:
BOOLEAN_ONLY for everything, then SUMMARY (a few unexpected values and row numbers) only for what
failed and for the `mostly` expectations whose counts the report shows. A batch whose bytes and
contract are unchanged reuses its stored result, so adding one batch validates one batch.

Row numbers are file lines as a spreadsheet shows them: the header is row 1, the first data row 2.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.config import VALIDATION
from pipeline.core import expectations as E
from pipeline.core.schema import Schema
from pipeline.errors import PipelineError

REPORT = VALIDATION
CONTRACT_VERSION = 1  # bump when a check below changes meaning: stored results are then re-validated
EXAMPLES = 5          # unexpected values / row numbers kept per failed expectation
PERIOD_NAME = re.compile(r"^\d{4}-\d{2}$")
OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass
class Finding:
    """One check on one batch: an expectation of the suite, or a file-level rule."""

    check: str
    severity: str
    success: bool
    column: str | None = None
    rule: str = ""
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    values: list[Any] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    observed: Any = None

    def line(self, path: str | Path) -> str:
        """`path: column 'c': rule (n rows, e.g. rows 3, 17: values 'abc', ...)`"""
        head = f"{Path(path).as_posix()}: " + (f"column '{self.column}': " if self.column else "")
        tail = ""
        if self.unexpected_count:
            tail = f" ({self.unexpected_count} row{'s' if self.unexpected_count != 1 else ''}"
            if self.rows:
                tail += ", e.g. rows " + ", ".join(str(r) for r in self.rows)
            shown = [v for v in self.values if v is not None]
            if shown:
                tail += ": values " + ", ".join(_quote(v) for v in shown)
            tail += ")"
        return head + self.rule + tail

    def to_json(self) -> dict[str, Any]:
        out = {"check": self.check, "column": self.column, "severity": self.severity,
               "success": self.success}
        if self.rule and not self.success:
            out["rule"] = self.rule
        if self.unexpected_count is not None:
            out["unexpected_count"] = self.unexpected_count
            out["unexpected_percent"] = round(self.unexpected_percent or 0.0, 4)
        if self.values or self.rows:
            out["unexpected_values"] = self.values
            out["unexpected_rows"] = self.rows
        if self.observed is not None:
            out["observed"] = self.observed
        return out


def _quote(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _critical(check: str, rule: str, column: str | None = None, **kw: Any) -> Finding:
    return Finding(check=check, severity="critical", success=False, column=column, rule=rule, **kw)


# --- file level -----------------------------------------------------------------------------------


def inspect_file(path: Path, schema: Schema | None = None,
                 limit_rows: int | None = None) -> tuple[Any, list[Finding]]:
    """Read a batch under the file contract (comma-separated UTF-8, header row, whole rows; or a
    Parquet file whose schema holds the columns with the right types).

    Returns (frame, findings); frame is None when a critical file-level problem stops the batch.
    A Parquet batch of more than `limit_rows` rows comes back unread, as pipeline.core.columns'
    ParquetColumns: the suite then reads it one column at a time (GXRunner.run).
    """
    from pipeline.core.files import read_csv

    if not path.exists():
        return None, [_critical("file_exists", "file not found")]
    if path.suffix.lower() == ".parquet":
        return _inspect_parquet(path, schema, limit_rows)
    data = path.read_bytes()
    if not data.strip():
        return None, [_critical("file_not_empty",
                                "file is empty (the contract is comma-separated UTF-8 with a header row)")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, [_critical("file_utf8", f"not valid UTF-8 at row {line}, byte {exc.start} "
                                f"({exc.reason}; re-export the file as UTF-8)")]
    header_line = text.split("\n", 1)[0].rstrip("\r")
    header = next(csv.reader([header_line]), [])
    if len(header) <= 1:
        found = [name for sep, name in OTHER_DELIMITERS.items() if sep in header_line]
        if found:
            return None, [_critical("file_delimiter", f"wrong delimiter: the header is separated by "
                                    f"{found[0]}s (the contract is comma-separated)")]
    seen: dict[str, int] = {}
    for name in header:
        seen[name] = seen.get(name, 0) + 1
    dupes = [name for name, n in seen.items() if n > 1]
    if dupes:
        return None, [_critical("columns_unique", f"duplicated column name ({seen[dupes[0]]} times "
                                "in the header)", column=dupes[0])]
    body = text.split("\n", 1)[1] if "\n" in text else ""
    if not body.strip():
        return None, [_critical("table_has_rows", "header only, no data rows")]
    try:
        frame = read_csv(path)
    except PipelineError as exc:
        bad = _ragged_row(text, len(header))
        if bad:
            row, n = bad
            return None, [_critical("file_rows_complete", f"row {row} has {n} fields, the header has "
                                    f"{len(header)} (truncated file or a stray delimiter)")]
        return None, [_critical("file_parses", str(exc).split(": ", 1)[-1])]
    findings = []
    if not text.endswith("\n"):
        findings.append(Finding("file_ends_with_newline", "warning", False, rule="the file does not end "
                                "with a newline (truncated upload?)"))
    return frame, findings


def _inspect_parquet(path: Path, schema: Schema | None, limit_rows: int | None) -> tuple[Any, list[Finding]]:
    """Parquet's file contract: a readable footer (magic bytes, schema), unique column names, rows,
    and numeric schema columns stored as numbers (Parquet keeps types, so text there is a writer bug,
    where a CSV's would be a parse question). Encodings and delimiters do not apply."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.core.files import PARQUET_CONTRACT, read_parquet

    if path.stat().st_size == 0:
        return None, [_critical("file_not_empty", f"file is empty (the contract is {PARQUET_CONTRACT})")]
    try:
        handle = pq.ParquetFile(path)
        meta, rows = handle.schema_arrow, handle.metadata.num_rows
    except Exception as exc:  # ArrowInvalid: no magic bytes, truncated footer
        return None, [_critical("file_parquet", f"not a readable Parquet file ({str(exc).splitlines()[0]}; "
                                "re-export it, or give CSV files a .csv name)")]
    seen: dict[str, int] = {}
    for name in meta.names:
        seen[name] = seen.get(name, 0) + 1
    dupes = [name for name, n in seen.items() if n > 1]
    if dupes:
        return None, [_critical("columns_unique", f"duplicated column name ({seen[dupes[0]]} times in "
                                "the Parquet schema)", column=dupes[0])]
    if rows == 0:
        return None, [_critical("table_has_rows", "no data rows (the Parquet file has a schema only)")]
    for col in (schema.numeric if schema is not None else []):
        if col in seen:
            kind = meta.field(col).type
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
                    or pa.types.is_null(kind)):
                return None, [_critical("column_type", f"stored as {kind} in the Parquet schema, the "
                                        "contract says numeric (write numbers as numbers)", column=col)]
    if limit_rows is not None and rows > limit_rows:
        from pipeline.core.columns import ParquetColumns

        return ParquetColumns([path]), []
    try:
        frame = read_parquet(path)
    except PipelineError as exc:  # a corrupt page or a truncated row group
        return None, [_critical("file_parses", str(exc).split(": ", 1)[-1])]
    return frame, []


def _ragged_row(text: str, width: int) -> tuple[int, int] | None:
    """The first record whose field count differs from the header's (1-based file row)."""
    reader = csv.reader(text.splitlines())
    for record in reader:
        if record and len(record) != width:
            return reader.line_num, len(record)
    return None


def read_batch(path: str | Path):
    """A batch frame, or the first critical file-level problem as a PipelineError."""
    path = Path(path)
    frame, findings = inspect_file(path)
    if frame is None:
        raise PipelineError(findings[0].line(path))
    return frame


# --- frame level: structure, then GX ------------------------------------------------------------


class GXRunner:
    """One ephemeral GX context (progress bars off) reused for every batch of a run."""

    def __init__(self) -> None:
        import logging

        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        # GX fingerprints every in-memory frame below this size (an md5 of pandas row hashes, twice
        # per validate call: 1.7 s per million rows, more than the checks themselves). The
        # fingerprint only labels the batch; ours is the file's sha256 in the report.
        pandas_execution_engine.HASH_THRESHOLD = 0
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = self.context.data_sources.add_pandas("batches").add_dataframe_asset("frame")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("whole")
        self._runs = 0

    def run(self, exps: list[dict[str, Any]], frame, parameters: dict[str, Any],
            result_format: Any) -> dict[int, Any]:
        """Validate `exps` (each with meta._pos) on `frame`; results keyed by that position.

        Column expectations run on a one-column frame per column: GX's map metrics copy the rows
        of the WHOLE frame that are non-null in the column, once per expectation, which on wide
        frames costs more than the checks themselves.
        """
        from pipeline.core.columns import ParquetColumns

        groups: dict[str | None, list[dict[str, Any]]] = {}
        for exp in exps:
            groups.setdefault(exp["kwargs"].get("column"), []).append(exp)
        out: dict[int, Any] = {}
        for col, group in groups.items():
            self._runs += 1
            suite = E.to_gx({"expectations": group}, name=f"run-{self._runs}")
            if isinstance(frame, ParquetColumns):  # larger than memory: only this column is read
                data = frame.frame([] if col is None else [col])
            else:
                data = frame if col is None else frame[[col]]
            batch = self.batch_definition.get_batch(batch_parameters={"dataframe": data})
            result = batch.validate(suite, result_format=result_format, expectation_parameters=parameters)
            out.update({int(r.expectation_config.meta["_pos"]): r for r in result.results})
        return out


def required_columns(schema: Schema, labelled: bool) -> list[str]:
    """Labelled batches carry every schema column; prediction input needs the features only."""
    return schema.columns if labelled else schema.features


def applicable(suite: dict[str, Any], schema: Schema, columns: list[str], labelled: bool,
               period: str | None) -> list[dict[str, Any]]:
    """The suite's expectations that apply to this input, tagged with their position."""
    out = []
    for i, exp in enumerate(suite["expectations"]):
        kwargs = dict(exp.get("kwargs") or {})
        col = kwargs.get("column")
        if col is not None and (col not in columns or (not labelled and col == schema.target)):
            continue  # missing required columns were reported before GX; optional ones are skipped
        if _uses_period(kwargs) and period is None:
            continue
        if exp["type"] == "expect_table_columns_to_match_set":
            # optional columns (id, time, and the target in prediction input) may be absent
            need = set(required_columns(schema, labelled))
            exact = kwargs.get("exact_match", True)
            kwargs["column_set"] = [c for c in kwargs.get("column_set", [])
                                    if c in need or (exact and c in columns)]
        meta = dict(exp.get("meta") or {})
        if exp["type"] == "expect_column_values_to_be_in_set" and (
                meta.get("open") is True or col in schema.open_categories):
            meta["severity"] = "warning"  # an open value set (suite meta.open or schema.open_categories)
        out.append({**exp, "kwargs": kwargs, "meta": {**meta, "_pos": i}})
    return out


def _uses_period(kwargs: dict[str, Any]) -> bool:
    return kwargs.get("value_set") == {"$PARAMETER": E.PERIOD_PARAMETER}


def evaluate(schema: Schema, suite: dict[str, Any], path: Path, frame, labelled: bool,
             runner: GXRunner | None = None) -> list[Finding]:
    """Every finding for one frame: structure first (stops at a critical one), then the GX suite."""
    import pandas as pd

    missing = [c for c in required_columns(schema, labelled) if c not in frame.columns]
    if missing:
        what = "target column" if missing[0] == schema.target else "required column"
        more = f"; {len(missing)} missing in all: {missing}" if len(missing) > 1 else ""
        return [_critical("column_exists", f"{what} missing{more}", column=missing[0])]
    if len(frame) == 0:
        return [_critical("table_has_rows", "no data rows")]
    from pipeline.core.columns import ParquetColumns

    # streamed Parquet: numeric types were checked on its schema (_inspect_parquet)
    work = frame if isinstance(frame, ParquetColumns) else frame.reset_index(drop=True).copy(deep=False)
    for col in schema.numeric if not isinstance(frame, ParquetColumns) else []:
        if col not in work.columns:
            continue
        values = work[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            continue
        coerced = pd.to_numeric(values.astype("object").where(values.notna(), None), errors="coerce")
        bad = values.notna() & coerced.isna() if not pd.api.types.is_bool_dtype(values) else values.notna()
        if bad.any():
            idx = list(bad[bad].index[:EXAMPLES])
            return [_critical("column_numeric", "text in a numeric column", column=col,
                              unexpected_count=int(bad.sum()),
                              unexpected_percent=100.0 * float(bad.mean()),
                              values=[_plain(values[i]) for i in idx], rows=[int(i) + 2 for i in idx])]
        work[col] = coerced.astype("float64")  # an all-empty column: numbers, all null
    period = path.stem if PERIOD_NAME.match(path.stem) else None
    exps = applicable(suite, schema, list(work.columns), labelled, period)
    runner = runner or GXRunner()
    parameters = {E.PERIOD_PARAMETER: [period]} if period else {}
    first = runner.run(exps, work, parameters, "BOOLEAN_ONLY")
    detail_exps = [e for e in exps if not first[e["meta"]["_pos"]].success
                   or e["kwargs"].get("mostly", 1) < 1]
    details = runner.run(detail_exps, work, parameters,
                         {"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES}) \
        if detail_exps else {}
    findings = []
    for exp in exps:
        pos = exp["meta"]["_pos"]
        findings.append(_finding(exp, details.get(pos) or first[pos], schema, work, period))
    return findings


def _plain(value: Any) -> Any:
    """JSON-friendly scalar for the report (numpy / pandas scalars, NaN)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def _finding(exp: dict[str, Any], res, schema: Schema, frame, period: str | None) -> Finding:
    kind, kw, severity = exp["type"], exp["kwargs"], exp["meta"]["severity"]
    col = kw.get("column")
    r = res.result or {}
    f = Finding(check=kind, severity=severity, success=bool(res.success), column=col)
    if "unexpected_count" in r:
        f.unexpected_count = int(r["unexpected_count"])
        f.unexpected_percent = float(r.get("unexpected_percent") or 0.0)
        f.values = [_plain(v) for v in r.get("partial_unexpected_list") or []][:EXAMPLES]
        f.rows = [int(i) + 2 for i in (r.get("partial_unexpected_index_list") or [])][:EXAMPLES]
    elif res.success and kind.startswith("expect_column_values_to") and kw.get("mostly", 1) >= 1:
        f.unexpected_count, f.unexpected_percent = 0, 0.0
    if r.get("observed_value") is not None:
        f.observed = _plain(r["observed_value"]) if not isinstance(r["observed_value"], list) else None
    if res.success:
        return f
    error = _exception(res.exception_info)
    f.rule = f"{kind} could not be evaluated ({error})" if error else _rule(kind, kw, r, schema, frame,
                                                                             period, exp["meta"])
    if kind == "expect_table_columns_to_match_set":
        f.unexpected_count = None
    return f


def _exception(info: Any) -> str | None:
    """GX reports exceptions flat or nested by metric id; return the first message."""
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")).splitlines()[0] if info.get("raised_exception") else None
    for value in info.values():
        msg = _exception(value)
        if msg:
            return msg
    return None


def _rule(kind: str, kw: dict[str, Any], r: dict[str, Any], schema: Schema, frame, period: str | None,
          meta: dict[str, Any]) -> str:
    col = kw.get("column")
    if kind == "expect_table_row_count_to_be_between":
        return f"row count {r.get('observed_value', len(frame))} outside [{kw.get('min_value')}, " \
               f"{kw.get('max_value')}]"
    if kind == "expect_table_columns_to_match_set":
        expected = list(kw.get("column_set") or [])
        extra = [c for c in frame.columns if c not in expected]
        missing = [c for c in expected if c not in frame.columns]
        if missing:
            return f"required columns missing: {missing}"
        return f"unexpected extra columns {extra} (not in the schema; ignored by training)"
    if kind == "expect_column_values_to_be_unique":
        return "duplicated values (must be unique)"
    if kind == "expect_column_values_to_be_in_set":
        if col == schema.target:
            return f"unseen class labels (schema.classes: {list(schema.classes)})"
        if _uses_period(kw):
            return f"period does not match the file name (expected '{period}')"
        allowed = kw.get("value_set") or []
        shown = ", ".join(str(v) for v in allowed[:8]) + (", ..." if len(allowed) > 8 else "")
        opened = "; open set: reported only" if meta.get("severity") == "warning" else \
            "; add them to the suite, or list the column in schema.open_categories"
        return f"unseen category values (known: {shown}{opened})"
    if kind == "expect_column_values_to_not_be_null":
        allowed = 100.0 * (1 - float(kw.get("mostly", 1)))
        share = float(r.get("unexpected_percent") or 0.0)
        if allowed == 0:
            return "empty values (the column allows none)"
        return f"excessive nulls ({share:.1f} % empty, at most {allowed:.1f} % allowed)"
    if kind == "expect_column_values_to_be_in_type_list":
        return f"not numeric (dtype {r.get('observed_value', frame[col].dtype)})"
    if kind == "expect_column_values_to_be_between":
        return f"out of range [{kw.get('min_value')}, {kw.get('max_value')}]"
    if kind in ("expect_column_mean_to_be_between", "expect_column_median_to_be_between"):
        observed = r.get("observed_value")
        shown = f"{observed:.6g}" if isinstance(observed, (int, float)) else "?"
        stat = "mean" if "mean" in kind else "median"
        return f"{stat} {shown} outside the band [{kw.get('min_value')}, {kw.get('max_value')}]"
    return f"{kind} failed ({json.dumps({k: v for k, v in kw.items() if k != 'column'}, default=str)})"


def check_frame(params: dict[str, Any], path: str | Path, frame, labelled: bool) -> list[Finding]:
    """The data contract for a frame already read (predict uses it without the target).

    Raises PipelineError naming the file, the column and the rule on the first critical failure;
    returns the findings (warnings included) otherwise.
    """
    from pipeline.core.schema import from_params

    schema = from_params(params)
    suite = E.load(E.suite_path(params))
    findings = evaluate(schema, suite, Path(path), frame, labelled)
    failed = [f for f in findings if not f.success]
    critical = [f for f in failed if f.severity == "critical"]
    if critical:
        raise PipelineError(_error_line(Path(path), critical))
    for f in failed:
        print(f"warning: {f.line(path)}", file=sys.stderr)
    return findings


def _error_line(path: Path, critical: list[Finding]) -> str:
    more = f" [+{len(critical) - 1} more critical]" if len(critical) > 1 else ""
    return critical[0].line(path) + more


# --- the stage ----------------------------------------------------------------------------------


def contract_key(suite: dict[str, Any], params: dict[str, Any]) -> str:
    """What a stored batch result depends on besides the batch bytes: suite, schema, this code."""
    blob = {"version": CONTRACT_VERSION, "suite": E.digest(suite), "schema": params.get("schema"),
            "examples": EXAMPLES}
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()


def validate_batches(params: dict[str, Any], report_path: Path = REPORT) -> dict[str, Any]:
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


def cli(args: argparse.Namespace) -> int:
    params = P.load(args.params)
    report_path = Path(getattr(args, "report", None) or REPORT)
    report = validate_batches(params, report_path)
    s = report["summary"]
    print(f"validate: {s['batches']} batches ({report['_reused']} unchanged, reused) against "
          f"{report['suite']} ({s['expectations']} expectations): {s['passed']} passed, {s['failed']} "
          f"failed, {s['warnings']} warnings -> {report_path.as_posix()}")
    for b in report["batches"].values():
        for line in b["warning_lines"][:10]:
            print(f"  warning: {line}")
        for line in b["errors"][:10]:
            print(f"  critical: {line}")
    failing = [(name, b) for name, b in report["batches"].items() if not b["success"]]
    if failing:
        name, b = failing[0]
        more = sum(x["critical_failures"] for _, x in failing) - 1
        suffix = f" [+{more} more critical in {len(failing)} batch{'es' if len(failing) > 1 else ''}; " \
                 f"see {report_path.as_posix()}]" if more else ""
        raise PipelineError(b["errors"][0] + suffix, exit_code=1)
    return 0
