"""Training window and splits: the test set is a holdout of the newest batch that no candidate sees,
plus a holdout of every other batch the champion (models/champion.json) never trained on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.config import CHAMPION, MANIFEST, SPLITS
from pipeline.core import champion as pointer
from pipeline.core.splits import BATCH, ROW, row_masks, split, window
from pipeline.errors import PipelineError


def run(params: dict[str, Any]) -> dict[str, Any]:
    from pipeline.core.files import batch_files, read_table, sha256, write_frame, write_json
    from pipeline.core.schema import from_params

    schema = from_params(params)
    data_cfg = P.section(params, "data")
    files = window(batch_files(data_cfg["batches_dir"], data_cfg.get("pattern", "*.csv")),
                   P.section(params, "window"))
    frames, manifest = [], []
    for path in files:
        frame = read_table(path)
        missing = [c for c in [*schema.features, schema.target] if c not in frame.columns]
        if missing:
            raise PipelineError(f"{path}: column '{missing[0]}': required by the schema, not found")
        file_rows = len(frame)
        frame[ROW] = range(file_rows)
        frame = frame.dropna(subset=[schema.target])
        frame[BATCH] = path.stem
        frames.append(frame)
        manifest.append({"path": path.as_posix(), "sha256": sha256(path), "rows": len(frame),
                         "file_rows": file_rows})
    champ = pointer.read(CHAMPION)
    known = pointer.training_files(champ)
    # a batch whose path the champion's card lists is not new to it, even if its bytes changed since:
    # compare leaves such a batch out whole, so a holdout there would only cost training rows
    fresh = frozenset(p.stem for p in files[:-1] if p.stem not in known) if champ["champion"] else frozenset()
    train, val, test = split(frames, schema, P.section(params, "split"), int(params.get("seed", 0)),
                             fresh)
    parts = {"train": train, "val": val, "test": test}
    for entry in manifest:  # the rows each split took from each file: compare excludes what a model saw
        stem = Path(entry["path"]).stem
        entry["split_rows"] = {k: int((f[BATCH] == stem).sum()) for k, f in parts.items()}
        entry["splits"] = row_masks(parts, stem, entry["file_rows"])
        entry["test_reason"] = ("newest batch" if stem == files[-1].stem else
                                "new to the champion" if stem in fresh else None)
    for name, frame in parts.items():
        write_frame(SPLITS[name], frame.reset_index(drop=True))
    summary = {
        "strategy": P.section(params, "window").get("strategy", "combine"),
        "files": manifest,
        "newest_batch": files[-1].stem,
        "test_batches": [Path(e["path"]).stem for e in manifest if e["test_reason"]],
        "champion": _champion_summary(champ),
        "rows": {"train": len(train), "val": len(val), "test": len(test)},
        "class_counts": {
            name: frame[schema.target].astype(str).value_counts().to_dict()
            for name, frame in (("train", train), ("val", val), ("test", test))
        },
    }
    write_json(MANIFEST, summary)
    return summary


def _champion_summary(champ: dict[str, Any]) -> dict[str, Any]:
    """Which champion the holdouts were decided against (or why there is none)."""
    c = champ["champion"]
    if c is None:
        return {"version": None, "reason": champ.get("reason")}
    return {"version": c["version"], "commit": c["commit"], "md5": c["md5"],
            "training_files": len(c["files"])}
