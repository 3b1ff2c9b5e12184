"""Parquet datasets larger than memory, one column at a time: the input layer of validation, drift
and monitoring.

Every drift statistic is per column, so the statistics never need more than one column of both sides:
`ParquetColumns(files)[name]` reads that column from every file with pyarrow's dataset scanner
(projection: only that column's pages are read; row group by row group, straight into one float64
array for a number, or counts per category for a category). Peak memory is one numeric column of
both sides plus what the exact statistics need to sort it (stats.numeric), whatever the width of the
table; `benchmarks/memory.py` measures it.

Why pyarrow datasets rather than DuckDB or Dask: the statistics stay the ones in pipeline.core.stats
(one implementation, equal to scipy), fed the same float64 values in the same order as the in-memory
path, so streamed and in-memory results are the same numbers; DuckDB would need the KS, Mann–Whitney
and Wasserstein passes rewritten in SQL (a second implementation to keep equal to scipy), and Dask
would need a distributed sort for them. pyarrow is already a dependency (it reads every batch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError


class ParquetColumns:
    """Read-only mapping column name → values over several Parquet files (in file order)."""

    def __init__(self, paths: list[Path]) -> None:
        import pyarrow.dataset as ds

        for path in paths:
            _check_readable(path)
        self.paths = list(paths)
        self._dataset = ds.dataset([str(p) for p in paths], format="parquet")
        self.schema = self._dataset.schema
        self.columns = list(self.schema.names)
        self._rows = sum(f.count_rows() for f in self._dataset.get_fragments())

    def __len__(self) -> int:
        return self._rows

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def is_numeric(self, name: str) -> bool:
        import pyarrow as pa

        kind = self.schema.field(name).type
        return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind) \
            or pa.types.is_null(kind)

    def __getitem__(self, name: str):
        """A numeric column as float64 (nulls as NaN); any other as a CategoryCounts."""
        if name not in self.columns:
            raise PipelineError(f"{self.paths[0]}: column '{name}': not found")
        if self.is_numeric(name):
            return self.numbers(name)
        return CategoryCounts(self.batches(name))

    def frame(self, names: list[str]):
        """These columns as one pandas frame, with the in-memory reader's dtypes, in file order.
        No names: every column name and the row count at one byte a cell (table-level checks)."""
        import numpy as np
        import pandas as pd

        if not names:
            return pd.DataFrame({c: np.zeros(self._rows, dtype=bool) for c in self.columns})
        parts = [pd.read_parquet(p, columns=names) for p in self.paths]
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    def batches(self, name: str):
        """The column's record batches, row group by row group."""
        return (b.column(0) for b in self._dataset.to_batches(columns=[name]))

    def numbers(self, name: str):
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        out = np.empty(self._rows, dtype=np.float64)
        at = 0
        for chunk in self.batches(name):
            chunk = pc.cast(chunk, pa.float64())
            out[at:at + len(chunk)] = chunk.to_numpy(zero_copy_only=False)  # nulls become NaN
            at += len(chunk)
        return out


class CategoryCounts:
    """Counts per category of a streamed column, as stats.category_counts gives them."""

    def __init__(self, chunks) -> None:
        import pyarrow.compute as pc

        from pipeline.core.stats import MISSING

        counts: dict[str, int] = {}
        for chunk in chunks:
            for item in pc.value_counts(chunk).to_pylist():
                key = MISSING if item["values"] is None else str(item["values"])
                counts[key] = counts.get(key, 0) + int(item["counts"])
        self.counts = counts


def _check_readable(path: Path) -> None:
    import pyarrow.parquet as pq

    from pipeline.core.files import PARQUET_CONTRACT, require_file

    require_file(path, PARQUET_CONTRACT)
    try:
        pq.ParquetFile(path)
    except Exception as exc:
        raise PipelineError(f"{path}: cannot be read as Parquet ({str(exc).splitlines()[0]})") from None


def streamable(paths: list[Path], limit_rows: int) -> bool:
    """Stream when every file is Parquet and together they hold more than `limit_rows` rows."""
    import pyarrow.parquet as pq

    if not paths or any(p.suffix.lower() != ".parquet" or not p.exists() for p in paths):
        return False
    try:
        return sum(pq.ParquetFile(p).metadata.num_rows for p in paths) > limit_rows
    except Exception:  # unreadable: the in-memory reader gives the one-line error
        return False


def numeric_types_error(source: Any, numeric: list[str]) -> str | None:
    """The in-memory reader's 'text in a numeric column' error, from the Parquet schema."""
    for col in numeric:
        if col in source and not source.is_numeric(col):
            return (f"{source.paths[0]}: column '{col}': expected numbers (a numeric feature), found "
                    f"{source.schema.field(col).type} in the Parquet schema")
    return None
