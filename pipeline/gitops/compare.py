"""Champion vs challenger on the same fresh holdout: the promotion gate a pull request must pass.

The champion is the production model as a git revision holds it (through dvc.api, no checkout); the
challenger is the model in the work tree. Both are scored on the newest batch's holdout. A single
difference of two numbers says nothing about noise, so the gate also asks for a paired bootstrap
confidence interval of the difference whose lower bound clears a tolerance, reports McNemar's test on
the paired correctness, guards the metrics that must not get worse (recall of the critical class, every
class's F1) and checks absolute floors. Exit 0 promote, 1 reject, 2 error.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from pipeline import params as P
from pipeline.config import COMPARE_FIGURES, COMPARISON, DVC_YAML, MANIFEST, TEST_SET, TRAIN_SET, VAL_SET
from pipeline.core.resampling import bootstrap_deltas, direction, flip_table, mcnemar, percentile_interval
from pipeline.errors import PipelineError

# Not reports/figures: that directory is an output of the evaluate stage, and a file added there
# would make `dvc status` report evaluate as changed.
FIGURES = COMPARE_FIGURES
CONFUSION_PNG = FIGURES / "compare_confusion.png"
ROC_PNG = FIGURES / "compare_roc.png"
DEFAULT_ARTIFACT = "credit-risk"

GATE_DEFAULTS: dict[str, Any] = {
    "primary_metric": None,  # None: train.primary_metric
    "mode": "superiority",
    "non_inferiority": {"margin": 0.01, "confidence": 0.975},
    "superiority": {"margin": 0.0, "confidence": 0.70},
    "bootstrap_resamples": 1000,
    "max_drop": {},
    "max_class_f1_drop": None,
    "floors": {},
    "cv_folds": 0,
}
MODES = ("non_inferiority", "superiority")
HEADLINE = ("accuracy", "balanced_accuracy", "precision_weighted", "recall_weighted", "f1_weighted",
            "f1_macro", "roc_auc", "gini", "ks", "log_loss", "brier")
DISPLAY_LEVEL = 0.95  # the interval the report shows; decisions use the gate's one-sided level


# --- configuration -------------------------------------------------------------------------------


def gate_config(params: dict[str, Any]) -> dict[str, Any]:
    """The gate from params.yaml (every key optional), checked so a typo fails with its key named."""
    raw = params.get("gate") or {}
    if not isinstance(raw, dict):
        raise PipelineError("params.yaml: gate: expected a mapping")
    unknown = sorted(set(raw) - set(GATE_DEFAULTS))
    if unknown:
        raise PipelineError(f"params.yaml: gate.{unknown[0]}: unknown key (expected one of "
                            f"{', '.join(GATE_DEFAULTS)})")
    cfg = {**GATE_DEFAULTS, **{k: v for k, v in raw.items() if v is not None}}
    if not cfg["primary_metric"]:
        cfg["primary_metric"] = (params.get("train") or {}).get("primary_metric", "accuracy")
    if cfg["mode"] not in MODES:
        raise PipelineError(f"params.yaml: gate.mode: {cfg['mode']!r}: expected one of {', '.join(MODES)}")
    for mode in MODES:
        block = cfg[mode]
        if not isinstance(block, dict) or set(block) - {"margin", "confidence"}:
            raise PipelineError(f"params.yaml: gate.{mode}: expected a mapping with margin and confidence")
        block = {**GATE_DEFAULTS[mode], **block}
        cfg[mode] = {k: _number(v, f"gate.{mode}.{k}") for k, v in block.items()}
        if cfg[mode]["margin"] < 0:
            raise PipelineError(f"params.yaml: gate.{mode}.margin: {cfg[mode]['margin']} must be >= 0")
        if not 0.5 <= cfg[mode]["confidence"] < 1:
            raise PipelineError(f"params.yaml: gate.{mode}.confidence: {cfg[mode]['confidence']} must be "
                                "at least 0.5 and below 1 (a one-sided level)")
    # the active mode's rule: promote when the one-sided lower confidence bound of the improvement is
    # above -margin (non-inferiority) or above +margin (superiority)
    active = cfg[cfg["mode"]]
    cfg["margin"], cfg["confidence"] = active["margin"], active["confidence"]
    cfg["threshold"] = -active["margin"] if cfg["mode"] == "non_inferiority" else active["margin"]
    for key, low in (("bootstrap_resamples", 100), ("cv_folds", 0)):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise PipelineError(f"params.yaml: gate.{key}: expected an integer >= {low}, got {value!r}")
    if cfg["cv_folds"] == 1:
        raise PipelineError("params.yaml: gate.cv_folds: 1 fold is not cross-validation (0 or >= 2)")
    for key in ("max_drop", "floors"):
        if not isinstance(cfg[key], dict):
            raise PipelineError(f"params.yaml: gate.{key}: expected a mapping metric: value")
        cfg[key] = {str(k): _number(v, f"gate.{key}.{k}") for k, v in cfg[key].items()}
    if cfg["max_class_f1_drop"] is not None:
        cfg["max_class_f1_drop"] = _number(cfg["max_class_f1_drop"], "gate.max_class_f1_drop")
    return cfg


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PipelineError(f"params.yaml: {key}: expected a number, got {value!r}")
    return float(value)


# --- statistics -----------------------------------------------------------------------------------


def gate_intervals(cfg: dict[str, Any], y: np.ndarray, proba_a: np.ndarray, proba_b: np.ndarray,
                   classes: list[str], seed: int) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Paired-bootstrap intervals of challenger - champion for every metric the gate judges, on the
    same resamples (same seed); two-sided at 2c - 1 so each end is a one-sided bound at level c.
    Also the primary metric's 95 % interval, for display."""
    level = 2 * cfg["confidence"] - 1
    names = interval_metrics(cfg, classes)
    resamples = cfg["bootstrap_resamples"]
    deltas = bootstrap_deltas(y, proba_a, proba_b, names, classes, resamples, seed)
    intervals = {m: percentile_interval(deltas[m], resamples, level, seed)["interval"] for m in names}
    # what reviewers read: the usual two-sided 95 % interval of the primary metric's difference
    return intervals, percentile_interval(deltas[cfg["primary_metric"]], resamples, DISPLAY_LEVEL, seed)


# --- the two models ------------------------------------------------------------------------------


def _artifact_name() -> str:
    """The model's name in the registry: the first `artifacts:` entry of dvc.yaml."""
    import yaml

    try:
        doc = yaml.safe_load(DVC_YAML.read_text(encoding="utf-8")) or {}
        return next(iter(doc.get("artifacts") or {}), DEFAULT_ARTIFACT)
    except (OSError, yaml.YAMLError):
        return DEFAULT_ARTIFACT


def version_tag(commit: str) -> str | None:
    """The highest `<artifact>@v*` tag pointing at `commit` (the GTO convention), if any."""
    from pipeline.core.git import git

    tags = git("tag", "--points-at", commit, "--list", f"{_artifact_name()}@v*", "--sort=-v:refname",
               check=False).split()
    return tags[0].split("@", 1)[1] if tags else None


def identity(card: dict[str, Any], role: str, version: str, commit: str | None, sha: str,
             size: int) -> dict[str, Any]:
    """Who a model is: what a reviewer needs to tell two versions apart, from its model card."""
    data, training = card.get("data") or {}, card.get("training") or {}
    return {
        "role": role,
        "version": version,
        "commit": commit,
        "family": (card.get("model") or {}).get("family"),
        "model_sha256": sha,
        "model_bytes": size,
        "train_rows": (data.get("rows") or {}).get("train"),
        "val_rows": (data.get("rows") or {}).get("val"),
        "data_files": [{k: f.get(k) for k in ("path", "sha256", "rows")} for f in data.get("files") or []],
        "test_holdout_of": data.get("test_holdout_of"),
        "training_strategy": training.get("strategy"),
        "best_params": training.get("best_params"),
    }


def _scores(model, card: dict[str, Any], test, classes: list[str], features: list[str],
            source: str) -> np.ndarray:
    """Probabilities in `classes` order, using the feature list the model was trained with."""
    from pipeline.stages.evaluate import predict_proba

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


def trivial_baseline(metric: str, y: np.ndarray, classes: list[str]) -> float:
    """`metric` of the trivial model (the training split's class shares for everyone, so the majority
    class by argmax) on the evaluation rows: a model that cannot beat it has learned nothing."""
    from pipeline.core.files import read_json
    from pipeline.core.metrics import baseline_proba, classification_metrics, lookup

    counts = (read_json(MANIFEST).get("class_counts") or {}).get("train") or {}
    priors = np.array([counts.get(c, 0) for c in classes], dtype=float)
    if priors.sum() == 0:
        raise PipelineError(f"{MANIFEST}: class_counts.train missing: run `dvc repro` first")
    return lookup(classification_metrics(y, baseline_proba(priors + 1e-9, len(y)), classes), metric)


# --- cross-validation ----------------------------------------------------------------------------


def recipe(card: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Family and hyperparameters a card was trained with; boosters get their early-stopped size."""
    family = (card.get("model") or {}).get("family")
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
                   log=print) -> dict[str, Any]:
    """Each card's recipe refitted on the same stratified folds of today's train + validation rows."""
    import pandas as pd
    from sklearn.model_selection import StratifiedKFold

    from pipeline.core.files import read_frame
    from pipeline.core.metrics import classification_metrics, lookup
    from pipeline.core.schema import from_params
    from pipeline.stages.train import build_estimator, build_preprocessor

    schema = from_params(params)
    classes = list(schema.classes)
    seed = int(params.get("seed", 0))
    n_jobs = int((params.get("train") or {}).get("n_jobs", 2))
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
            scores.append(lookup(classification_metrics(y[te], proba, classes), metric))
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


# --- the gate ------------------------------------------------------------------------------------


def _check(kind: str, name: str, passed: bool, message: str, value: Any = None,
           threshold: Any = None) -> dict[str, Any]:
    return {"kind": kind, "name": name, "passed": bool(passed), "value": value, "threshold": threshold,
            "message": message}


def interval_metrics(cfg: dict[str, Any], classes: list[str]) -> list[str]:
    """The metrics the gate judges on a paired-bootstrap interval: the primary one and the guards."""
    names = [cfg["primary_metric"], *cfg["max_drop"]]
    if cfg["max_class_f1_drop"] is not None:
        names += [f"f1_{c}" for c in classes]
    return list(dict.fromkeys(names))


def improvement_bounds(name: str, interval: list[float]) -> tuple[float, float]:
    """An interval of challenger - champion turned into one of the improvement (positive = better)."""
    low, high = interval
    return (low, high) if direction(name) > 0 else (-high, -low)


def gate_checks(cfg: dict[str, Any], cand: dict[str, float | None], champ: dict[str, float | None] | None,
                intervals: dict[str, list[float]] | None, identical: bool, classes: list[str],
                baseline: float | None = None) -> list[dict]:
    """Every rule of the gate, each with a sentence a reviewer can read.

    Decisions rest on the paired-bootstrap intervals (one-sided level `confidence`), never on a point
    estimate: the primary metric's lower bound must clear the mode's threshold; a guard fails only when
    the interval shows a drop larger than allowed (a point estimate on a few hundred rows of the
    critical class rejects unchanged models by chance)."""
    checks = []
    metric = cfg["primary_metric"]
    if baseline is not None:  # the trivial model: training class shares for everyone
        edge = direction(metric) * (cand[metric] - baseline)
        checks.append(_check(
            "baseline", metric, edge > 1e-12,
            f"{metric} {cand[metric]:.4f} " + ("beats" if edge > 1e-12 else "does not beat") +
            f" the trivial model that predicts the training class shares for everyone ({baseline:.4f})",
            round(cand[metric], 6), round(baseline, 6)))
    if champ is not None:
        if identical:
            checks.append(_check("changed", "model", False, "the challenger is byte-for-byte the "
                                 "champion's model (same sha256): nothing changed, nothing to promote"))
        gain = direction(metric) * (cand[metric] - champ[metric])
        low, _ = improvement_bounds(metric, intervals[metric])
        threshold, pct = cfg["threshold"], f"{100 * cfg['confidence']:g}%"
        ok = low > threshold - 1e-12
        if cfg["mode"] == "non_inferiority":
            claim = (f"so it is not worse by more than the margin {cfg['margin']:.4f}" if ok else
                     f"so it may be worse by more than the margin {cfg['margin']:.4f}")
        else:
            claim = (f"above {threshold:+.4f}: a real gain, not sampling noise" if ok else
                     f"not above {threshold:+.4f}: the gain may be sampling noise")
        checks.append(_check(
            cfg["mode"], metric, ok,
            f"{metric} changed by {gain:+.4f} ({cand[metric]:.4f} vs {champ[metric]:.4f}); its one-sided "
            f"{pct} lower confidence bound is {low:+.4f}, {claim}", round(low, 6), threshold))
        for name, allowed in cfg["max_drop"].items():
            if name not in cand or cand[name] is None or champ.get(name) is None:
                raise PipelineError(f"params.yaml: gate.max_drop.{name}: unknown metric (expected one "
                                    f"of {', '.join(k for k in cand if cand[k] is not None)})")
            drop = direction(name) * (champ[name] - cand[name])
            least = -improvement_bounds(name, intervals[name])[1]  # the smallest drop the data allow
            checks.append(_check(
                "guard", name, least <= allowed + 1e-12,
                f"{name} changed by {-drop:+.4f} ({cand[name]:.4f} vs {champ[name]:.4f}); "
                + (f"the interval shows a drop of at least {least:.4f}, more than the {allowed:.4f} "
                   "allowed" if least > allowed + 1e-12 else
                   f"a drop larger than {allowed:.4f} is not shown by the {pct} interval"),
                round(least, 6), allowed))
        if cfg["max_class_f1_drop"] is not None:
            allowed = cfg["max_class_f1_drop"]
            least = {c: -improvement_bounds(f"f1_{c}", intervals[f"f1_{c}"])[1] for c in classes}
            bad = [c for c, d in least.items() if d > allowed + 1e-12]
            worst = max(least, key=least.get)
            checks.append(_check(
                "guard", "class_f1", not bad,
                (f"F1 dropped by more than {allowed:.4f} for " + ", ".join(
                    f"{c} (at least {least[c]:.4f})" for c in bad)) if bad else
                f"no class's F1 is shown to drop by more than {allowed:.4f} (closest: {worst}, "
                f"change {cand[f'f1_{worst}'] - champ[f'f1_{worst}']:+.4f})", round(least[worst], 6),
                allowed))
    for name, floor in cfg["floors"].items():
        if name not in cand or cand[name] is None:
            raise PipelineError(f"params.yaml: gate.floors.{name}: unknown metric (expected one of "
                                f"{', '.join(k for k in cand if cand[k] is not None)})")
        value, up = cand[name], direction(name) > 0
        ok = value >= floor if up else value <= floor
        checks.append(_check(
            "floor", name, ok, f"{name} {value:.4f} is {'at or above' if up else 'at or below'} the floor "
            f"{floor:.4f}" if ok else f"{name} {value:.4f} is {'below' if up else 'above'} the floor "
            f"{floor:.4f}", round(value, 6), floor))
    return checks


# --- figures -------------------------------------------------------------------------------------


def confusion_pair_png(path: Path, y: np.ndarray, preds: dict[str, np.ndarray], classes: list[str]) -> None:
    """Confusion matrices side by side on one colour scale, so the eye compares like with like."""
    from sklearn.metrics import confusion_matrix

    from pipeline.core.files import save_figure
    from pipeline.core.plots import _plt

    plt = _plt()
    mats = {name: confusion_matrix(y, p, labels=range(len(classes))) for name, p in preds.items()}
    top = max(int(m.max()) for m in mats.values()) or 1
    fig, axes = plt.subplots(1, len(mats), figsize=(4.2 * len(mats), 3.8), squeeze=False,
                             layout="constrained")
    for n, (ax, (name, cm)) in enumerate(zip(axes[0], mats.items(), strict=True)):
        ax.imshow(cm, cmap="Blues", vmin=0, vmax=top)
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                        color="white" if cm[i, j] > top / 2 else "black")
        ax.set_xticks(range(len(classes)), classes)
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("predicted")
        if n == 0:
            ax.set_ylabel("actual")
        ax.set_title(name, fontsize=10)
    save_figure(path, fig)


# --- the command ---------------------------------------------------------------------------------


def _short(commit: str | None) -> str | None:
    return commit[:8] if commit else None


def run(params: dict[str, Any], base: str | None = None, log=print) -> dict[str, Any]:
    from pipeline.core import plots
    from pipeline.core.files import load_model, read_frame, read_json, sha256, write_json
    from pipeline.core.metrics import classification_metrics, rounded
    from pipeline.core.revision import production, resolve
    from pipeline.core.schema import from_params
    from pipeline.stages.evaluate import CARD_JSON
    from pipeline.stages.prepare import unseen_rows
    from pipeline.stages.train import PRODUCTION_MODEL, TIMINGS

    COMPARISON.unlink(missing_ok=True)  # a failed comparison leaves no decision behind (fail closed)
    cfg = gate_config(params)
    schema = from_params(params)
    classes = list(schema.classes)
    metric = cfg["primary_metric"]
    seed = int(params.get("seed", 0))

    if not PRODUCTION_MODEL.exists() or not CARD_JSON.exists():
        raise PipelineError(f"{PRODUCTION_MODEL}: the challenger is missing (run `dvc repro` first)")
    card = read_json(CARD_JSON)
    digest = sha256(PRODUCTION_MODEL)
    if (card.get("model") or {}).get("sha256") not in (None, digest):
        raise PipelineError(f"{CARD_JSON}: model.sha256 {card['model']['sha256'][:12]} does not match "
                            f"{PRODUCTION_MODEL} ({digest[:12]}): stale card, run `dvc repro`")
    test = read_frame(TEST_SET)
    if schema.target not in test.columns:
        raise PipelineError(f"{TEST_SET}: column '{schema.target}': the target is needed, not found")
    from pipeline.gitops.registry import production_ref

    ref = production_ref(params, base)
    if ref.note:
        log(f"compare: {ref.note}")
    base = ref.rev
    champion_rev = production(base)
    current = {Path(f.get("path", "")).stem: f.get("sha256") for f in card.get("data", {}).get("files", [])}
    keep, evaluation = unseen_rows(test, champion_rev.card if champion_rev else None, current, TEST_SET)
    if not keep.all():
        log(f"compare: {evaluation['test_rows'] - evaluation['rows']} of {evaluation['test_rows']} test rows "
            "left out: " + "; ".join(f"{e['rows']} {e['reason']}" for e in evaluation["excluded"]))
    test = test[keep].reset_index(drop=True)
    y = schema.class_index(test[schema.target])
    head = resolve("HEAD")
    cand_model = load_model(PRODUCTION_MODEL)
    proba_b = _scores(cand_model, card, test, classes, schema.features, f"challenger {PRODUCTION_MODEL}")
    values_b = classification_metrics(y, proba_b, classes)
    cand = flat_metrics(values_b, classes)
    if cand.get(metric) is None:
        try:
            from pipeline.core.metrics import lookup

            cand[metric] = lookup(values_b, metric)
        except KeyError:
            raise PipelineError(f"params.yaml: gate.primary_metric '{metric}': unknown metric") from None
    challenger = identity(card, "challenger", f"work tree @ {_short(head) or 'no commit'}", head, digest,
                          PRODUCTION_MODEL.stat().st_size)
    timing = TIMINGS / f"{challenger['family']}.json"  # this run's log (untracked): seconds are volatile
    challenger["training_seconds"] = read_json(timing)["train_seconds"] if timing.exists() else None
    baseline = trivial_baseline(metric, y, classes)

    result: dict[str, Any] = {
        "base": {"rev": base, "commit": None, "version": ref.version},
        "primary_metric": metric,
        "higher_is_better": direction(metric) > 0,
        "test_set": {"path": TEST_SET.as_posix(), "rows": int(len(y)), "sha256": sha256(TEST_SET),
                     "holdout_of": card.get("data", {}).get("test_holdout_of")},
        "evaluation": evaluation,
        "trivial_baseline": baseline,
        "gate": cfg,
    }
    FIGURES.mkdir(parents=True, exist_ok=True)
    roc = {"challenger": plots.curves(y, proba_b, classes, "roc")}
    if champion_rev is None:
        log(f"compare: {base} has no production model yet: the first model needs only the floors")
        checks = gate_checks(cfg, cand, None, None, False, classes, baseline)
        passed = all(c["passed"] for c in checks)
        result |= {
            "decision": "no_champion" if passed else "reject", "promote": passed,
            "delta": None, "confidence_interval": None, "mcnemar": None, "identical_models": False,
            "models": {"champion": None, "challenger": challenger},
            "metrics": {k: {"champion": None, "challenger": v, "delta": None} for k, v in cand.items()},
        }
        result["base"]["commit"] = resolve(base)
        confusion_pair_png(CONFUSION_PNG, y, {"challenger": proba_b.argmax(axis=1)}, classes)
        plots.curves_png(ROC_PNG, roc, "roc", "ROC one-vs-rest: challenger (no champion yet)")
    else:
        version = version_tag(champion_rev.commit)
        champion = identity(champion_rev.card, "champion", version or _short(champion_rev.commit),
                            champion_rev.commit, champion_rev.card.get("model", {}).get("sha256")
                            or _sha(champion_rev.model_bytes), len(champion_rev.model_bytes))
        champion["version_tag"] = version
        result["base"]["commit"] = champion_rev.commit
        proba_a = _scores(champion_rev.model, champion_rev.card, test, classes, schema.features,
                          f"champion at {base}")
        champ = flat_metrics(classification_metrics(y, proba_a, classes), classes)
        if champ.get(metric) is None:
            from pipeline.core.metrics import lookup

            champ[metric] = lookup(classification_metrics(y, proba_a, classes), metric)
        identical = champion["model_sha256"] == digest
        intervals, boot = gate_intervals(cfg, y, proba_a, proba_b, classes, seed)
        delta = cand[metric] - champ[metric]
        test_result = mcnemar(proba_a.argmax(axis=1) == y, proba_b.argmax(axis=1) == y)
        checks = gate_checks(cfg, cand, champ, intervals, identical, classes, baseline)
        passed = all(c["passed"] for c in checks)
        result |= {
            "decision": "promote" if passed else "reject", "promote": passed,
            "delta": delta, "confidence_interval": boot["interval"], "bootstrap": boot,
            "intervals": intervals,
            "mcnemar": test_result, "identical_models": identical,
            "flips": flip_table(proba_a.argmax(axis=1), proba_b.argmax(axis=1), classes),
            "models": {"champion": champion, "challenger": challenger},
            "metrics": {k: {"champion": champ.get(k), "challenger": v,
                            "delta": None if v is None or champ.get(k) is None else v - champ[k]}
                        for k, v in cand.items()},
        }
        label = f"champion {version or _short(champion_rev.commit)}"
        confusion_pair_png(CONFUSION_PNG, y, {f"{label} ({champion['family']})": proba_a.argmax(axis=1),
                                              f"challenger ({challenger['family']})": proba_b.argmax(axis=1)},
                           classes)
        plots.curves_png(ROC_PNG, {label: plots.curves(y, proba_a, classes, "roc"), **roc}, "roc",
                         "ROC one-vs-rest: champion vs challenger")
    result["checks"] = checks
    failed = [c["message"] for c in checks if not c["passed"]]
    result["reasons"] = failed if failed else [c["message"] for c in checks] or [
        "no floors configured and no champion to beat"]
    if cfg["cv_folds"] > 0:
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


def summary_line(result: dict[str, Any]) -> str:
    metric = result["primary_metric"]
    cand = result["metrics"][metric]["challenger"]
    if result["models"]["champion"] is None:
        head = f"compare: {result['decision']}: no champion at {result['base']['rev']}; challenger " \
               f"{metric} {cand:.4f}"
    else:
        m = result["metrics"][metric]
        low, high = result["confidence_interval"]
        head = (f"compare: {result['decision']}: {metric} {cand:.4f} vs champion "
                f"{result['models']['champion']['version']} {m['champion']:.4f} (delta {m['delta']:+.4f}, "
                f"{result['bootstrap']['confidence']:.0%} CI [{low:+.4f}, {high:+.4f}], McNemar p="
                f"{result['mcnemar']['p_value']:.3g})")
    return head + "\n" + "\n".join(f"  - {r}" for r in result["reasons"])


def cli(args: argparse.Namespace) -> int:
    result = run(P.load(args.params), args.base)
    print(summary_line(result))
    print(f"wrote {COMPARISON}, {CONFUSION_PNG}, {ROC_PNG}")
    return 0  # a rejection is a finding (the report says what merging will do); errors exit 2
