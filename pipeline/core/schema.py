"""The dataset schema (target, id, time, features, classes) from params.yaml, and its inference."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError


@dataclass(frozen=True)
class Schema:
    target: str
    classes: tuple[str, ...]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    id: str | None = None
    time: str | None = None
    critical_class: str | None = None
    open_categories: tuple[str, ...] = field(default_factory=tuple)
    # cost of each decision, rows = actual class, columns = predicted, in `classes` order (None: no
    # matrix, no expected cost); read from schema.costs by `costs_matrix`
    costs: tuple[tuple[float, ...], ...] | None = None

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def columns(self) -> list[str]:
        """Every column a labelled batch carries, in a stable order."""
        head = [c for c in (self.id, self.time) if c]
        return [*head, *self.features, self.target]

    def class_index(self, labels) -> Any:
        """Map labels to class indices (models learn integers; names live in the schema)."""
        import numpy as np
        import pandas as pd

        codes = pd.Index(list(self.classes)).get_indexer(labels.astype(str))
        if (codes < 0).any():
            bad = sorted(set(labels.astype(str)[codes < 0]))[:5]
            raise PipelineError(
                f"column '{self.target}': labels {bad} are not in schema.classes {list(self.classes)}"
            )
        return np.asarray(codes, dtype=np.int64)

    def cost_table(self) -> dict[str, dict[str, float]] | None:
        """The cost matrix as params.yaml writes it (actual -> predicted -> cost), for reports."""
        if self.costs is None:
            return None
        return {a: dict(zip(self.classes, row, strict=True)) for a, row in zip(self.classes, self.costs,
                                                                                strict=True)}


def from_params(params: dict[str, Any]) -> Schema:
    s = params.get("schema")
    if not isinstance(s, dict):
        raise PipelineError("params.yaml: missing 'schema' (run `python -m pipeline schema`)")
    try:
        schema = Schema(
            target=str(s["target"]),
            classes=tuple(str(c) for c in s["classes"]),
            numeric=tuple(s.get("numeric") or ()),
            categorical=tuple(s.get("categorical") or ()),
            id=s.get("id"),
            time=s.get("time"),
            critical_class=(str(s["critical_class"]) if s.get("critical_class") is not None else None),
            open_categories=tuple(s.get("open_categories") or ()),
            costs=costs_matrix(s.get("costs"), tuple(str(c) for c in s["classes"])),
        )
    except KeyError as exc:
        raise PipelineError(f"params.yaml: schema.{exc.args[0]} is required") from None
    if len(schema.classes) < 2:
        raise PipelineError("params.yaml: schema.classes needs at least two labels")
    if not schema.features:
        raise PipelineError("params.yaml: schema has no numeric or categorical features")
    if schema.critical_class and schema.critical_class not in schema.classes:
        raise PipelineError(
            f"params.yaml: schema.critical_class '{schema.critical_class}' is not in schema.classes"
        )
    return schema


def costs_matrix(raw: Any, classes: tuple[str, ...]) -> tuple[tuple[float, ...], ...] | None:
    """schema.costs (actual class -> predicted class -> cost) as a matrix in `classes` order.

    Every error must be priced (a forgotten cell would silently cost 0); a right decision costs 0
    (it may be left out); costs are finite and >= 0; some cost is positive (else nothing is weighed)."""
    import math

    if raw is None:
        return None
    key = "params.yaml: schema.costs"
    if not isinstance(raw, dict):
        raise PipelineError(f"{key}: expected a mapping actual class -> {{predicted class: cost}} or null")
    rows = {str(k): v for k, v in raw.items()}
    for actual, row in rows.items():
        unknown = [actual] if actual not in classes else [
            f"{actual}.{p}" for p in (row if isinstance(row, dict) else ()) if str(p) not in classes]
        if unknown:
            raise PipelineError(f"{key}.{unknown[0]}: unknown class (schema.classes: {', '.join(classes)})")
    matrix = []
    for actual in classes:
        row = rows.get(actual)
        if not isinstance(row, dict):
            raise PipelineError(f"{key}.{actual}: " + ("missing" if row is None else
                                                       "expected a mapping predicted class -> cost"))
        row = {str(k): v for k, v in row.items()}
        values = []
        for predicted in classes:
            cell = f"{key}.{actual}.{predicted}"
            value = row.get(predicted, 0 if predicted == actual else None)
            if value is None:
                raise PipelineError(f"{cell}: missing (every wrong decision needs a cost)")
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise PipelineError(f"{cell}: expected a finite number, got {value!r}")
            if value < 0:
                raise PipelineError(f"{cell}: {value} is negative (a cost is >= 0)")
            if predicted == actual and value != 0:
                raise PipelineError(f"{cell}: {value} on the diagonal (a right decision costs 0)")
            values.append(float(value))
        matrix.append(tuple(values))
    if not any(any(row) for row in matrix):
        raise PipelineError(f"{key}: every cost is 0 (nothing to weigh)")
    return tuple(matrix)


def infer(
    files: list[Path],
    target: str,
    id_col: str | None = None,
    time_col: str | None = None,
    max_categories: int = 20,
) -> dict[str, Any]:
    """Infer a schema block from data: numbers are numeric unless they are few distinct integers."""
    import pandas as pd

    from pipeline.core.files import read_table

    frame = pd.concat([read_table(f) for f in files], ignore_index=True)
    if target not in frame.columns:
        raise PipelineError(f"{files[0]}: column '{target}': target column not found")
    for name, col in (("--id", id_col), ("--time", time_col)):
        if col and col not in frame.columns:
            raise PipelineError(f"{files[0]}: column '{col}': {name} column not found")
    numeric, categorical = [], []
    for col in frame.columns:
        if col in (target, id_col, time_col):
            continue
        values = frame[col]
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            categorical.append(col)
        else:
            numeric.append(col)
    labels = frame[target].dropna().astype(str)
    if labels.nunique() > max_categories:
        raise PipelineError(
            f"{files[0]}: column '{target}': {labels.nunique()} distinct values; "
            "a classification target needs few classes"
        )
    counts = labels.value_counts()
    classes = sorted(counts.index, key=_natural_key)
    return {
        "target": target,
        "id": id_col,
        "time": time_col,
        "classes": classes,
        "critical_class": str(counts.idxmin()),
        "numeric": numeric,
        "categorical": categorical,
        "open_categories": [],
        "costs": None,  # a cost matrix to fill in (README "The cost of errors")
        "class_counts": {str(k): int(v) for k, v in counts.items()},
    }


# a binary target whose smaller class is below this share is judged by ranking, not accuracy
IMBALANCED_SHARE = 0.2


def primary_metric(counts: dict[str, int]) -> tuple[str, str]:
    """The metric a target should be judged by, and why (printed by `schema`, written to params)."""
    total = sum(counts.values())
    share = min(counts.values()) / total if total else 0.0
    if len(counts) == 2 and share < IMBALANCED_SHARE:
        return "roc_auc", (f"binary target with {share:.1%} in its smaller class: predicting the majority "
                           f"for everyone already scores {1 - share:.1%} accuracy, so models are judged by "
                           "ranking (ROC-AUC; Gini and KS in the report)")
    return "accuracy", (f"{len(counts)} classes, the smallest {share:.1%} of rows: accuracy is meaningful "
                        "(the gate and report also show balanced accuracy, F1 and ROC-AUC)")


def _natural_key(label: str) -> tuple:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def write_params(params_path: Path, data_dir: Path, target: str, id_col: str | None, time_col: str | None,
                 max_categories: int) -> tuple[dict[str, Any], str, str]:
    """Infer the schema of the batches in `data_dir` and write it into params.yaml (schema block,
    data.batches_dir and pattern, train.primary_metric), keeping every other line; returns the
    schema block, the primary metric and why."""
    from pipeline import params as P
    from pipeline.core.files import batch_files, write_text

    files = batch_files(data_dir, "*")  # CSV and Parquet alike
    block = infer(files, target, id_col, time_col, max_categories)
    metric, reason = primary_metric(block.pop("class_counts"))
    text = params_path.read_text(encoding="utf-8") if params_path.exists() else ""
    text = P.replace_block(text, "schema", block)
    data = P.load(params_path) if params_path.exists() else {}
    data_block = dict(data.get("data") or {})
    data_block["batches_dir"] = data_dir.as_posix()
    suffixes = {f.suffix.lower() for f in files}
    data_block["pattern"] = f"*{suffixes.pop()}" if len(suffixes) == 1 else "*"
    text = P.replace_block(text, "data", data_block)
    write_text(params_path, P.replace_block(text, "train", {**(data.get("train") or {}),
                                                            "primary_metric": metric}))
    return block, metric, reason
