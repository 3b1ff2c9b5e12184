"""The data contract on a frame already read: required columns and numeric types first, then the GX
suite (expectations/*.json, GX Core 1.x) in two passes, because GX's result format decides most of
its cost: BOOLEAN_ONLY for everything, then SUMMARY (a few unexpected values and row numbers) only
for what failed and for the `mostly` expectations whose counts the report shows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pipeline.core import expectations as E
from pipeline.core.file_contract import Finding, critical
from pipeline.core.schema import Schema
from pipeline.errors import PipelineError

EXAMPLES = 5          # unexpected values / row numbers kept per failed expectation
PERIOD_NAME = re.compile(r"^\d{4}-\d{2}$")


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
        return [critical("column_exists", f"{what} missing{more}", column=missing[0])]
    if len(frame) == 0:
        return [critical("table_has_rows", "no data rows")]
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
            return [critical("column_numeric", "text in a numeric column", column=col,
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
    returns the findings (warnings included: the caller shows them) otherwise.
    """
    from pipeline.core.schema import from_params

    schema = from_params(params)
    suite = E.load(E.suite_path(params))
    findings = evaluate(schema, suite, Path(path), frame, labelled)
    failed = [f for f in findings if not f.success]
    critical = [f for f in failed if f.severity == "critical"]
    if critical:
        raise PipelineError(_error_line(Path(path), critical))
    return findings


def _error_line(path: Path, critical: list[Finding]) -> str:
    more = f" [+{len(critical) - 1} more critical]" if len(critical) > 1 else ""
    return critical[0].line(path) + more

