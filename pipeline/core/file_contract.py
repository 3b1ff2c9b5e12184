"""The file-level data contract: a batch is readable before any expectation runs.

CSV: comma-separated UTF-8, a header row, unique names, whole rows. Parquet: a readable footer,
unique names, rows, numeric schema columns stored as numbers. A problem here stops the batch with one
line naming the file, the column and the rule (a `Finding`), the same line validate, predict and
`expectations init` show. Row numbers are file lines as a spreadsheet shows them: the header is
row 1, the first data row 2.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core.schema import Schema
from pipeline.errors import PipelineError

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


def critical(check: str, rule: str, column: str | None = None, **kw: Any) -> Finding:
    return Finding(check=check, severity="critical", success=False, column=column, rule=rule, **kw)


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
        return None, [critical("file_exists", "file not found")]
    if path.suffix.lower() == ".parquet":
        return _inspect_parquet(path, schema, limit_rows)
    data = path.read_bytes()
    if not data.strip():
        return None, [critical("file_not_empty",
                                "file is empty (the contract is comma-separated UTF-8 with a header row)")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, [critical("file_utf8", f"not valid UTF-8 at row {line}, byte {exc.start} "
                                f"({exc.reason}; re-export the file as UTF-8)")]
    header_line = text.split("\n", 1)[0].rstrip("\r")
    header = next(csv.reader([header_line]), [])
    if len(header) <= 1:
        found = [name for sep, name in OTHER_DELIMITERS.items() if sep in header_line]
        if found:
            return None, [critical("file_delimiter", f"wrong delimiter: the header is separated by "
                                    f"{found[0]}s (the contract is comma-separated)")]
    seen: dict[str, int] = {}
    for name in header:
        seen[name] = seen.get(name, 0) + 1
    dupes = [name for name, n in seen.items() if n > 1]
    if dupes:
        return None, [critical("columns_unique", f"duplicated column name ({seen[dupes[0]]} times "
                                "in the header)", column=dupes[0])]
    body = text.split("\n", 1)[1] if "\n" in text else ""
    if not body.strip():
        return None, [critical("table_has_rows", "header only, no data rows")]
    try:
        frame = read_csv(path)
    except PipelineError as exc:
        bad = _ragged_row(text, len(header))
        if bad:
            row, n = bad
            return None, [critical("file_rows_complete", f"row {row} has {n} fields, the header has "
                                    f"{len(header)} (truncated file or a stray delimiter)")]
        return None, [critical("file_parses", str(exc).split(": ", 1)[-1])]
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
        return None, [critical("file_not_empty", f"file is empty (the contract is {PARQUET_CONTRACT})")]
    try:
        handle = pq.ParquetFile(path)
        meta, rows = handle.schema_arrow, handle.metadata.num_rows
    except Exception as exc:  # ArrowInvalid: no magic bytes, truncated footer
        return None, [critical("file_parquet", f"not a readable Parquet file ({str(exc).splitlines()[0]}; "
                                "re-export it, or give CSV files a .csv name)")]
    seen: dict[str, int] = {}
    for name in meta.names:
        seen[name] = seen.get(name, 0) + 1
    dupes = [name for name, n in seen.items() if n > 1]
    if dupes:
        return None, [critical("columns_unique", f"duplicated column name ({seen[dupes[0]]} times in "
                                "the Parquet schema)", column=dupes[0])]
    if rows == 0:
        return None, [critical("table_has_rows", "no data rows (the Parquet file has a schema only)")]
    for col in (schema.numeric if schema is not None else []):
        if col in seen:
            kind = meta.field(col).type
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
                    or pa.types.is_null(kind)):
                return None, [critical("column_type", f"stored as {kind} in the Parquet schema, the "
                                        "contract says numeric (write numbers as numbers)", column=col)]
    if limit_rows is not None and rows > limit_rows:
        from pipeline.core.columns import ParquetColumns

        return ParquetColumns([path]), []
    try:
        frame = read_parquet(path)
    except PipelineError as exc:  # a corrupt page or a truncated row group
        return None, [critical("file_parses", str(exc).split(": ", 1)[-1])]
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
