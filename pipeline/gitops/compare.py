"""Champion vs challenger on the same fresh holdout: the comparison a pull request's gate judges.

The champion is the production model as a git revision holds it (through dvc.api, no checkout); the
challenger is the model in the work tree. Both are scored on the newest batch's holdout (the rows
neither learned from), the gate (`gitops.gate`) judges the paired difference, McNemar's test and the
decision flips describe it, and two figures show it. The result is reports/comparison.json, which CI
commits with the model it judged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from pipeline import params as P
from pipeline.config import CARD_JSON, COMPARE_FIGURES, COMPARISON, MANIFEST, MODEL, TEST_SET, TIMINGS
from pipeline.core import model_card
from pipeline.core.resampling import direction, flip_table, mcnemar, paired_bootstrap
from pipeline.errors import PipelineError
from pipeline.gitops.gate import DISPLAY_LEVEL, gate_checks, gate_config, gate_intervals

# Not reports/figures: that directory is an output of the evaluate stage, and a file added there
# would make `dvc status` report evaluate as changed.
CONFUSION_PNG = COMPARE_FIGURES / "compare_confusion.png"
ROC_PNG = COMPARE_FIGURES / "compare_roc.png"
HEADLINE = ("accuracy", "balanced_accuracy", "precision_weighted", "recall_weighted", "f1_weighted",
            "f1_macro", "roc_auc", "gini", "ks", "log_loss", "brier", "expected_cost")


def _quiet(_: str) -> None:
    """The default progress sink: the library says nothing unless the command passes one."""


# --- the two models ------------------------------------------------------------------------------


def identity(card: dict[str, Any], role: str, version: str, commit: str | None, sha: str,
             size: int) -> dict[str, Any]:
    """Who a model is: what a reviewer needs to tell two versions apart, from its model card."""
    data, training = card.get("data") or {}, card.get("training") or {}
    return {
        "role": role,
        "version": version,
        "commit": commit,
        "family": model_card.family(card),
        "model_sha256": sha,
        "model_bytes": size,
        "train_rows": model_card.train_rows(card),
        "val_rows": (data.get("rows") or {}).get("val"),
        "data_files": [{k: f.get(k) for k in ("path", "sha256", "rows")}
                       for f in model_card.window_files(card)],
        "test_holdout_of": data.get("test_holdout_of"),
        "training_strategy": training.get("strategy"),
        "best_params": training.get("best_params"),
    }


def _scores(model, card: dict[str, Any], test, classes: list[str], features: list[str],
            source: str) -> np.ndarray:
    """Probabilities in `classes` order, using the feature list the model was trained with."""
    from pipeline.modeling.predict import predict_proba

    schema = card.get("schema") or {}
    features = list(schema.get("numeric") or []) + list(schema.get("categorical") or []) or features
    missing = [c for c in features if c not in test.columns]
    if missing:
        raise PipelineError(f"{TEST_SET}: column '{missing[0]}': the {source} needs it, not found")
    own = list(schema.get("classes") or classes)
    if sorted(own) != sorted(classes):
        raise PipelineError(f"{source}: classes {own} differ from params.yaml schema.classes {classes}: "
                            "the models predict different things and cannot be compared")
    proba = predict_proba(model, test, SimpleNamespace(features=features))
    return proba[:, [own.index(c) for c in classes]]


def flat_metrics(values: dict[str, Any], classes: list[str]) -> dict[str, float | None]:
    """Headline metrics plus precision/recall/f1 per class, as flat `recall_Alto`-style names."""
    out: dict[str, float | None] = {k: values.get(k) for k in HEADLINE if k in values}
    for cls in classes:
        for stat in ("precision", "recall", "f1"):
            out[f"{stat}_{cls}"] = values["per_class"][cls][stat]
    return out


def trivial_baseline(metric: str, y: np.ndarray, classes: list[str], costs: Any = None) -> float:
    """`metric` of the trivial model (the training split's class shares for everyone, so the majority
    class by argmax; for the expected cost, the cheapest class for everyone) on the evaluation rows:
    a model that cannot beat it has learned nothing."""
    from pipeline.core.files import read_json
    from pipeline.core.metrics import (
        baseline_proba,
        classification_metrics,
        lookup,
        train_priors,
        trivial_expected_cost,
    )

    priors = train_priors(read_json(MANIFEST), classes)
    if priors.sum() == 0:
        raise PipelineError(f"{MANIFEST}: class_counts.train missing: run `dvc repro` first")
    if metric == "expected_cost":
        return trivial_expected_cost(y, priors, costs)
    return lookup(classification_metrics(y, baseline_proba(priors + 1e-9, len(y)), classes), metric)


# --- the comparison ------------------------------------------------------------------------------


def _short(commit: str | None) -> str | None:
    return commit[:8] if commit else None


def _scored(model, card: dict[str, Any], test, y: np.ndarray, classes: list[str], features: list[str],
            metric: str, source: str, costs: Any = None) -> tuple[np.ndarray, dict[str, float | None]]:
    """A model's probabilities on the evaluation rows and its flat metrics, the primary one included
    (both models' expected cost under this run's matrix, whatever the one they were trained under)."""
    from pipeline.core.metrics import classification_metrics, lookup

    proba = _scores(model, card, test, classes, features, source)
    values = classification_metrics(y, proba, classes, costs)
    flat = flat_metrics(values, classes)
    if flat.get(metric) is None:
        try:
            flat[metric] = lookup(values, metric)
        except KeyError:
            raise PipelineError(f"params.yaml: gate.primary_metric '{metric}': unknown metric") from None
    return proba, flat


def _challenger_card() -> tuple[dict[str, Any], str]:
    """The work tree's model card and the sha256 of the model beside it, checked to agree."""
    from pipeline.core.files import read_json, sha256

    if not MODEL.exists() or not CARD_JSON.exists():
        raise PipelineError(f"{MODEL}: the challenger is missing (run `dvc repro` first)")
    card = read_json(CARD_JSON)
    digest = sha256(MODEL)
    if model_card.model_sha256(card) not in (None, digest):
        raise PipelineError(f"{CARD_JSON}: model.sha256 {model_card.model_sha256(card)[:12]} does not "
                            f"match {MODEL} ({digest[:12]}): stale card, run `dvc repro`")
    return card, digest


def _evaluation_rows(test, card: dict[str, Any], champion_card: dict[str, Any] | None, log):
    """The test rows neither model learned from, and the account of those left out."""
    from pipeline.core.splits import unseen_rows

    current = {Path(f.get("path", "")).stem: f.get("sha256") for f in model_card.window_files(card)}
    keep, evaluation = unseen_rows(test, champion_card, current, TEST_SET)
    if not keep.all():
        log(f"compare: {evaluation['test_rows'] - evaluation['rows']} of {evaluation['test_rows']} test rows "
            "left out: " + "; ".join(f"{e['rows']} {e['reason']}" for e in evaluation["excluded"]))
    return test[keep].reset_index(drop=True), evaluation


def _reasons(checks: list[dict[str, Any]]) -> list[str]:
    """Why: the failed checks' sentences, else every check's."""
    failed = [c["message"] for c in checks if not c["passed"]]
    return failed if failed else [c["message"] for c in checks] or [
        "no floors configured and no champion to beat"]


@dataclass
class Challenger:
    """The evaluation rows and the challenger scored on them: what both kinds of comparison share."""

    y: np.ndarray
    test: Any
    classes: list[str]
    features: list[str]
    metric: str
    proba: np.ndarray
    flat: dict[str, float | None]
    identity: dict[str, Any]
    baseline: float
    costs: Any = None  # Schema.costs: the matrix of expected_cost, or None


def _first_model(cfg: dict[str, Any], ch: Challenger) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """No champion yet: the first model needs only the floors (and to beat the trivial model)."""
    from pipeline.core import plots

    checks = gate_checks(cfg, ch.flat, None, None, False, ch.classes, ch.baseline)
    passed = all(c["passed"] for c in checks)
    part = {
        "decision": "no_champion" if passed else "reject", "promote": passed,
        "delta": None, "confidence_interval": None, "mcnemar": None, "identical_models": False,
        "models": {"champion": None, "challenger": ch.identity},
        "metrics": {k: {"champion": None, "challenger": v, "delta": None} for k, v in ch.flat.items()},
    }
    plots.confusion_png(CONFUSION_PNG, ch.y, {"challenger": ch.proba.argmax(axis=1)}, ch.classes)
    plots.curves_png(ROC_PNG, {"challenger": plots.curves(ch.y, ch.proba, ch.classes, "roc")}, "roc",
                     "ROC one-vs-rest: challenger (no champion yet)")
    return part, checks


def _against_champion(cfg: dict[str, Any], ch: Challenger, champion_rev, model: str, base: str,
                      seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The champion scored on the same rows; the gate on the paired difference; the figures of both."""
    from pipeline.core import plots
    from pipeline.gitops.registry import version_tag

    y, classes, metric, cand = ch.y, ch.classes, ch.metric, ch.flat
    version = version_tag(model, champion_rev.commit)
    champion = identity(champion_rev.card, "champion", version or _short(champion_rev.commit),
                        champion_rev.commit, model_card.model_sha256(champion_rev.card)
                        or _sha(champion_rev.model_bytes), len(champion_rev.model_bytes))
    champion["version_tag"] = version
    proba_a, champ = _scored(champion_rev.model, champion_rev.card, ch.test, y, classes, ch.features,
                             metric, f"champion at {base}", ch.costs)
    identical = champion["model_sha256"] == ch.identity["model_sha256"]
    intervals, boot = gate_intervals(cfg, y, proba_a, ch.proba, classes, seed, ch.costs)
    checks = gate_checks(cfg, cand, champ, intervals, identical, classes, ch.baseline)
    passed = all(c["passed"] for c in checks)
    part = {
        "decision": "promote" if passed else "reject", "promote": passed,
        "delta": cand[metric] - champ[metric], "confidence_interval": boot["interval"], "bootstrap": boot,
        "intervals": intervals,
        "mcnemar": mcnemar(proba_a.argmax(axis=1) == y, ch.proba.argmax(axis=1) == y),
        "identical_models": identical,
        "flips": flip_table(proba_a.argmax(axis=1), ch.proba.argmax(axis=1), classes),
        "cost_interval": None if ch.costs is None else paired_bootstrap(
            y, proba_a, ch.proba, "expected_cost", classes, cfg["bootstrap_resamples"], DISPLAY_LEVEL,
            seed, ch.costs)["interval"],
        "models": {"champion": champion, "challenger": ch.identity},
        "metrics": {k: {"champion": champ.get(k), "challenger": v,
                        "delta": None if v is None or champ.get(k) is None else v - champ[k]}
                    for k, v in cand.items()},
    }
    label = f"champion {version or _short(champion_rev.commit)}"
    preds = {f"{label} ({champion['family']})": proba_a.argmax(axis=1),
             f"challenger ({ch.identity['family']})": ch.proba.argmax(axis=1)}
    plots.confusion_png(CONFUSION_PNG, y, preds, classes)
    plots.curves_png(ROC_PNG, {label: plots.curves(y, proba_a, classes, "roc"),
                               "challenger": plots.curves(y, ch.proba, classes, "roc")}, "roc",
                     "ROC one-vs-rest: champion vs challenger")
    return part, checks


def run(params: dict[str, Any], base: str | None = None,
        log: Callable[[str], None] = _quiet) -> dict[str, Any]:
    """Score both models, judge the gate, draw the figures, write reports/comparison.json."""
    from pipeline.core.files import load_model, read_frame, read_json, sha256, write_json
    from pipeline.core.metrics import rounded
    from pipeline.core.revision import production, resolve
    from pipeline.core.schema import from_params
    from pipeline.gitops.registry import production_ref, settings

    COMPARISON.unlink(missing_ok=True)  # a failed comparison leaves no decision behind (fail closed)
    cfg = gate_config(params)
    schema = from_params(params)
    classes = list(schema.classes)
    metric = cfg["primary_metric"]
    card, digest = _challenger_card()
    test = read_frame(TEST_SET)
    if schema.target not in test.columns:
        raise PipelineError(f"{TEST_SET}: column '{schema.target}': the target is needed, not found")
    ref = production_ref(params, base)
    if ref.note:
        log(f"compare: {ref.note}")
    base = ref.rev
    champion_rev = production(base)
    test, evaluation = _evaluation_rows(test, card, champion_rev.card if champion_rev else None, log)
    y = schema.class_index(test[schema.target])
    head = resolve("HEAD")
    proba_b, cand = _scored(load_model(MODEL), card, test, y, classes, schema.features, metric,
                            f"challenger {MODEL}", schema.costs)
    challenger = identity(card, "challenger", f"work tree @ {_short(head) or 'no commit'}", head, digest,
                          MODEL.stat().st_size)
    timing = TIMINGS / f"{challenger['family']}.json"  # this run's log (untracked): seconds are volatile
    challenger["training_seconds"] = read_json(timing)["train_seconds"] if timing.exists() else None
    ch = Challenger(y, test, classes, schema.features, metric, proba_b, cand, challenger,
                    trivial_baseline(metric, y, classes, schema.costs), schema.costs)

    result: dict[str, Any] = {
        "base": {"rev": base, "commit": None, "version": ref.version},
        "primary_metric": metric,
        "higher_is_better": direction(metric) > 0,
        "test_set": {"path": TEST_SET.as_posix(), "rows": int(len(y)), "sha256": sha256(TEST_SET),
                     "holdout_of": card.get("data", {}).get("test_holdout_of")},
        "evaluation": evaluation,
        "trivial_baseline": ch.baseline,
        "gate": cfg,
        "costs": None,  # the cost matrix, when schema.costs sets one (below)
    }
    COMPARE_FIGURES.mkdir(parents=True, exist_ok=True)
    if champion_rev is None:
        log(f"compare: {base} has no production model yet: the first model needs only the floors")
        part, checks = _first_model(cfg, ch)
        result |= part
        result["base"]["commit"] = resolve(base)
    else:
        part, checks = _against_champion(cfg, ch, champion_rev, settings(params).model, base,
                                         int(P.section(params, "seed")))
        result["base"]["commit"] = champion_rev.commit
        result |= part
    if schema.costs is not None:  # both models' expected cost is under this matrix (rows actual)
        result["costs"] = {"matrix": schema.cost_table(),
                           "trivial": trivial_baseline("expected_cost", y, classes, schema.costs),
                           "interval": result.pop("cost_interval", None), "confidence": DISPLAY_LEVEL}
    result.pop("cost_interval", None)
    result["checks"] = checks
    result["reasons"] = _reasons(checks)
    if cfg["cv_folds"] > 0:
        from pipeline.gitops.crossval import cross_validate

        cards = {"challenger": card} if champion_rev is None else {"champion": champion_rev.card,
                                                                   "challenger": card}
        result["cv"] = cross_validate(params, cards, cfg["cv_folds"], metric, log)
    result["figures"] = {"confusion": CONFUSION_PNG.as_posix(), "roc": ROC_PNG.as_posix()}
    result = rounded(result)
    write_json(COMPARISON, result)
    return result


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
