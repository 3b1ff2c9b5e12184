"""The promotion gate: its settings (params.yaml `gate:`), the paired-bootstrap intervals it judges
and its checks, each with a sentence a reviewer can read.

A single difference of two numbers says nothing about noise, so the gate asks for a paired bootstrap
confidence interval of the difference whose lower bound clears a tolerance, guards the metrics that
must not get worse (recall of the critical class, every class's F1) and checks absolute floors. Its
defaults live in params.yaml only: a missing key fails naming it, an unknown key (a typo) too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline import params as P
from pipeline.core.metrics import higher_is_better, require_costs
from pipeline.core.resampling import bootstrap_deltas, direction, percentile_interval
from pipeline.errors import PipelineError

KEYS = ("primary_metric", "mode", "non_inferiority", "superiority", "bootstrap_resamples", "max_drop",
        "max_increase", "max_class_f1_drop", "floors", "cv_folds")
GUARDS = {"max_drop": "drop", "max_increase": "increase"}  # guard block -> the worsening it bounds
MODES = ("non_inferiority", "superiority")
DISPLAY_LEVEL = 0.95  # the interval the report shows; decisions use the gate's one-sided level


def gate_config(params: dict[str, Any]) -> dict[str, Any]:
    """The gate from params.yaml (every key required), checked so a typo fails with its key named."""
    raw = P.section(params, "gate")
    if not isinstance(raw, dict):
        raise PipelineError("params.yaml: gate: expected a mapping")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise PipelineError(f"params.yaml: gate.{unknown[0]}: unknown key (expected one of "
                            f"{', '.join(KEYS)})")
    cfg = {key: P.section(params, "gate", key) for key in KEYS}
    primary_key = "gate.primary_metric"
    if not cfg["primary_metric"]:  # null: the metric training selects on
        cfg["primary_metric"] = P.section(params, "train", "primary_metric")
        primary_key = "train.primary_metric (gate.primary_metric null)"
    if cfg["mode"] not in MODES:
        raise PipelineError(f"params.yaml: gate.mode: {cfg['mode']!r}: expected one of {', '.join(MODES)}")
    for mode in MODES:
        block = cfg[mode]
        if not isinstance(block, dict) or set(block) - {"margin", "confidence"}:
            raise PipelineError(f"params.yaml: gate.{mode}: expected a mapping with margin and confidence")
        cfg[mode] = {k: _number(P.section(params, "gate", mode, k), f"gate.{mode}.{k}")
                     for k in ("margin", "confidence")}
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
    for key in (*GUARDS, "floors"):
        cfg[key] = {} if cfg[key] is None else cfg[key]  # an empty YAML block: none configured
        if not isinstance(cfg[key], dict):
            raise PipelineError(f"params.yaml: gate.{key}: expected a mapping metric: value")
        cfg[key] = {str(k): _number(v, f"gate.{key}.{k}") for k, v in cfg[key].items()}
    for name in cfg["max_increase"]:
        if higher_is_better(name):
            raise PipelineError(f"params.yaml: gate.max_increase.{name}: higher is better for {name}: "
                                "guard it with gate.max_drop (max_increase is for costs and losses)")
    costs = (params.get("schema") or {}).get("costs")
    require_costs(cfg["primary_metric"], costs, primary_key)
    for key in (*GUARDS, "floors"):
        for name in cfg[key]:
            require_costs(name, costs, f"gate.{key}.{name}")
    if cfg["max_class_f1_drop"] is not None:
        cfg["max_class_f1_drop"] = _number(cfg["max_class_f1_drop"], "gate.max_class_f1_drop")
    return cfg


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PipelineError(f"params.yaml: {key}: expected a number, got {value!r}")
    return float(value)


def gate_intervals(cfg: dict[str, Any], y: np.ndarray, proba_a: np.ndarray, proba_b: np.ndarray,
                   classes: list[str], seed: int,
                   costs: Any = None) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Paired-bootstrap intervals of challenger - champion for every metric the gate judges, on the
    same resamples (same seed); two-sided at 2c - 1 so each end is a one-sided bound at level c.
    Also the primary metric's 95 % interval, for display. `costs`: the matrix of expected_cost."""
    level = 2 * cfg["confidence"] - 1
    names = interval_metrics(cfg, classes)
    resamples = cfg["bootstrap_resamples"]
    deltas = bootstrap_deltas(y, proba_a, proba_b, names, classes, resamples, seed, costs)
    intervals = {m: percentile_interval(deltas[m], resamples, level, seed)["interval"] for m in names}
    # what reviewers read: the usual two-sided 95 % interval of the primary metric's difference
    return intervals, percentile_interval(deltas[cfg["primary_metric"]], resamples, DISPLAY_LEVEL, seed)


def _check(kind: str, name: str, passed: bool, message: str, value: Any = None,
           threshold: Any = None) -> dict[str, Any]:
    return {"kind": kind, "name": name, "passed": bool(passed), "value": value, "threshold": threshold,
            "message": message}


def interval_metrics(cfg: dict[str, Any], classes: list[str]) -> list[str]:
    """The metrics the gate judges on a paired-bootstrap interval: the primary one and the guards."""
    names = [cfg["primary_metric"], *cfg["max_drop"], *cfg["max_increase"]]
    if cfg["max_class_f1_drop"] is not None:
        names += [f"f1_{c}" for c in classes]
    return list(dict.fromkeys(names))


def improvement_bounds(name: str, interval: list[float]) -> tuple[float, float]:
    """An interval of challenger - champion turned into one of the improvement (positive = better)."""
    low, high = interval
    return (low, high) if direction(name) > 0 else (-high, -low)


def _guards(cfg: dict[str, Any], cand: dict[str, float | None], champ: dict[str, float | None],
            intervals: dict[str, list[float]], pct: str) -> list[dict[str, Any]]:
    """max_drop and max_increase: reject when the interval shows the metric worsening by more than
    allowed (a drop of a score, an increase of a cost or loss)."""
    checks = []
    for key, word in GUARDS.items():
        for name, allowed in cfg[key].items():
            if name not in cand or cand[name] is None or champ.get(name) is None:
                raise PipelineError(f"params.yaml: gate.{key}.{name}: unknown metric (expected one "
                                    f"of {', '.join(k for k in cand if cand[k] is not None)})")
            change = cand[name] - champ[name] if key == "max_increase" else \
                direction(name) * (cand[name] - champ[name])
            least = -improvement_bounds(name, intervals[name])[1]  # the smallest worsening the data allow
            article = "an" if word[0] in "aeiou" else "a"
            checks.append(_check(
                "guard", name, least <= allowed + 1e-12,
                f"{name} changed by {change:+.4f} ({cand[name]:.4f} vs {champ[name]:.4f}); "
                + (f"the interval shows {article} {word} of at least {least:.4f}, more than the "
                   f"{allowed:.4f} allowed" if least > allowed + 1e-12 else
                   f"{article} {word} larger than {allowed:.4f} is not shown by the {pct} interval"),
                round(least, 6), allowed))
    return checks


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
        trivial = ("the cheapest single decision for everyone, given the training class shares"
                   if metric == "expected_cost" else
                   "the trivial model that predicts the training class shares for everyone")
        checks.append(_check(
            "baseline", metric, edge > 1e-12,
            f"{metric} {cand[metric]:.4f} " + ("beats" if edge > 1e-12 else "does not beat") +
            f" {trivial} ({baseline:.4f})", round(cand[metric], 6), round(baseline, 6)))
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
            f"{metric} changed by {cand[metric] - champ[metric]:+.4f} ({cand[metric]:.4f} vs "
            f"{champ[metric]:.4f})" + ("" if direction(metric) > 0 else
                                       f", a gain of {gain:+.4f} as lower is better")
            + f"; the gain's one-sided {pct} lower confidence bound is {low:+.4f}, {claim}",
            round(low, 6), threshold))
        checks += _guards(cfg, cand, champ, intervals, pct)
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
