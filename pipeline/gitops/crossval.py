"""Optional k-fold cross-validation of both training recipes (gate.cv_folds > 0): each card's family
and hyperparameters refitted on the same stratified folds of today's train + validation rows, a
second opinion beside the single holdout."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline import params as P
from pipeline.config import TRAIN_SET, VAL_SET
from pipeline.core import model_card
from pipeline.errors import PipelineError


def recipe(card: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Family and hyperparameters a card was trained with; boosters get their early-stopped size."""
    family = model_card.family(card)
    if not family:
        raise PipelineError("model card: model.family missing: cannot refit its training recipe")
    fixed = (((card.get("params") or {}).get("models") or {}).get(family) or {}).get("fixed") or {}
    training = card.get("training") or {}
    hp = {**fixed, **(training.get("best_params") or {})}
    best = training.get("best_iteration")
    if family in ("xgboost", "lightgbm") and best:
        hp["n_estimators"] = int(best) + (1 if family == "xgboost" else 0)  # xgboost counts from 0
    return family, hp


def cross_validate(params: dict[str, Any], cards: dict[str, dict[str, Any]], folds: int, metric: str,
                   log: Callable[[str], None]) -> dict[str, Any]:
    """Each card's recipe refitted on the same stratified folds of today's train + validation rows."""
    import pandas as pd
    from sklearn.model_selection import StratifiedKFold

    from pipeline.core.files import read_frame
    from pipeline.core.metrics import classification_metrics, lookup
    from pipeline.core.schema import from_params
    from pipeline.modeling.estimators import build_estimator, build_preprocessor

    schema = from_params(params)
    classes = list(schema.classes)
    seed = int(P.section(params, "seed"))
    n_jobs = int(P.section(params, "train", "n_jobs"))
    pool = pd.concat([read_frame(TRAIN_SET), read_frame(VAL_SET)],
                     ignore_index=True)
    y = schema.class_index(pool[schema.target])
    if np.bincount(y, minlength=len(classes)).min() < folds:
        raise PipelineError(f"params.yaml: gate.cv_folds: {folds} folds need at least {folds} rows of "
                            "every class in data/prepared/train+val")
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(pool, y))
    out: dict[str, Any] = {"folds": folds, "metric": metric, "rows": int(len(pool)), "seed": seed,
                           "scores": {}, "recipes": {}}
    for role, card in cards.items():
        family, hp = recipe(card)
        scores = []
        for i, (tr, te) in enumerate(splits, 1):
            t0 = time.perf_counter()
            pre = build_preprocessor(schema, scale=family == "logistic")
            xt = pre.fit_transform(pool.iloc[tr][schema.features])
            est = build_estimator(family, dict(hp), len(classes), seed, n_jobs, 0)
            est.fit(xt, y[tr])
            proba = np.asarray(est.predict_proba(pre.transform(pool.iloc[te][schema.features])), float)
            scores.append(lookup(classification_metrics(y[te], proba, classes, schema.costs), metric))
            log(f"compare: cv {role} ({family}) fold {i}/{folds} {metric}={scores[-1]:.4f} "
                f"({time.perf_counter() - t0:.1f}s)")
        out["scores"][role] = scores
        out["recipes"][role] = {"family": family, "hyperparameters": hp}
    out["mean"] = {r: float(np.mean(s)) for r, s in out["scores"].items()}
    out["std"] = {r: float(np.std(s, ddof=1)) for r, s in out["scores"].items()}
    if len(cards) == 2:
        a, b = out["scores"]["champion"], out["scores"]["challenger"]
        out["delta_mean"] = float(np.mean(np.subtract(b, a)))
    return out
