"""The data contract as code: a Great Expectations suite generated from data, reviewed and kept in git.

The suite is plain GX Core 1.x JSON (`{"name", "expectations": [{"type", "kwargs", "meta"}], "meta"}`)
so that a reviewer reads and edits it like any other file. Every expectation carries
`meta.severity`: `critical` stops the pipeline, `warning` is reported and lets it go on.
`python -m pipeline expectations init` writes it from reference batches; run again, it shows what
would change and refuses to overwrite hand edits without `--force`.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.core.schema import Schema
from pipeline.errors import PipelineError

SEVERITIES = ("critical", "warning")
PERIOD_PARAMETER = "batch_period"  # filled per batch from the file name (YYYY-MM.csv)
NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "Int64", "float32", "float64", "Float64"]

# Margins the generator applies to what it observed (documented in the README, "Data contract").
RANGE_MARGIN = 1.0        # numeric ranges widen by the observed span on each side
NULL_MARGIN = 0.02        # allowed null share = observed share · 2 + this
MEDIAN_MARGIN = 0.10      # batch-median band widens by 10 % of the median ...
MEDIAN_SE_BATCH = 1000    # ... or 5 standard deviations / sqrt(1,000 rows), whichever is larger


def suite_path(params: dict[str, Any]) -> Path:
    return Path(P.section(params, "validate", "suite"))


# --- generation --------------------------------------------------------------------------------


def generate(schema: Schema, frames: dict[str, Any], name: str = "credit_risk") -> dict[str, Any]:
    """A suite for `schema` from reference batches {path: frame}: ranges, value sets, null rates."""
    import pandas as pd

    if not frames:
        raise PipelineError("expectations init: no reference batches")
    data = pd.concat(list(frames.values()), ignore_index=True)
    for col in schema.columns:
        if col not in data.columns:
            raise PipelineError(f"{next(iter(frames))}: column '{col}': required by the schema, not found")
    exps: list[dict[str, Any]] = [
        _exp("expect_table_row_count_to_be_between", {"min_value": 1}, "critical",
             why="a delivery has at least one row"),
        _exp("expect_table_columns_to_match_set",
             {"column_set": schema.columns, "exact_match": False}, "critical",
             why="every column of the schema is present"),
        _exp("expect_table_columns_to_match_set",
             {"column_set": schema.columns, "exact_match": True}, "warning",
             why="no columns beyond the schema (extra columns are ignored by training)"),
    ]
    if schema.id:
        exps.append(_exp("expect_column_values_to_be_unique", {"column": schema.id}, "critical",
                         why="one row per application"))
    if schema.time:
        exps.append(_exp("expect_column_values_to_be_in_set",
                         {"column": schema.time, "value_set": {"$PARAMETER": PERIOD_PARAMETER}},
                         "warning", why="the period column matches the file name (YYYY-MM.csv)"))
    for col in schema.columns:
        exps.append(_not_null(col, data[col]))
    for col in schema.numeric:
        exps.extend(_numeric(col, data[col], [f[col] for f in frames.values()]))
    for col in schema.categorical:
        values = sorted(data[col].dropna().unique().tolist(), key=str)
        is_open = col in schema.open_categories
        exps.append(_exp("expect_column_values_to_be_in_set", {"column": col, "value_set": values},
                         "warning" if is_open else "critical", open=is_open,
                         why="values seen in the reference data" + (" (open set)" if is_open else "")))
    exps.append(_exp("expect_column_values_to_be_in_set",
                     {"column": schema.target, "value_set": list(schema.classes)}, "critical",
                     role="target", why="class labels of schema.classes"))
    return {
        "name": name,
        "expectations": exps,
        "meta": {
            "generated_by": "python -m pipeline expectations init",
            "generated_from": {Path(p).as_posix(): len(f) for p, f in frames.items()},
            "note": "Review and edit by hand; meta.severity: critical stops the pipeline, warning reports.",
        },
    }


def _exp(type_: str, kwargs: dict[str, Any], severity: str, **meta: Any) -> dict[str, Any]:
    return {"type": type_, "kwargs": kwargs, "meta": {"severity": severity, **meta}}


def _not_null(col: str, values) -> dict[str, Any]:
    rate = float(values.isna().mean())
    if rate == 0:
        return _exp("expect_column_values_to_not_be_null", {"column": col}, "critical",
                    observed_null_share=0.0)
    allowed = min(1.0, 2 * rate + NULL_MARGIN)
    mostly = math.floor((1 - allowed) * 1000) / 1000
    return _exp("expect_column_values_to_not_be_null", {"column": col, "mostly": mostly}, "critical",
                observed_null_share=round(rate, 4))


def _numeric(col: str, values, batches: list) -> list[dict[str, Any]]:
    import pandas as pd

    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return []
    lo, hi = float(values.min()), float(values.max())
    integral = bool((values == values.round()).all())
    span = max(hi - lo, abs(hi) * 0.1, 1.0 if integral else 1e-9)
    low = lo - RANGE_MARGIN * span
    if lo >= 0:
        low = max(low, 0.0)
    high = hi + RANGE_MARGIN * span
    step = _step(span)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    # The distribution check is a median band: GX's column.mean scans every value in Python
    # looking for Decimals (65x the pandas cost at 1M rows); the median is also robust to the
    # handful of extreme values the range rule already reports.
    medians = [float(pd.to_numeric(b, errors="coerce").median()) for b in batches]
    median, sd = float(values.median()), float(values.std() or 0.0)
    k = max(MEDIAN_MARGIN * abs(median), 5 * sd / math.sqrt(MEDIAN_SE_BATCH))
    mstep = _step(k) / 10
    m_lo = math.floor((min(medians) - k) / mstep) * mstep
    m_hi = math.ceil((max(medians) + k) / mstep) * mstep
    if lo >= 0:
        m_lo = max(m_lo, 0.0)
    return [
        _exp("expect_column_values_to_be_in_type_list", {"column": col, "type_list": NUMERIC_TYPES},
             "critical", why="a number in every row"),
        _exp("expect_column_values_to_be_between",
             {"column": col, "min_value": _num(low, integral), "max_value": _num(high, integral)},
             "critical", observed=[_num(lo, integral), _num(hi, integral)]),
        _exp("expect_column_median_to_be_between",
             {"column": col, "min_value": _num(m_lo, False), "max_value": _num(m_hi, False)},
             "warning", observed_batch_medians=[_num(min(medians), False), _num(max(medians), False)]),
    ]


def _step(span: float) -> float:
    """A round number about a tenth of `span`, so bounds read as people would write them."""
    return 10.0 ** math.floor(math.log10(span)) / 10 if span > 0 else 1.0


def _num(x: float, integral: bool) -> int | float:
    return int(round(x)) if integral else float(f"{x:.6g}")


# --- loading, hashing, diffing -----------------------------------------------------------------


def dumps(suite: dict[str, Any]) -> str:
    """The canonical text of a suite file: indented JSON, short lists of scalars on one line."""
    return _format(suite, 0) + "\n"


def _format(value: Any, depth: int, width: int = 100) -> str:
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, dict) and value:
        flat = json.dumps(value, ensure_ascii=False)
        if all(not isinstance(v, dict) for v in value.values()) and len(flat) + len(inner) <= width:
            return flat
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_format(v, depth + 1)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value:
        flat = json.dumps(value, ensure_ascii=False)
        if all(not isinstance(v, (dict, list)) for v in value) and len(flat) + len(inner) <= width:
            return flat
        return "[\n" + ",\n".join(f"{inner}{_format(v, depth + 1)}" for v in value) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def digest(suite: dict[str, Any]) -> str:
    """Content hash of the contract (formatting of the file does not matter)."""
    return hashlib.sha256(json.dumps(suite, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def load(path: str | Path) -> dict[str, Any]:
    """Read a suite file and check what the pipeline relies on: types, kwargs, meta.severity."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path}: suite not found (run `python -m pipeline expectations init`)")
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise PipelineError(f"{path}: expected an object with an 'expectations' list")
    for i, exp in enumerate(suite["expectations"]):
        where = f"{path}: expectation #{i + 1}"
        if not isinstance(exp, dict) or not isinstance(exp.get("type"), str):
            raise PipelineError(f"{where}: needs a 'type'")
        if not isinstance(exp.get("kwargs", {}), dict):
            raise PipelineError(f"{where} ({exp['type']}): 'kwargs' must be an object")
        severity = (exp.get("meta") or {}).get("severity")
        if severity not in SEVERITIES:
            raise PipelineError(
                f"{where} ({exp['type']}): meta.severity is {severity!r}; expected one of {list(SEVERITIES)}"
            )
    return suite


def _key(exp: dict[str, Any]) -> str:
    kw = exp.get("kwargs", {})
    label = exp["type"]
    if "column" in kw:
        label += f" column '{kw['column']}'"
    if "exact_match" in kw:
        label += f" exact_match={kw['exact_match']}"
    return label


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What replacing `old` by `new` would change, one line per expectation (for people)."""

    def index(suite: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for exp in suite.get("expectations", []):
            key, n = _key(exp), 2
            while key in out:
                key, n = f"{_key(exp)} #{n}", n + 1
            out[key] = exp
        return out

    a, b = index(old), index(new)
    lines = [f"- {k}" for k in a if k not in b]
    lines += [f"+ {k}: {_brief(b[k])}" for k in b if k not in a]
    for key in (k for k in a if k in b):
        for part in ("kwargs", "meta"):
            x, y = a[key].get(part) or {}, b[key].get(part) or {}
            for field in sorted(set(x) | set(y)):
                if x.get(field) != y.get(field):
                    lines.append(f"~ {key}: {part}.{field} {_short(x.get(field))} -> {_short(y.get(field))}")
    if old.get("name") != new.get("name"):
        lines.append(f"~ name {old.get('name')!r} -> {new.get('name')!r}")
    return lines


def _brief(exp: dict[str, Any]) -> str:
    kw = {k: v for k, v in exp.get("kwargs", {}).items() if k != "column"}
    return f"{_short(kw)} [{exp.get('meta', {}).get('severity')}]"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False) if value is not None else "(none)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- GX objects ---------------------------------------------------------------------------------


def to_gx(suite: dict[str, Any], name: str | None = None, source: str = "suite"):
    """A GX ExpectationSuite whose native severity follows meta.severity."""
    import great_expectations as gx

    exps = []
    for exp in suite["expectations"]:
        exps.append({"type": exp["type"], "kwargs": dict(exp.get("kwargs") or {}),
                     "meta": dict(exp.get("meta") or {}), "severity": exp["meta"]["severity"]})
    try:
        return gx.ExpectationSuite(name=name or suite.get("name") or "suite", expectations=exps)
    except Exception as exc:  # unknown type, bad kwargs: GX says which
        raise PipelineError(f"{source}: not a valid GX suite ({str(exc).splitlines()[0]})") from None
