"""Stage `drift`: the newest batch (current) against the batches the production model was trained on.

The reference is read from the model card of the production model (params drift.production_rev:
`prod` = the registry's stage, or a git revision). That model is registry state, not a DVC
dependency: after a promotion changes it, `dvc repro -f drift`. Without it (no model yet, a card
naming missing files), the training window minus the newest batch, and the report says why.
Two files: `python -m pipeline drift --reference REF --current CUR -o drift.json [--model M]`
(CSV or Parquet). The analysis itself lives in pipeline.drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.config import DRIFT, DRIFT_FIGURES, DRIFT_PLOT_DATA
from pipeline.core.schema import Schema
from pipeline.drift.data import KNOBS, data_drift, settings, significant, text_sample
from pipeline.drift.figures import write_figures
from pipeline.drift.model import concept_drift, prediction_drift
from pipeline.errors import PipelineError, UnfetchableError


def choose_reference(params: dict[str, Any], files: list[Path], rev: str):
    """The production model's training batches (minus the current one), or a fallback that says why."""
    from pipeline.core.revision import production
    from pipeline.core.splits import window
    from pipeline.gitops.registry import production_ref

    current = files[-1]
    ref = production_ref(params, rev)
    info: dict[str, Any] = {"production_rev": rev, "resolved": ref.rev}
    if ref.note:
        info["note"] = ref.note
    rev = ref.rev
    prod, reason = None, None
    try:
        prod = production(rev)
        if prod is None:
            reason = f"revision '{rev}' has no production model yet"
    except UnfetchableError:
        raise  # the revision names a model we cannot see: stop, never fall back (fail closed)
    except PipelineError as exc:
        reason = str(exc)
    listed: list[Path] = []
    if prod is not None:
        info["commit"] = prod.commit
        entries = (prod.card.get("data") or {}).get("files") or []
        listed = [Path(e["path"]) for e in entries if isinstance(e, dict) and e.get("path")]
        missing = [p.as_posix() for p in listed if not p.exists()]
        listed = [p for p in listed if p.resolve() != current.resolve()]
        if missing:
            reason = f"the model card of {rev} lists files missing here: {', '.join(missing)}"
        elif not listed:
            reason = f"the model card of {rev} lists no training batch other than the current one"
        else:
            from pipeline.core.files import sha256

            changed = [e["path"] for e in entries if isinstance(e, dict) and e.get("sha256")
                       and Path(e["path"]).exists() and sha256(e["path"]) != e["sha256"]]
            info.update(source=f"training window of the production model ({rev} @ {prod.commit[:10]})",
                        fallback=False)
            if changed:
                info["changed_since_training"] = changed
            return listed, current, info, prod
    window_files = [f for f in window(files, P.section(params, "window")) if f != current]
    info.update(source=f"fallback: every batch in the training window except the newest ({reason})",
                fallback=True, reason=reason)
    return window_files, current, info, prod


def _ordered(result: dict[str, Any]) -> dict[str, Any]:
    """The verdict and provenance first, the per-feature detail last: drift.json reads top down."""
    head = ["share_drifted", "recommendation", "n_drifted", "n_features", "drifted_features",
            "reference", "current", "columns", "prediction_drift", "concept_drift", "thresholds"]
    out = {k: result[k] for k in head if k in result}
    return out | {k: v for k, v in result.items() if k not in out}


def held_out_rows(files: list[Path], lengths: list[int], card: dict[str, Any]):
    """Mask of the concatenated `files` rows the model held out (its validation and test rows, from
    the split bit masks in its card), and a note; None when the card records none of them."""
    import numpy as np

    from pipeline.core.files import sha256
    from pipeline.core.splits import unpack_rows

    entries = {Path(e.get("path", "")).as_posix(): e for e in (card.get("data") or {}).get("files") or []}
    parts = []
    for path, n in zip(files, lengths, strict=True):
        entry = entries.get(path.as_posix()) or {}
        splits = entry.get("splits")
        if not splits or entry.get("file_rows") != n or entry.get("sha256") != sha256(path):
            parts.append(np.zeros(n, dtype=bool))
            continue
        parts.append(~unpack_rows(splits["train"], n))
    keep = np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
    if not keep.any():
        return None, {"rows": int(sum(lengths)), "source": "training rows: the model card records no "
                      "held-out rows in the reference batches (a forest's outputs on them look sharper)"}
    return keep, {"rows": int(keep.sum()), "source": "the reference rows the model held out "
                  "(validation and test splits in its card), not its training rows"}


def read_batches(paths: list[Path], schema_columns: list[str] | None = None, numeric: list[str] | None = None,
                 lengths: list[int] | None = None, limit_rows: int | None = None):
    """Read batches; schema columns must be there, numeric ones must hold numbers (named if not).
    `lengths`, when given, receives each file's row count (in order).

    Parquet batches with more than `limit_rows` rows together are not read: their columns are
    streamed one at a time while the statistics need them (pipeline.core.columns)."""
    import pandas as pd

    from pipeline.core import columns
    from pipeline.core.files import read_table

    if limit_rows is not None and columns.streamable(paths, limit_rows):
        source = columns.ParquetColumns(paths)
        for col in schema_columns or []:
            if col not in source:
                raise PipelineError(f"{paths[0]}: column '{col}': required by the schema, not found")
        error = columns.numeric_types_error(source, numeric or [])
        if error:
            raise PipelineError(error)
        return source
    frames = []
    for path in paths:
        frame = read_table(path)
        for col in schema_columns or []:
            if col not in frame.columns:
                raise PipelineError(f"{path}: column '{col}': required by the schema, not found")
        _check_numeric(path, frame, numeric or [])
        frames.append(frame)
        if lengths is not None:
            lengths.append(len(frame))
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _check_numeric(path, frame, numeric: list[str]) -> None:
    """Text in a numeric column: one line naming the file, the column and the rule."""
    import pandas as pd

    from pipeline.core.columns import ParquetColumns, numeric_types_error

    if isinstance(frame, ParquetColumns):  # types from the Parquet schema, no column read
        error = numeric_types_error(frame, numeric)
        if error:
            raise PipelineError(error)
        return
    for col in numeric:
        if col in frame.columns and not (pd.api.types.is_numeric_dtype(frame[col])
                                         or frame[col].isna().all()):
            raise PipelineError(f"{path}: column '{col}': expected numbers (a numeric feature), "
                                f"found text such as {text_sample(frame[col])}")


def model_settings(params: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """Concept-drift settings: the metric defaults to train.primary_metric; the seed to params.seed."""
    cfg = settings(cfg, *KNOBS, "concept")
    if not cfg["concept"].get("metric"):
        cfg["concept"]["metric"] = (params.get("train") or {}).get("primary_metric", "accuracy")
    cfg["seed"] = int(params.get("seed", 0) or 0)
    return cfg


def analyse(reference, current, schema: Schema | None, numeric: list[str], categorical: list[str],
            cfg: dict[str, Any], model=None, reference_performance=None, model_reason: str = "",
            held_out=None) -> dict:
    """Data drift, then prediction and concept drift when a model (and labels) are at hand.

    `held_out`: the reference rows the model never trained on, for its reference predictions (a
    forest's outputs on its own training rows are overconfident, so every month would "drift")."""
    from pipeline.core.columns import ParquetColumns

    result = data_drift(reference, current, numeric, categorical, cfg)
    streamed = isinstance(reference, ParquetColumns) or isinstance(current, ParquetColumns)
    if streamed:
        model, model_reason = None, (f"more rows than drift.in_memory_rows ({cfg['in_memory_rows']}): "
                                     "the columns were streamed, the model needs whole rows")
    if model is not None and schema is not None:
        result["prediction_drift"] = prediction_drift(
            model, reference if held_out is None else held_out, current, schema, cfg)
        result["concept_drift"] = concept_drift(model, reference, current, schema, cfg,
                                                reference_performance)
    else:
        reason = model_reason or "no model"
        result["prediction_drift"] = {"reason": reason}
        result["concept_drift"] = {"available": False, "reason": reason}
    return result


def run_stage(params: dict[str, Any], output: Path = DRIFT) -> dict[str, Any]:
    from pipeline.core.files import batch_files, write_json
    from pipeline.core.schema import from_params

    schema = from_params(params)
    cfg = model_settings(params, P.section(params, "drift"))
    data_cfg = P.section(params, "data")
    files = batch_files(data_cfg["batches_dir"], data_cfg.get("pattern", "*.csv"))
    ref_files, current_file, info, prod = choose_reference(params, files, str(cfg["production_rev"]))
    base = {"reference": {**info, "files": [f.as_posix() for f in ref_files]},
            "current": {"file": current_file.as_posix(), "name": current_file.name}}
    if not ref_files:
        result = {**base, "skipped": "only one batch: nothing to compare the newest batch with",
                  "features": {}, "n_features": 0, "n_drifted": 0, "drifted_features": [],
                  "share_drifted": 0.0, "recommendation": "keep",
                  "prediction_drift": {"reason": "no reference"},
                  "concept_drift": {"available": False, "reason": "no reference"}}
        write_figures(result, None, None, DRIFT_FIGURES, DRIFT_PLOT_DATA)
        write_json(output, significant(result))
        return result
    needed, limit = [*schema.features], int(cfg["in_memory_rows"])
    lengths: list[int] = []
    reference = read_batches(ref_files, needed, list(schema.numeric), lengths, limit)
    current = read_batches([current_file], needed, list(schema.numeric), limit_rows=limit)
    card_metrics, held_out = None, None
    if prod is not None:
        card_metrics = ((prod.card.get("metrics") or {}).get("test")) or None
        if card_metrics and (prod.card.get("schema") or {}).get("costs") != schema.cost_table():
            # its expected cost was priced by another matrix: not comparable with today's
            card_metrics = {k: v for k, v in card_metrics.items() if k != "expected_cost"}
        if lengths:  # read in memory (a streamed reference gets no model outputs: see analyse)
            keep, base["reference"]["predictions"] = held_out_rows(ref_files, lengths, prod.card)
            held_out = reference[keep] if keep is not None else None
    result = analyse(reference, current, schema, list(schema.numeric), list(schema.categorical), cfg,
                     model=prod.model if prod is not None else None,
                     reference_performance=card_metrics,
                     model_reason=f"no production model at '{cfg['production_rev']}'", held_out=held_out)
    base["reference"].update(rows=len(reference), name=f"{len(ref_files)} batch(es)")
    base["current"]["rows"] = len(current)
    result = _ordered({**result, **base})
    write_figures(result, reference, current, DRIFT_FIGURES, DRIFT_PLOT_DATA)
    write_json(output, significant(result))
    return result


def infer_columns(reference, current, exclude: set[str]) -> tuple[list[str], list[str], list[str]]:
    """Numeric when both sides parse as numbers; categorical otherwise; identifier-like text skipped."""
    import pandas as pd

    from pipeline.core.columns import ParquetColumns

    numeric, categorical, skipped = [], [], []
    for col in reference.columns:
        if col not in current.columns or col in exclude:
            continue
        if isinstance(reference, ParquetColumns) or isinstance(current, ParquetColumns):
            # streamed: the Parquet types decide (no distinct count, so no identifier skipping)
            both = all(s.is_numeric(col) if isinstance(s, ParquetColumns) else
                       pd.api.types.is_numeric_dtype(s[col]) for s in (reference, current))
            (numeric if both else categorical).append(col)
            continue
        a, b = reference[col], current[col]
        if all(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) for s in (a, b)):
            numeric.append(col)
            continue
        distinct = a.nunique(dropna=True)
        if distinct > 50 and distinct > 0.5 * a.notna().sum():
            skipped.append(col)  # ids, free text: every value new, nothing to compare
        else:
            categorical.append(col)
    return numeric, categorical, skipped


def run_files(params_path: str, reference_path: str, current_path: str, output: str,
              model_path: str | None = None, figures: str | None = None) -> dict[str, Any]:
    from pipeline.core.files import load_model, write_json
    from pipeline.core.schema import from_params

    params = P.load(params_path)  # the thresholds live there, whatever the files' columns
    cfg = model_settings(params, P.section(params, "drift"))
    limit = int(cfg["in_memory_rows"])
    reference = read_batches([Path(reference_path)], limit_rows=limit)
    current = read_batches([Path(current_path)], limit_rows=limit)
    schema = None
    if "schema" in params:
        try:
            candidate = from_params(params)
            if all(c in reference.columns and c in current.columns for c in candidate.features):
                schema = candidate
        except PipelineError:
            schema = None
    if schema is not None:
        numeric, categorical, skipped = list(schema.numeric), list(schema.categorical), []
        source = "schema from params.yaml"
        _check_numeric(reference_path, reference, numeric)
        _check_numeric(current_path, current, numeric)
    else:
        numeric, categorical, skipped = infer_columns(reference, current, set())
        source = "inferred from the files (their columns do not match params.yaml's schema)"
    if not numeric and not categorical:
        raise PipelineError(f"{reference_path}, {current_path}: no common columns to compare")
    model, reason = None, "no --model given"
    if model_path:
        if schema is None:
            raise PipelineError(f"--model {model_path}: needs the files to match params.yaml's schema "
                                "(the model's features)")
        model = load_model(model_path)
    result = analyse(reference, current, schema, numeric, categorical, cfg, model=model,
                     model_reason=reason)
    result["reference"] = {"file": reference_path, "name": Path(reference_path).name,
                           "rows": len(reference), "source": "--reference"}
    result["current"] = {"file": current_path, "name": Path(current_path).name, "rows": len(current)}
    result["columns"] = {"source": source, "skipped": skipped}
    result = _ordered(result)
    if figures:
        write_figures(result, reference, current, Path(figures))
    write_json(output, significant(result))
    return result


