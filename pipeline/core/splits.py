"""Which rows a model learns from and which it never saw: the training window, the seeded stratified
split (prepare makes it; monitoring repeats it on fresh data), and the per-file row masks a model card
records so that later judges (drift, compare, warm start, monitoring) leave out rows it learned from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.core.schema import Schema
from pipeline.errors import PipelineError

BATCH, ROW = "__batch__", "__row__"  # every prepared row: its batch file (stem) and line in it (0-based)
STRATEGIES = ("combine", "replace", "new_only")


def window(files: list[Path], cfg: dict[str, Any]) -> list[Path]:
    """The batches a model learns from, as the original system's combine / replace / new-only."""
    strategy = cfg.get("strategy", "combine")
    if strategy == "combine":
        keep = int(cfg.get("max_batches") or 0)
        return files[-keep:] if keep else files
    if strategy == "replace":
        return files[-int(cfg.get("replace_batches", 3)):]
    if strategy == "new_only":
        return files[-1:]
    raise PipelineError(f"params.yaml: window.strategy '{strategy}': expected one of {STRATEGIES}")


def split(frames: list, schema: Schema, cfg: dict[str, Any], seed: int, fresh=frozenset()):
    """Stratified, seeded, all held-out rows from the newest batch: the test set (which no candidate
    sees) and the validation set (early stopping and model selection) are both drawn from it, so
    selection optimises for the present, not for the months that dominate the window; every older
    batch trains. An older batch in `fresh` (stems of batches the champion never trained on) also
    gives `test_size` of its rows to the test set: rows neither model learned from, so the gate
    judges on more evidence."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    *older, newest = frames
    kept, held = [], []
    for frame in older:
        if fresh and len(frame) >= 2 and str(frame[BATCH].iloc[0]) in fresh:
            frame, out = train_test_split(frame, test_size=cfg["test_size"], random_state=seed,
                                          stratify=strata(frame, schema))
            held.append(out)
        kept.append(frame)
    rest, test = train_test_split(
        newest, test_size=cfg["test_size"], random_state=seed, stratify=strata(newest, schema)
    )
    fit, val = train_test_split(
        rest, test_size=cfg["val_size"], random_state=seed, stratify=strata(rest, schema)
    )
    return pd.concat([*kept, fit], ignore_index=True), val, pd.concat([*held, test], ignore_index=True)


def row_masks(frames: dict[str, Any], batch: str, n_rows: int) -> dict[str, str]:
    """Which rows of one batch file each split holds, as packed bit masks (see `pack_rows`)."""
    return {name: pack_rows(frame.loc[frame[BATCH] == batch, ROW].to_numpy(), n_rows)
            for name, frame in frames.items()}


def pack_rows(positions: Any, n_rows: int) -> str:
    """Row positions of a file as a base64 bit mask: 5,000 rows take 836 characters in the card."""
    import base64

    import numpy as np

    mask = np.zeros(n_rows, dtype=bool)
    mask[np.asarray(positions, dtype=np.int64)] = True
    return base64.b64encode(np.packbits(mask).tobytes()).decode("ascii")


def unpack_rows(text: str, n_rows: int):
    """The boolean mask `pack_rows` wrote."""
    import base64

    import numpy as np

    bits = np.unpackbits(np.frombuffer(base64.b64decode(text), dtype=np.uint8))
    return bits[:n_rows].astype(bool)


def unseen_rows(frame, card: dict[str, Any] | None, current: dict[str, str], source: Path,
                who: str = "the champion") -> tuple[Any, dict[str, Any]]:
    """The rows of a prepared frame (`source`) that a model (its card) never learned from, and why
    the others were left out.

    The card records, per batch file, the rows its training and validation splits took (the bit
    masks below). A row the model trained or early-stopped on would flatter it (a forest scores
    1.000 on its own training rows), so it is left out. A batch the card names without masks, or
    whose bytes (`current`: batch stem -> sha256 of the file the rows come from) changed since, is
    left out whole."""
    import numpy as np

    if BATCH not in frame.columns or ROW not in frame.columns:
        raise PipelineError(f"{source}: columns '{BATCH}'/'{ROW}' missing: prepared by an older "
                            "version, run `dvc repro` first")
    batches, rows = frame[BATCH].astype(str).to_numpy(), frame[ROW].to_numpy(dtype=np.int64)
    keep = np.ones(len(frame), dtype=bool)
    excluded: dict[str, int] = {}
    files = {Path(f.get("path", "")).stem: f for f in ((card or {}).get("data") or {}).get(
        "files") or []}
    for batch in sorted(set(batches)):
        here = batches == batch
        entry = files.get(batch)
        if entry is None:
            continue  # a batch new to the model: every row counts
        splits = entry.get("splits")
        if entry.get("sha256") != current.get(batch):
            reason = f"batches whose file changed since {who} trained on it"
            hit = here
        elif not splits or "file_rows" not in entry:
            reason = f"batches {who} trained on whose card does not record which rows"
            hit = here
        else:
            learned = unpack_rows(splits["train"], entry["file_rows"]) | unpack_rows(
                splits["val"], entry["file_rows"])
            inside = rows < entry["file_rows"]
            hit = here & ~inside
            hit[here & inside] = learned[rows[here & inside]]
            reason = f"rows in {who}'s training or validation split"
        keep &= ~hit
        if hit.any():
            excluded[reason] = excluded.get(reason, 0) + int(hit.sum())
    used = {b: int((keep & (batches == b)).sum()) for b in sorted(set(batches))}
    info = {"rows": int(keep.sum()), "test_rows": int(len(frame)),
            "excluded": [{"reason": r, "rows": n} for r, n in excluded.items()],
            "batches": used}
    if not keep.any():
        raise PipelineError(f"{source}: all {len(frame)} rows are rows {who} learned from "
                            f"({'; '.join(excluded)}): none can judge it without leakage")
    return keep, info


def strata(frame, schema: Schema):
    """Stratify by class when every class has two rows; otherwise a plain seeded split."""
    counts = frame[schema.target].value_counts()
    return frame[schema.target] if len(counts) > 1 and counts.min() >= 2 else None
