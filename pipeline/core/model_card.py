"""The model card: what evaluate writes beside the model (models/model_card.json and .md), and the
one place that knows its shape. Every other module reads it through the accessors below, which
also accept the cards of older revisions (a key an old card lacks reads as empty)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.core.files import sha256 as file_sha256


def build(family: str, model_path: Path, schema, manifest: dict[str, Any], chosen: dict[str, Any],
          params: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """The card of the selected model: file, schema, training window, search result, test metrics."""
    return {
        "model": {"family": family, "path": model_path.as_posix(),
                  "sha256": file_sha256(model_path), "bytes": model_path.stat().st_size,
                  "format": "skops (trusted-type list in pipeline/core/files.py)"},
        "schema": {"target": schema.target, "classes": list(schema.classes), "numeric": list(schema.numeric),
                   "categorical": list(schema.categorical), "id": schema.id, "time": schema.time,
                   "costs": schema.cost_table()},
        "data": {"window": manifest["strategy"], "files": manifest["files"],
                 "rows": manifest["rows"], "test_holdout_of": manifest["newest_batch"]},
        "training": {"strategy": chosen["strategy"],
                     "best_params": chosen["best_params"], "best_iteration": chosen["best_iteration"],
                     "trials": len(chosen["trials"]), "seed": params.get("seed")},
        "params": {k: params.get(k) for k in ("window", "split", "train")} | {
            "models": {family: P.section(params, "models", family)}},
        "metrics": {"test": {k: v for k, v in metrics.items() if k != "validation"},
                    "validation": metrics["validation"]},
    }


def markdown(card: dict[str, Any]) -> str:
    m, t = card["model"], card["metrics"]["test"]
    lines = [
        f"# Model card: {card['schema']['target']} classifier ({m['family']})",
        "",
        f"- **Model file**: `{m['path']}` ({m['bytes']:,} bytes, sha256 `{m['sha256'][:16]}…`)",
        f"- **Training**: {card['training']['strategy']}, {card['training']['trials']} trials, "
        f"seed {card['training']['seed']}",
        f"- **Classes**: {', '.join(card['schema']['classes'])}",
        f"- **Features**: {len(card['schema']['numeric'])} numeric, "
        f"{len(card['schema']['categorical'])} categorical",
        "",
        "## Test metrics (holdout of the newest batch)",
        "",
        "| metric | value |",
        "| --- | ---: |",
    ]
    for key in ("accuracy", "balanced_accuracy", "f1_weighted", "precision_weighted", "recall_weighted",
                "roc_auc", "gini", "ks", "log_loss", "brier", "expected_cost", "majority_baseline"):
        if t.get(key) is not None:
            lines.append(f"| {key} | {t[key]:.4f} |")
    lines += cost_lines(card["schema"].get("costs"), t)
    lines += ["", "| class | precision | recall | f1 | support |", "| --- | ---: | ---: | ---: | ---: |"]
    for cls, v in t["per_class"].items():
        lines.append(f"| {cls} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} | "
                     f"{v['support']} |")
    lines += ["", "## Validation score per family", ""]
    lines += [f"- {f}: {s:.4f}" for f, s in card["metrics"]["validation"].items()]
    lines += ["", "## Hyperparameters", "", "```", *(f"{k}: {v}" for k, v in
              card["training"]["best_params"].items()), "```", "", "## Data", "",
              "Rows per split (which rows: `data.files[].splits` in the JSON card, bit masks of file lines; "
              "`compare` leaves the train and val rows out when it scores this model as the champion).",
              "", "| file | rows | train | val | test | sha256 |",
              "| --- | ---: | ---: | ---: | ---: | --- |"]
    for f in card["data"]["files"]:
        split = f.get("split_rows") or {}
        lines.append(f"| {f['path']} | {f['rows']} | {split.get('train', '—')} | {split.get('val', '—')} | "
                     f"{split.get('test', '—')} | `{f['sha256'][:12]}` |")
    return "\n".join(lines) + "\n"


def cost_lines(costs: dict[str, dict[str, float]] | None, t: dict[str, Any]) -> list[str]:
    """The cost matrix and what this model's decisions cost per applicant on the test holdout."""
    if not costs or t.get("expected_cost") is None:
        return []
    classes = list(costs)
    lines = ["", "## Cost of errors (params.yaml `schema.costs`)", "",
             f"Expected cost on the test holdout: **{t['expected_cost']:.4f} per applicant** (lower is "
             "better)" + (f"; the cheapest single decision for everyone would cost "
                          f"{t['trivial_expected_cost']:.4f}" if t.get("trivial_expected_cost") is not None
                          else "") + ".", "",
             "| actual \\ predicted | " + " | ".join(classes) + " |",
             "| --- |" + " ---: |" * len(classes)]
    lines += [f"| {a} | " + " | ".join(f"{costs[a][p]:g}" for p in classes) + " |" for a in classes]
    return lines


# --- accessors ------------------------------------------------------------------------------------


def _block(card: dict[str, Any] | None, key: str) -> dict[str, Any]:
    return (card or {}).get(key) or {}


def family(card: dict[str, Any] | None) -> str | None:
    return _block(card, "model").get("family")


def model_sha256(card: dict[str, Any] | None) -> str | None:
    return _block(card, "model").get("sha256")


def window_files(card: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The batches the model was trained on: path, sha256, rows and the rows each split took."""
    return _block(card, "data").get("files") or []


def train_rows(card: dict[str, Any] | None) -> int | None:
    return (_block(card, "data").get("rows") or {}).get("train")


def test_metrics(card: dict[str, Any] | None) -> dict[str, Any]:
    return _block(card, "metrics").get("test") or {}


def seed(card: dict[str, Any] | None) -> int | None:
    return _block(card, "training").get("seed")
