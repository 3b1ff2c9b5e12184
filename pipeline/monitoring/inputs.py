"""What the monitor scores against, read as the model's card recorded it.

The training window (the reference for data drift), the rows the model held out (the calibration
of the label-free estimate and the start of the ADWIN stream) and the batches that arrived after
the window. A window file is used only with the bytes the card hashed: the work tree's copy when it
still matches, else the file at the model's commit (git or DVC).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.core import model_card
from pipeline.errors import PipelineError


def read_verified(entry: dict[str, Any], commit: str):
    """A training-window file as the card recorded it: the work tree's copy if its sha256 matches,
    else the bytes at the model's commit (git or DVC); None when neither is available."""
    import io

    import pandas as pd

    from pipeline.core.files import read_table, sha256
    from pipeline.core.revision import read_bytes

    path = Path(entry["path"])
    if path.exists() and sha256(path) == entry.get("sha256"):
        return read_table(path)
    data = read_bytes(entry["path"], commit)
    if data is None:
        return None
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(io.BytesIO(data))
    return pd.read_csv(io.BytesIO(data), engine="pyarrow")


def streamed_reference(entries: list[dict[str, Any]], drift_cfg: dict[str, Any]):
    """A training window of Parquet files over drift.in_memory_rows, unchanged in the work tree:
    its columns streamed (pipeline.core.columns) instead of one frame; None otherwise."""
    from pipeline.core import columns
    from pipeline.core.files import sha256
    from pipeline.stages import drift

    paths = [Path(e["path"]) for e in entries]
    if not columns.streamable(paths, int(drift.settings(drift_cfg)["in_memory_rows"])):
        return None
    if any(sha256(p) != e.get("sha256") for p, e in zip(paths, entries, strict=True)):
        return None  # changed since training: the verified bytes come from git or DVC, in memory
    return columns.ParquetColumns(paths)


def training_reference(card: dict[str, Any], commit: str, drift_cfg: dict[str, Any]):
    """The training window, streamed or in one frame; None when its files are neither in the work
    tree nor at the model's commit (then drift is not checked)."""
    import pandas as pd

    entries = model_card.window_files(card)
    reference = streamed_reference(entries, drift_cfg)
    if reference is not None:
        return reference
    frames = [read_verified(f, commit) for f in entries]
    if frames and all(f is not None for f in frames):
        return pd.concat(frames, ignore_index=True)
    return None


def select_batches(params: dict[str, Any], card: dict[str, Any], explicit: list[str] | None) -> list[Path]:
    """Batches to score: those given, else every batch newer than the newest training batch."""
    from pipeline.core.files import batch_files

    if explicit:
        paths = [Path(p) for p in explicit]
        for p in paths:
            if not p.exists():
                raise PipelineError(f"{p}: batch file not found (--batches)")
        return sorted(paths, key=lambda p: p.stem)
    newest = max(Path(f["path"]).stem for f in model_card.window_files(card))
    return [p for p in batch_files(P.section(params, "data", "batches_dir"),
                                   P.section(params, "data", "pattern"))
            if p.stem > newest]


def read_batch(path: Path, schema):
    """One period's batch, with every feature the schema names (fail closed on the first missing)."""
    from pipeline.core.files import read_table

    frame = read_table(path)
    missing = [c for c in schema.features if c not in frame.columns]
    if missing:
        raise PipelineError(f"{path}: column '{missing[0]}': required by the schema, not found "
                            f"({len(missing)} missing in all)")
    return frame


def holdout(card: dict[str, Any], commit: str, schema):
    """Every row the model held out (its validation and test splits, from the bit masks in its card),
    or, for a card without masks, its test holdout rebuilt as `prepare` split it; and whether the
    rows are exactly known (masks) or rebuilt (to be checked against the card's test score)."""
    import pandas as pd

    from pipeline.stages.prepare import split, unpack_rows

    files = model_card.window_files(card)
    if files and all(f.get("splits") and f.get("file_rows") for f in files):
        parts = []
        for entry in files:
            held = ~unpack_rows(entry["splits"]["train"], entry["file_rows"])
            if not held.any():
                continue
            frame = read_verified(entry, commit)
            if frame is None or len(frame) != entry["file_rows"]:
                return None, False
            parts.append(frame[held].dropna(subset=[schema.target]))
        return (pd.concat(parts, ignore_index=True) if parts else None), True
    split_cfg = (card.get("params") or {}).get("split")
    seed = model_card.seed(card)
    if not files or not split_cfg or seed is None:
        return None, False
    newest = max(files, key=lambda f: Path(f["path"]).stem)
    frame = read_verified(newest, commit)
    if frame is None:
        return None, False
    frame = frame.dropna(subset=[schema.target])
    _, _, test = split([frame], schema, split_cfg, int(seed))
    return test, False


def holdout_calibration(card: dict[str, Any], model, commit: str, schema) -> dict[str, Any]:
    """The held-out rows scored by the model: `calibration` (y, proba) for the label-free estimate,
    `correct` (per row) to start the ADWIN stream, `rows` (the frame, when exactly known) as the
    reference predictions for prediction drift, and `exact`. All None when unavailable, or when a
    rebuilt holdout does not give the card's own test accuracy (then it is not the same rows)."""
    from pipeline.stages.evaluate import predict_proba

    hold, exact = holdout(card, commit, schema)
    out: dict[str, Any] = {"calibration": None, "correct": None, "rows": None, "exact": exact}
    if hold is None or not len(hold):
        return out
    hp = predict_proba(model, hold, schema)
    hy = schema.class_index(hold[schema.target])
    correct = hp.argmax(axis=1) == hy
    expected = model_card.test_metrics(card).get("accuracy")
    same = expected is None or abs(float(correct.mean()) - expected) < 1e-5
    if exact or same:
        out |= {"calibration": (hy, hp), "correct": correct, "rows": hold if exact else None}
    return out
