"""Pick the best candidate on validation, score it once on the untouched test holdout, write the card."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline import params as P
from pipeline.config import CARD_MD, FIGURES, MANIFEST, METRICS, PLOTS, TEST_SET
from pipeline.errors import PipelineError
from pipeline.stages.train import CANDIDATE_REPORTS, CANDIDATES, CARD_JSON, PRODUCTION_MODEL, one_blas_thread


def select(params: dict[str, Any]) -> tuple[str, dict[str, dict]]:
    """Best family by the primary validation metric; ties go to the family listed first."""
    from pipeline.core.files import read_json
    from pipeline.core.metrics import higher_is_better

    families = list(P.section(params, "models"))
    reports = {f: read_json(CANDIDATE_REPORTS / f"{f}.json") for f in families}
    metric = P.section(params, "train").get("primary_metric", "accuracy")
    sign = 1 if higher_is_better(metric) else -1
    best = max(families, key=lambda f: (sign * reports[f]["validation_score"], -families.index(f)))
    return best, reports


def predict_proba(model, frame, schema):
    import numpy as np

    return np.asarray(model.predict_proba(frame[schema.features]), dtype=float)


def run(params: dict[str, Any]) -> dict[str, Any]:
    from pipeline.core import model_card, plots
    from pipeline.core.files import (
        load_model,
        read_frame,
        read_json,
        write_bytes,
        write_json,
        write_text,
    )
    from pipeline.core.metrics import classification_metrics, rounded
    from pipeline.core.schema import from_params

    schema = from_params(params)
    classes = list(schema.classes)
    family, reports = select(params)
    test = read_frame(TEST_SET)
    model = load_model(CANDIDATES / f"{family}.skops")
    y = schema.class_index(test[schema.target])
    with one_blas_thread():
        proba = predict_proba(model, test, schema)
    metrics = rounded(classification_metrics(y, proba, classes))
    metrics["selected"] = family
    metrics["primary_metric"] = P.section(params, "train").get("primary_metric", "accuracy")
    metrics["validation"] = {f: r["validation_score"] for f, r in reports.items()}
    metrics["majority_baseline"] = round(float((y == _mode(y)).mean()), 6)

    write_bytes(PRODUCTION_MODEL, (CANDIDATES / f"{family}.skops").read_bytes())

    pred = proba.argmax(axis=1)
    write_json(PLOTS / "confusion.json",
               [{"actual": classes[a], "predicted": classes[p]} for a, p in zip(y, pred, strict=True)])
    roc, pr, cal = (plots.curves(y, proba, classes, "roc"), plots.curves(y, proba, classes, "pr"),
                    plots.calibration(y, proba))
    write_json(PLOTS / "roc.json", roc)
    write_json(PLOTS / "precision_recall.json", pr)
    write_json(PLOTS / "calibration.json", cal)
    plots.confusion_png(FIGURES / "confusion.png", y, {f"Confusion matrix ({family})": pred}, classes)
    plots.curves_png(FIGURES / "roc.png", {family: roc}, "roc", f"ROC one-vs-rest ({family})")
    plots.curves_png(FIGURES / "precision_recall.png", {family: pr}, "pr",
                     f"Precision-recall ({family})")
    plots.calibration_png(FIGURES / "calibration.png", cal, f"Calibration ({family})")
    write_json(METRICS, metrics)

    card = model_card.build(family, PRODUCTION_MODEL, schema, read_json(MANIFEST), reports[family],
                            params, metrics)
    write_json(CARD_JSON, card)
    write_text(CARD_MD, model_card.markdown(card))
    return metrics


def _mode(y):
    import numpy as np

    return np.bincount(y).argmax()


def cli(args: argparse.Namespace) -> int:
    metrics = run(P.load(args.params))
    print(f"evaluate: selected {metrics['selected']}: test accuracy {metrics['accuracy']:.4f}, "
          f"f1_weighted {metrics['f1_weighted']:.4f} (majority class {metrics['majority_baseline']:.4f})")
    return 0


def summary_cli(args: argparse.Namespace) -> int:
    """What `make run` ends with: the selected model, its key numbers, where to look next."""
    from pipeline.core.files import read_json

    if not METRICS.exists() or not CARD_JSON.exists():
        raise PipelineError(f"{METRICS}: not found (run `dvc repro` first)")
    m, card = read_json(METRICS), read_json(CARD_JSON)
    print(f"Selected model: {m['selected']} ({card['model']['path']}, "
          f"sha256 {card['model']['sha256'][:12]})")
    print(f"  trained on {card['data']['rows']['train']} rows from {len(card['data']['files'])} "
          f"batches; test holdout of {card['data']['test_holdout_of']} ({m['rows']} rows)")
    print(f"  accuracy {m['accuracy']:.4f} (majority class {m['majority_baseline']:.4f}), "
          f"f1_weighted {m['f1_weighted']:.4f}, roc_auc {m['roc_auc'] or float('nan'):.4f}, "
          f"log_loss {m['log_loss']:.4f}")
    print("  validation: " + ", ".join(f"{f} {s:.4f}" for f, s in m["validation"].items()))
    print(f"Reports: {METRICS}, {FIGURES}/, {CARD_MD}; `dvc metrics show`, `dvc plots show`")
    return 0
