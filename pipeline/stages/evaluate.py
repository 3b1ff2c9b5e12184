"""Pick the best candidate on validation, score it once on the untouched test holdout, write the card."""

from __future__ import annotations

from typing import Any

from pipeline import params as P
from pipeline.config import (
    CANDIDATE_REPORTS,
    CANDIDATES,
    CARD_JSON,
    CARD_MD,
    FIGURES,
    MANIFEST,
    METRICS,
    MODEL,
    PLOTS,
    TEST_SET,
)
from pipeline.modeling.estimators import one_blas_thread
from pipeline.modeling.predict import predict_proba


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
    from pipeline.core.metrics import classification_metrics, rounded, train_priors, trivial_expected_cost
    from pipeline.core.schema import from_params

    schema = from_params(params)
    classes = list(schema.classes)
    family, reports = select(params)
    test = read_frame(TEST_SET)
    model = load_model(CANDIDATES / f"{family}.skops")
    y = schema.class_index(test[schema.target])
    with one_blas_thread():
        proba = predict_proba(model, test, schema)
    metrics = rounded(classification_metrics(y, proba, classes, schema.costs))
    metrics["selected"] = family
    metrics["primary_metric"] = P.section(params, "train").get("primary_metric", "accuracy")
    metrics["validation"] = {f: r["validation_score"] for f, r in reports.items()}
    metrics["majority_baseline"] = round(float((y == _mode(y)).mean()), 6)
    manifest = read_json(MANIFEST)
    priors = train_priors(manifest, classes)
    if schema.costs is not None and priors.sum():  # the cheapest single decision for everyone
        metrics["trivial_expected_cost"] = round(trivial_expected_cost(y, priors, schema.costs), 6)

    write_bytes(MODEL, (CANDIDATES / f"{family}.skops").read_bytes())

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

    card = model_card.build(family, MODEL, schema, manifest, reports[family],
                            params, metrics)
    write_json(CARD_JSON, card)
    write_text(CARD_MD, model_card.markdown(card))
    return metrics


def _mode(y):
    import numpy as np

    return np.bincount(y).argmax()

