"""Drift: is the newest batch still what the production model learned from? Data, predictions, concept.

A column counts as drifted only when the change is both real and large enough to matter:
- real: significant after a Benjamini–Hochberg correction across the columns tested together
  (numeric: KS or Mann–Whitney, as the original system, Bonferroni-combined as 2·min(p); categorical:
  chi-squared). With 20 columns and no correction, p < 0.05 flags a stable column by chance alone.
- large: an effect size over a threshold from params (normalised Wasserstein or PSI for numbers;
  Jensen–Shannon or PSI for categories). At 100,000 rows every p-value is tiny: significance alone
  says the sample is big, not that the data moved.

The share of drifted features gives the original system's recommendation (keep / consider / retrain).
Prediction drift compares the production model's outputs on both samples with the same rule; concept
drift (labels needed) compares each feature's relation to the target and the model's performance.

Stage (`python -m pipeline drift`): current = the newest batch; reference = the batches the
production model (params drift.production_rev: `prod` = the registry's stage, or a git revision) was
trained on, read from its model card. That model is registry state, not a DVC dependency: after a
promotion changes it, `dvc repro -f drift`.
Two files: `python -m pipeline drift --reference REF.csv --current CUR.csv -o drift.json [--model M]`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.config import DRIFT, DRIFT_FIGURES, DRIFT_PLOT_DATA
from pipeline.core.schema import Schema
from pipeline.errors import PipelineError, UnfetchableError

REPORT = DRIFT
FIGURES = DRIFT_FIGURES
PLOT_DATA = DRIFT_PLOT_DATA
MAX_OVERLAYS = 12

DEFAULTS: dict[str, Any] = {
    "production_rev": "prod",
    "alpha": 0.05,
    "wasserstein_norm": 0.1,
    "psi": 0.2,
    "jensen_shannon": 0.1,
    "psi_bins": 10,
    "consider": 0.10,
    "retrain": 0.30,
    "concept": {"correlation_change": 0.1, "performance_drop": 0.02, "bootstrap": 1000,
                "confidence": 0.95, "metric": None},
    "seed": 0,
    "in_memory_rows": 5_000_000,
}


def settings(cfg: dict[str, Any] | None) -> dict[str, Any]:
    """The drift params with defaults filled in (callers may pass a partial dict)."""
    out = {**DEFAULTS, **(cfg or {})}
    out["concept"] = {**DEFAULTS["concept"], **((cfg or {}).get("concept") or {})}
    return out


# --- data drift ------------------------------------------------------------------------------------


def data_drift(reference, current, numeric: list[str], categorical: list[str],
               cfg: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per-column statistics, corrected significance, effect sizes, the verdict and recommendation."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from pipeline.core import stats
    from pipeline.core.columns import ParquetColumns

    cfg = settings(cfg)
    bins = int(cfg["psi_bins"])

    def column(col: str) -> dict[str, Any]:
        if col in numeric:
            return _numeric_column(reference, current, col, bins)
        ref, cur = _counts(reference[col]), _counts(current[col])
        out = {"type": "categorical", **stats.categorical(ref, cur)}
        out["pvalue"] = out["chi2"]["pvalue"]
        return out

    # one column per core: numpy's sorts and array passes release the GIL. A streamed side
    # (pipeline.core.columns) reads each column here, so it stays one column at a time: parallel columns
    # would hold several of them at once and multiply the peak memory the streaming bounds.
    columns = [*numeric, *categorical]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    streamed = isinstance(reference, ParquetColumns) or isinstance(current, ParquetColumns)
    workers = 1 if streamed else max(1, min(cores, len(columns)))
    with ThreadPoolExecutor(workers) as pool:
        features = dict(zip(columns, pool.map(column, columns), strict=True))
    return verdict(features, cfg)


def _counts(values) -> dict[str, int]:
    """Counts per category: counted here, or already counted while streaming (pipeline.core.columns)."""
    from pipeline.core import stats
    from pipeline.core.columns import CategoryCounts

    return dict(values.counts) if isinstance(values, CategoryCounts) else stats.category_counts(values)


def _numeric_column(reference, current, col: str, bins: int) -> dict[str, Any]:
    """One column of each side at a time (a streamed column is read here, sorted, then dropped)."""
    from pipeline.core import stats

    try:
        xs, ref_missing = stats.sorted_values(reference[col])
        ys, cur_missing = stats.sorted_values(current[col])
    except (TypeError, ValueError):
        raise PipelineError(f"column '{col}': expected numbers (a numeric feature), found text "
                            f"such as {_text_sample(reference[col], current[col])}") from None
    out: dict[str, Any] = {"type": "numeric",
                           "missing": {"reference": _share(ref_missing, xs.size),
                                       "current": _share(cur_missing, ys.size)}}
    if xs.size == 0 or ys.size == 0:
        return {**out, "pvalue": 1.0, "skipped": "no values on one side"}
    out.update(stats.numeric(xs, ys, bins))
    # the original system's rule was "KS or Mann–Whitney": one test for the column, Bonferroni-combined
    out["pvalue"] = min(1.0, 2 * min(out["ks"]["pvalue"], out["mann_whitney"]["pvalue"]))
    return out


def _share(missing: int, present: int) -> float:
    total = missing + present
    return missing / total if total else 0.0


def _text_sample(*columns) -> str:
    import pandas as pd

    for values in columns:
        bad = pd.to_numeric(values, errors="coerce").isna() & pd.Series(values).notna()
        if bad.any():
            return repr(str(pd.Series(values)[bad].iloc[0]))
    return "non-numeric values"


def verdict(features: dict[str, dict[str, Any]], cfg: dict[str, Any]) -> dict[str, Any]:
    """Benjamini–Hochberg across columns, then significance AND effect size; the dataset decision."""
    from pipeline.core import stats

    cfg = settings(cfg)
    names = list(features)
    adjusted = stats.benjamini_hochberg([features[c]["pvalue"] for c in names])
    for name, q in zip(names, adjusted, strict=True):
        f = features[name]
        f["pvalue_adjusted"] = float(q)
        f["significant"] = bool(q <= cfg["alpha"])
        if f.get("skipped"):
            f["effect"], f["large_effect"] = None, False
        elif f["type"] == "numeric":
            f["effect"] = {"measure": "wasserstein_norm", "value": f["wasserstein_norm"],
                           "threshold": cfg["wasserstein_norm"]}
            f["large_effect"] = bool(f["wasserstein_norm"] >= cfg["wasserstein_norm"]
                                     or f["psi"] >= cfg["psi"])
        else:
            f["effect"] = {"measure": "jensen_shannon", "value": f["jensen_shannon"],
                           "threshold": cfg["jensen_shannon"]}
            f["large_effect"] = bool(f["jensen_shannon"] >= cfg["jensen_shannon"] or f["psi"] >= cfg["psi"])
        f["drifted"] = f["significant"] and f["large_effect"]
    drifted = [n for n in names if features[n]["drifted"]]
    share = len(drifted) / len(names) if names else 0.0
    return {
        "share_drifted": share,
        "recommendation": recommendation(share, cfg),
        "n_drifted": len(drifted),
        "n_features": len(names),
        "drifted_features": drifted,
        "thresholds": {k: cfg[k] for k in ("alpha", "wasserstein_norm", "psi", "jensen_shannon",
                                           "psi_bins", "consider", "retrain")},
        "features": features,
    }


def recommendation(share: float, cfg: dict[str, Any] | None = None) -> str:
    """The original rule: over `retrain` (30 %) retrain, over `consider` (10 %) consider, else keep."""
    cfg = settings(cfg)
    if share > cfg["retrain"]:
        return "retrain"
    if share > cfg["consider"]:
        return "consider"
    return "keep"


# --- prediction drift --------------------------------------------------------------------------------


def predictions(model, frame, schema: Schema):
    """The model's class probabilities and predicted class as a frame of drift columns."""
    import pandas as pd

    from pipeline.stages.evaluate import predict_proba

    proba = predict_proba(model, frame, schema)
    classes = list(schema.classes)
    out = pd.DataFrame({f"proba_{c}": proba[:, i] for i, c in enumerate(classes)})
    out["predicted_class"] = pd.Series(proba.argmax(axis=1)).map(dict(enumerate(classes)))
    return out, proba


def prediction_drift(model, reference, current, schema: Schema, cfg: dict[str, Any] | None = None,
                     ) -> dict[str, Any]:
    """The production model's outputs on reference vs current: class mix and per-class probabilities."""
    ref, _ = predictions(model, reference, schema)
    cur, _ = predictions(model, current, schema)
    numeric = [c for c in ref.columns if c.startswith("proba_")]
    result = data_drift(ref, cur, numeric, ["predicted_class"], cfg)
    mix = result["features"]["predicted_class"]["shares"]
    return {
        "drifted": result["n_drifted"] > 0,
        "drifted_outputs": result["drifted_features"],
        "class_mix": {c: mix.get(c, {"reference": 0.0, "current": 0.0}) for c in schema.classes},
        "mean_probability": {c.removeprefix("proba_"): result["features"][c]["mean"] for c in numeric},
        "outputs": result["features"],
    }


# --- concept drift -----------------------------------------------------------------------------------


def concept_drift(model, reference, current, schema: Schema, cfg: dict[str, Any] | None = None,
                  reference_performance: dict[str, Any] | None = None) -> dict[str, Any]:
    """Has the feature→target relation changed, and does the model now do worse? Needs labels.

    Relation: each numeric feature's Pearson correlation with the target's class index (classes in
    their params order, e.g. Bajo < Medio < Alto; point-biserial for a binary target), compared by
    Fisher's z-test with Benjamini–Hochberg, changed when also |Δr| ≥ concept.correlation_change;
    plus the target rate per reference-decile bin, for people. Performance: the model on the labelled
    current batch with a bootstrap interval, against `reference_performance` (its model card's test
    metrics: honest, held out) or else its score on the reference rows.
    """

    from pipeline.core import stats
    from pipeline.core.metrics import classification_metrics, lookup

    cfg = settings(cfg)
    c_cfg = cfg["concept"]
    if schema.target not in current.columns or current[schema.target].notna().sum() == 0:
        return {"available": False, "reason": f"current batch has no labels ('{schema.target}')"}
    cur = current[current[schema.target].notna()]
    ref = reference[reference[schema.target].notna()] if schema.target in reference.columns else None
    classes = list(schema.classes)
    y_cur = schema.class_index(cur[schema.target])

    relations: dict[str, dict[str, Any]] = {}
    if ref is not None and len(ref) > 3 and len(cur) > 3:
        y_ref = schema.class_index(ref[schema.target])
        for col in schema.numeric:
            relations[col] = _relation(ref[col], y_ref, cur[col], y_cur, int(cfg["psi_bins"]))
        tested = [c for c in relations if relations[c]["pvalue"] is not None]
        adjusted = stats.benjamini_hochberg([relations[c]["pvalue"] for c in tested])
        for col, q in zip(tested, adjusted, strict=True):
            r = relations[col]
            r["pvalue_adjusted"] = float(q)
            r["changed"] = bool(q <= cfg["alpha"] and abs(r["correlation"]["diff"])
                                >= c_cfg["correlation_change"])
    changed = sorted((c for c in relations if relations[c].get("changed")),
                     key=lambda c: -abs(relations[c]["correlation"]["diff"]))

    metric = c_cfg.get("metric") or "accuracy"
    _, proba = predictions(model, cur, schema)
    current_values = classification_metrics(y_cur, proba, classes)
    performance: dict[str, Any] = {"metric": metric, "current": lookup(current_values, metric),
                                   "rows": int(len(y_cur))}
    lo, hi = bootstrap_interval(y_cur, proba, classes, metric, int(c_cfg["bootstrap"]),
                                float(c_cfg["confidence"]), int(cfg.get("seed", 0)))
    performance["current_ci"] = [lo, hi]
    if reference_performance is not None:
        performance["reference"] = lookup(reference_performance, metric)
        performance["reference_source"] = "model card (test holdout)"
    elif ref is not None and len(ref):
        _, ref_proba = predictions(model, ref, schema)
        performance["reference"] = lookup(classification_metrics(schema.class_index(ref[schema.target]),
                                                                 ref_proba, classes), metric)
        performance["reference_source"] = "reference rows (in-sample when they are the training data)"
    degraded = False
    if performance.get("reference") is not None:
        from pipeline.core.metrics import higher_is_better

        sign = 1 if higher_is_better(metric) else -1
        ref_value = performance["reference"]
        performance["diff"] = performance["current"] - ref_value
        performance["diff_ci"] = [lo - ref_value, hi - ref_value]
        # worse by at least the threshold, and the interval excludes "no worse"
        worse_bound = hi - ref_value if sign > 0 else -(lo - ref_value)
        degraded = bool(-sign * performance["diff"] >= c_cfg["performance_drop"] and worse_bound < 0)
    performance["degraded"] = degraded
    return {
        "available": True,
        "drifted": bool(changed) or degraded,
        "changed_relations": changed,
        "relations": relations,
        "performance": performance,
        "thresholds": {"correlation_change": c_cfg["correlation_change"],
                       "performance_drop": c_cfg["performance_drop"], "alpha": cfg["alpha"],
                       "confidence": c_cfg["confidence"]},
    }


def _relation(ref_x, y_ref, cur_x, y_cur, bins: int) -> dict[str, Any]:
    """Correlation with the ordinal target (Fisher z-test of the change) and target mean per bin."""
    import numpy as np
    from scipy import special

    from pipeline.core import stats

    def corr(x, y):
        x = stats._as_float(x)
        keep = ~np.isnan(x)
        x, y = x[keep], y[keep].astype(float)
        if x.size < 4 or x.std() == 0 or y.std() == 0:
            return None, int(x.size), x, y
        return float(np.corrcoef(x, y)[0, 1]), int(x.size), x, y

    r1, n1, x1, t1 = corr(ref_x, y_ref)
    r2, n2, x2, t2 = corr(cur_x, y_cur)
    out: dict[str, Any] = {"correlation": {"reference": r1, "current": r2,
                                           "diff": (r2 - r1) if None not in (r1, r2) else 0.0},
                           "pvalue": None, "changed": False}
    if r1 is not None and r2 is not None:
        z1, z2 = np.arctanh(np.clip([r1, r2], -0.999999, 0.999999))
        z = (z2 - z1) / np.sqrt(1 / (n1 - 3) + 1 / (n2 - 3))
        out["pvalue"] = float(2 * special.ndtr(-abs(z)))
    if x1.size and x2.size:
        edges, _, _ = stats.quantile_bins(np.sort(x1), np.sort(x2), bins)
        b1, b2 = np.searchsorted(edges, x1, side="left"), np.searchsorted(edges, x2, side="left")
        k = edges.size + 1

        def mean_per_bin(b, t):
            counts = np.bincount(b, minlength=k)
            sums = np.bincount(b, weights=t, minlength=k)
            return [float(s / c) if c else None for s, c in zip(sums, counts, strict=True)]

        out["target_mean_by_bin"] = {"edges": edges.tolist(), "reference": mean_per_bin(b1, t1),
                                     "current": mean_per_bin(b2, t2)}
    return out


def confusion_metric(cm, metric: str, classes: list[str]):
    """A metric from confusion matrices (…, k, k) (rows true, columns predicted), vectorised.

    Same definitions as pipeline.core.metrics.classification_metrics (zero_division=0), so a bootstrap over
    thousands of resamples costs one multinomial draw instead of thousands of sklearn calls.
    """
    import numpy as np

    cm = np.asarray(cm, dtype=float)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support, predicted = cm.sum(axis=-1), cm.sum(axis=-2)
    n = support.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, tp / support, 0.0)
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        if metric == "accuracy":
            return tp.sum(axis=-1) / n
        if metric == "balanced_accuracy":
            present = support > 0
            return (recall * present).sum(axis=-1) / present.sum(axis=-1)
        if metric == "f1_macro":
            return f1.mean(axis=-1)
        for stat, values in (("precision", precision), ("recall", recall), ("f1", f1)):
            if metric == f"{stat}_weighted":
                return (values * support).sum(axis=-1) / n
            if metric.startswith(f"{stat}_") and metric[len(stat) + 1:] in classes:
                return values[..., classes.index(metric[len(stat) + 1:])]
    return None


def bootstrap_interval(y, proba, classes: list[str], metric: str, resamples: int, confidence: float,
                       seed: int) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of `metric` over the rows."""
    import numpy as np

    from pipeline.core.metrics import brier, classification_metrics, lookup

    if resamples <= 0 or len(y) == 0:
        return None, None
    rng = np.random.default_rng(seed)
    k, n = len(classes), len(y)
    pred = proba.argmax(axis=1)
    tail = (1 - confidence) / 2 * 100
    if confusion_metric(np.eye(k), metric, classes) is not None:
        # a resample's confusion matrix is a multinomial draw over the cells: same law, no row copies
        cells = np.bincount(y * k + pred, minlength=k * k) / n
        draws = rng.multinomial(n, cells, size=resamples).reshape(resamples, k, k)
        values = confusion_metric(draws, metric, classes)
    elif metric in ("log_loss", "brier"):
        per_row = (-np.log(np.clip(proba[np.arange(n), y], 1e-15, 1)) if metric == "log_loss"
                   else np.array([brier(y[i:i + 1], proba[i:i + 1]) for i in range(n)]))
        values = np.array([per_row[rng.integers(0, n, n)].mean() for _ in range(resamples)])
    else:  # e.g. roc_auc: the shared implementation, resample by resample
        values = []
        for _ in range(resamples):
            idx = rng.integers(0, n, n)
            try:
                values.append(lookup(classification_metrics(y[idx], proba[idx], classes), metric))
            except KeyError:
                continue
        values = np.array(values)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None, None
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


# --- reference selection (stage mode) ------------------------------------------------------------------


def choose_reference(params: dict[str, Any], files: list[Path], rev: str):
    """The production model's training batches (minus the current one), or a fallback that says why."""
    from pipeline.core.revision import production
    from pipeline.gitops.registry import production_ref
    from pipeline.stages.prepare import window

    current = files[-1]
    ref = production_ref(params, rev)
    info: dict[str, Any] = {"production_rev": rev, "resolved": ref.rev}
    if ref.note:
        info["note"] = ref.note
    rev = ref.rev
    prod, reason = None, None
    try:
        prod = production(rev)
        if prod is None:
            reason = f"revision '{rev}' has no production model yet"
    except UnfetchableError:
        raise  # the revision names a model we cannot see: stop, never fall back (fail closed)
    except PipelineError as exc:
        reason = str(exc)
    listed: list[Path] = []
    if prod is not None:
        info["commit"] = prod.commit
        entries = (prod.card.get("data") or {}).get("files") or []
        listed = [Path(e["path"]) for e in entries if isinstance(e, dict) and e.get("path")]
        missing = [p.as_posix() for p in listed if not p.exists()]
        listed = [p for p in listed if p.resolve() != current.resolve()]
        if missing:
            reason = f"the model card of {rev} lists files missing here: {', '.join(missing)}"
        elif not listed:
            reason = f"the model card of {rev} lists no training batch other than the current one"
        else:
            from pipeline.core.files import sha256

            changed = [e["path"] for e in entries if isinstance(e, dict) and e.get("sha256")
                       and Path(e["path"]).exists() and sha256(e["path"]) != e["sha256"]]
            info.update(source=f"training window of the production model ({rev} @ {prod.commit[:10]})",
                        fallback=False)
            if changed:
                info["changed_since_training"] = changed
            return listed, current, info, prod
    window_files = [f for f in window(files, P.section(params, "window")) if f != current]
    info.update(source=f"fallback: every batch in the training window except the newest ({reason})",
                fallback=True, reason=reason)
    return window_files, current, info, prod


# --- output -----------------------------------------------------------------------------------------------


def _round(value: Any, digits: int = 6) -> Any:
    """Six significant digits: git diffs of drift.json show real changes, tiny p-values survive."""
    import math

    if isinstance(value, dict):
        return {k: _round(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round(v, digits) for v in value]
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return float(f"{value:.{digits}g}")
    return value


def _ordered(result: dict[str, Any]) -> dict[str, Any]:
    """The verdict and provenance first, the per-feature detail last: drift.json reads top down."""
    head = ["share_drifted", "recommendation", "n_drifted", "n_features", "drifted_features",
            "reference", "current", "columns", "prediction_drift", "concept_drift", "thresholds"]
    out = {k: result[k] for k in head if k in result}
    return out | {k: v for k, v in result.items() if k not in out}


def summary_lines(result: dict[str, Any]) -> list[str]:
    ref, cur = result.get("reference", {}), result.get("current", {})
    if result.get("skipped"):
        return [f"drift: skipped ({result['skipped']})"]
    lines = [f"drift: {cur.get('name', 'current')} ({cur.get('rows', '?')} rows) vs "
             f"{ref.get('name', 'reference')} ({ref.get('rows', '?')} rows): "
             f"{result['n_drifted']} of {result['n_features']} features drifted "
             f"({result['share_drifted']:.0%}) -> {result['recommendation']}"]
    if ref.get("source"):
        lines.append(f"  reference: {ref['source']}")
    for name in result["drifted_features"]:
        f = result["features"][name]
        eff = f["effect"]
        lines.append(f"  drifted: {name} ({eff['measure']} {eff['value']:.3g}, psi {f['psi']:.3g}, "
                     f"adjusted p {f['pvalue_adjusted']:.2g})")
    pdrift = result.get("prediction_drift") or {}
    if "drifted" in pdrift:
        mix = ", ".join(f"{c} {v['reference']:.0%}->{v['current']:.0%}"
                        for c, v in pdrift["class_mix"].items())
        lines.append(f"  prediction drift: {'yes' if pdrift['drifted'] else 'no'} (class mix {mix})")
    elif pdrift.get("reason"):
        lines.append(f"  prediction drift: not measured ({pdrift['reason']})")
    cdrift = result.get("concept_drift") or {}
    if cdrift.get("available"):
        perf = cdrift["performance"]
        rel = "; ".join(f"{c} r {cdrift['relations'][c]['correlation']['reference']:.2f}->"
                        f"{cdrift['relations'][c]['correlation']['current']:.2f}"
                        for c in cdrift["changed_relations"][:3])
        ci = perf.get("current_ci") or [None, None]
        perf_txt = f"{perf['metric']} {perf['current']:.3f}"
        if ci[0] is not None:
            perf_txt += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
        if perf.get("reference") is not None:
            perf_txt += f" vs {perf['reference']:.3f}"
        lines.append(f"  concept drift: {'yes' if cdrift['drifted'] else 'no'} ({perf_txt}"
                     f"{'; ' + rel if rel else ''})")
    elif cdrift.get("reason"):
        lines.append(f"  concept drift: not measured ({cdrift['reason']})")
    return lines


def write_figures(result: dict[str, Any], reference, current, directory: Path,
                  plot_data: Path | None = None) -> list[Path]:
    """drift.png (every feature's effect size against its threshold) and overlays of drifted ones."""
    import numpy as np

    from pipeline.core.files import save_figure, write_json
    from pipeline.core.plots import pyplot

    plt = pyplot()
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.png"):
        old.unlink()
    written = []
    feats = result["features"]
    rows = [{"feature": name, "type": f["type"], "measure": f["effect"]["measure"],
             "effect": round(float(f["effect"]["value"]), 6), "threshold": f["effect"]["threshold"],
             "pvalue_adjusted": _round(f["pvalue_adjusted"]), "drifted": f["drifted"]}
            for name, f in feats.items() if f.get("effect")]
    if plot_data is not None:
        write_json(plot_data, rows)
    if rows:
        order = sorted(rows, key=lambda r: r["effect"] / max(r["threshold"], 1e-12))
        fig, ax = plt.subplots(figsize=(6.5, 0.28 * len(order) + 1.4))
        colors = ["#c0392b" if r["drifted"] else ("#e69f00" if r["effect"] >= r["threshold"]
                                                  else "#7f8c8d") for r in order]
        y = np.arange(len(order))
        ax.barh(y, [r["effect"] for r in order], color=colors)
        ax.scatter([r["threshold"] for r in order], y, marker="|", s=120, color="black", zorder=3,
                   label="threshold")
        ax.set_yticks(y, [f"{r['feature']} ({'W/σ' if r['type'] == 'numeric' else 'JS'})"
                          for r in order], fontsize=7)
        ax.set_xlabel("effect size (numeric: Wasserstein / reference std; categorical: Jensen–Shannon)",
                      fontsize=7)
        ax.set_title(f"Drift per feature: {result['n_drifted']} of {result['n_features']} drifted "
                     f"-> {result['recommendation']}\n(red: significant after BH and over threshold)",
                     fontsize=9)
        from matplotlib.patches import Patch

        handles = [Patch(color="#c0392b", label="drifted"),
                   Patch(color="#e69f00", label="large effect, not significant"),
                   Patch(color="#7f8c8d", label="no drift"), *ax.get_legend_handles_labels()[0]]
        ax.legend(handles=handles, fontsize=7, loc="lower right")
        path = directory / "drift.png"
        save_figure(path, fig)
        written.append(path)
    for name in result["drifted_features"][:MAX_OVERLAYS]:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        if feats[name]["type"] == "numeric":
            from pipeline.core import stats

            a = stats._as_float(reference[name])
            b = stats._as_float(current[name])
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            lo, hi = np.percentile(np.concatenate([a, b]), [0.5, 99.5])
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            edges = np.linspace(lo, hi, 41)
            ax.hist(np.clip(a, lo, hi), bins=edges, weights=np.full(a.size, 1 / a.size), alpha=0.5,
                    label="reference")
            ax.hist(np.clip(b, lo, hi), bins=edges, weights=np.full(b.size, 1 / b.size), alpha=0.5,
                    label="current")
            ax.set_ylabel("share of rows")
            f = feats[name]
            ax.set_title(f"{name}: W/σ {f['wasserstein_norm']:.2f}, PSI {f['psi']:.2f}, "
                         f"mean {f['mean']['reference']:.4g} -> {f['mean']['current']:.4g}", fontsize=8)
        else:
            shares = feats[name]["shares"]
            cats = list(shares)[:20]
            x = np.arange(len(cats))
            ax.bar(x - 0.2, [shares[c]["reference"] for c in cats], 0.4, label="reference")
            ax.bar(x + 0.2, [shares[c]["current"] for c in cats], 0.4, label="current")
            ax.set_xticks(x, cats, rotation=30, ha="right", fontsize=7)
            ax.set_ylabel("share")
            ax.set_title(f"{name}: JS {feats[name]['jensen_shannon']:.2f}, PSI {feats[name]['psi']:.2f}",
                         fontsize=8)
        ax.legend(fontsize=7)
        path = directory / f"{_safe(name)}.png"
        save_figure(path, fig)
        written.append(path)
    return written


def _safe(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "feature"


# --- stage and file modes ---------------------------------------------------------------------------------


def held_out_rows(files: list[Path], lengths: list[int], card: dict[str, Any]):
    """Mask of the concatenated `files` rows the model held out (its validation and test rows, from
    the split bit masks in its card), and a note; None when the card records none of them."""
    import numpy as np

    from pipeline.core.files import sha256
    from pipeline.stages.prepare import unpack_rows

    entries = {Path(e.get("path", "")).as_posix(): e for e in (card.get("data") or {}).get("files") or []}
    parts = []
    for path, n in zip(files, lengths, strict=True):
        entry = entries.get(path.as_posix()) or {}
        splits = entry.get("splits")
        if not splits or entry.get("file_rows") != n or entry.get("sha256") != sha256(path):
            parts.append(np.zeros(n, dtype=bool))
            continue
        parts.append(~unpack_rows(splits["train"], n))
    keep = np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
    if not keep.any():
        return None, {"rows": int(sum(lengths)), "source": "training rows: the model card records no "
                      "held-out rows in the reference batches (a forest's outputs on them look sharper)"}
    return keep, {"rows": int(keep.sum()), "source": "the reference rows the model held out "
                  "(validation and test splits in its card), not its training rows"}


def _read(paths: list[Path], schema_columns: list[str] | None = None, numeric: list[str] | None = None,
          lengths: list[int] | None = None, limit_rows: int | None = None):
    """Read batches; schema columns must be there, numeric ones must hold numbers (named if not).
    `lengths`, when given, receives each file's row count (in order).

    Parquet batches with more than `limit_rows` rows together are not read: their columns are
    streamed one at a time while the statistics need them (pipeline.core.columns)."""
    import pandas as pd

    from pipeline.core import columns
    from pipeline.core.files import read_table

    if limit_rows is not None and columns.streamable(paths, limit_rows):
        source = columns.ParquetColumns(paths)
        for col in schema_columns or []:
            if col not in source:
                raise PipelineError(f"{paths[0]}: column '{col}': required by the schema, not found")
        error = columns.numeric_types_error(source, numeric or [])
        if error:
            raise PipelineError(error)
        return source
    frames = []
    for path in paths:
        frame = read_table(path)
        for col in schema_columns or []:
            if col not in frame.columns:
                raise PipelineError(f"{path}: column '{col}': required by the schema, not found")
        _check_numeric(path, frame, numeric or [])
        frames.append(frame)
        if lengths is not None:
            lengths.append(len(frame))
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _check_numeric(path, frame, numeric: list[str]) -> None:
    """Text in a numeric column: one line naming the file, the column and the rule."""
    import pandas as pd

    from pipeline.core.columns import ParquetColumns, numeric_types_error

    if isinstance(frame, ParquetColumns):  # types from the Parquet schema, no column read
        error = numeric_types_error(frame, numeric)
        if error:
            raise PipelineError(error)
        return
    for col in numeric:
        if col in frame.columns and not (pd.api.types.is_numeric_dtype(frame[col])
                                         or frame[col].isna().all()):
            raise PipelineError(f"{path}: column '{col}': expected numbers (a numeric feature), "
                                f"found text such as {_text_sample(frame[col])}")


def _model_parts(params: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """Concept-drift settings: the metric defaults to train.primary_metric; the seed to params.seed."""
    cfg = settings(cfg)
    if not cfg["concept"].get("metric"):
        cfg["concept"]["metric"] = (params.get("train") or {}).get("primary_metric", "accuracy")
    cfg["seed"] = int(params.get("seed", 0) or 0)
    return cfg


def analyse(reference, current, schema: Schema | None, numeric: list[str], categorical: list[str],
            cfg: dict[str, Any], model=None, reference_performance=None, model_reason: str = "",
            held_out=None) -> dict:
    """Data drift, then prediction and concept drift when a model (and labels) are at hand.

    `held_out`: the reference rows the model never trained on, for its reference predictions (a
    forest's outputs on its own training rows are overconfident, so every month would "drift")."""
    from pipeline.core.columns import ParquetColumns

    result = data_drift(reference, current, numeric, categorical, cfg)
    streamed = isinstance(reference, ParquetColumns) or isinstance(current, ParquetColumns)
    if streamed:
        model, model_reason = None, (f"more rows than drift.in_memory_rows ({cfg['in_memory_rows']}): "
                                     "the columns were streamed, the model needs whole rows")
    if model is not None and schema is not None:
        result["prediction_drift"] = prediction_drift(
            model, reference if held_out is None else held_out, current, schema, cfg)
        result["concept_drift"] = concept_drift(model, reference, current, schema, cfg,
                                                reference_performance)
    else:
        reason = model_reason or "no model"
        result["prediction_drift"] = {"reason": reason}
        result["concept_drift"] = {"available": False, "reason": reason}
    return result


def run_stage(params: dict[str, Any], output: Path = REPORT) -> dict[str, Any]:
    from pipeline.core.files import batch_files, write_json
    from pipeline.core.schema import from_params

    schema = from_params(params)
    cfg = _model_parts(params, P.section(params, "drift"))
    data_cfg = P.section(params, "data")
    files = batch_files(data_cfg["batches_dir"], data_cfg.get("pattern", "*.csv"))
    ref_files, current_file, info, prod = choose_reference(params, files, str(cfg["production_rev"]))
    base = {"reference": {**info, "files": [f.as_posix() for f in ref_files]},
            "current": {"file": current_file.as_posix(), "name": current_file.name}}
    if not ref_files:
        result = {**base, "skipped": "only one batch: nothing to compare the newest batch with",
                  "features": {}, "n_features": 0, "n_drifted": 0, "drifted_features": [],
                  "share_drifted": 0.0, "recommendation": "keep",
                  "prediction_drift": {"reason": "no reference"},
                  "concept_drift": {"available": False, "reason": "no reference"}}
        write_figures(result, None, None, FIGURES, PLOT_DATA)
        write_json(output, _round(result))
        return result
    needed, limit = [*schema.features], int(cfg["in_memory_rows"])
    lengths: list[int] = []
    reference = _read(ref_files, needed, list(schema.numeric), lengths, limit)
    current = _read([current_file], needed, list(schema.numeric), limit_rows=limit)
    card_metrics, held_out = None, None
    if prod is not None:
        card_metrics = ((prod.card.get("metrics") or {}).get("test")) or None
        if lengths:  # read in memory (a streamed reference gets no model outputs: see analyse)
            keep, base["reference"]["predictions"] = held_out_rows(ref_files, lengths, prod.card)
            held_out = reference[keep] if keep is not None else None
    result = analyse(reference, current, schema, list(schema.numeric), list(schema.categorical), cfg,
                     model=prod.model if prod is not None else None,
                     reference_performance=card_metrics,
                     model_reason=f"no production model at '{cfg['production_rev']}'", held_out=held_out)
    base["reference"].update(rows=len(reference), name=f"{len(ref_files)} batch(es)")
    base["current"]["rows"] = len(current)
    result = _ordered({**result, **base})
    write_figures(result, reference, current, FIGURES, PLOT_DATA)
    write_json(output, _round(result))
    return result


def infer_columns(reference, current, exclude: set[str]) -> tuple[list[str], list[str], list[str]]:
    """Numeric when both sides parse as numbers; categorical otherwise; identifier-like text skipped."""
    import pandas as pd

    from pipeline.core.columns import ParquetColumns

    numeric, categorical, skipped = [], [], []
    for col in reference.columns:
        if col not in current.columns or col in exclude:
            continue
        if isinstance(reference, ParquetColumns) or isinstance(current, ParquetColumns):
            # streamed: the Parquet types decide (no distinct count, so no identifier skipping)
            both = all(s.is_numeric(col) if isinstance(s, ParquetColumns) else
                       pd.api.types.is_numeric_dtype(s[col]) for s in (reference, current))
            (numeric if both else categorical).append(col)
            continue
        a, b = reference[col], current[col]
        if all(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) for s in (a, b)):
            numeric.append(col)
            continue
        distinct = a.nunique(dropna=True)
        if distinct > 50 and distinct > 0.5 * a.notna().sum():
            skipped.append(col)  # ids, free text: every value new, nothing to compare
        else:
            categorical.append(col)
    return numeric, categorical, skipped


def run_files(params_path: str, reference_path: str, current_path: str, output: str,
              model_path: str | None = None, figures: str | None = None) -> dict[str, Any]:
    from pipeline.core.files import load_model, write_json
    from pipeline.core.schema import from_params

    params = P.load(params_path) if Path(params_path).exists() else {}
    limit = int(settings(params.get("drift"))["in_memory_rows"])
    reference = _read([Path(reference_path)], limit_rows=limit)
    current = _read([Path(current_path)], limit_rows=limit)
    schema = None
    if params:
        try:
            candidate = from_params(params)
            if all(c in reference.columns and c in current.columns for c in candidate.features):
                schema = candidate
        except PipelineError:
            schema = None
    cfg = _model_parts(params, params.get("drift") or {})
    if schema is not None:
        numeric, categorical, skipped = list(schema.numeric), list(schema.categorical), []
        source = "schema from params.yaml"
        _check_numeric(reference_path, reference, numeric)
        _check_numeric(current_path, current, numeric)
    else:
        numeric, categorical, skipped = infer_columns(reference, current, set())
        source = "inferred from the files (their columns do not match params.yaml's schema)"
    if not numeric and not categorical:
        raise PipelineError(f"{reference_path}, {current_path}: no common columns to compare")
    model, reason = None, "no --model given"
    if model_path:
        if schema is None:
            raise PipelineError(f"--model {model_path}: needs the files to match params.yaml's schema "
                                "(the model's features)")
        model = load_model(model_path)
    result = analyse(reference, current, schema, numeric, categorical, cfg, model=model,
                     model_reason=reason)
    result["reference"] = {"file": reference_path, "name": Path(reference_path).name,
                           "rows": len(reference), "source": "--reference"}
    result["current"] = {"file": current_path, "name": Path(current_path).name, "rows": len(current)}
    result["columns"] = {"source": source, "skipped": skipped}
    result = _ordered(result)
    if figures:
        write_figures(result, reference, current, Path(figures))
    write_json(output, _round(result))
    return result


def cli(args: argparse.Namespace) -> int:
    """Exit 0 whatever the verdict: drift is a finding, not an error."""
    if bool(args.reference) != bool(args.current):
        raise PipelineError("drift: give both --reference and --current (or neither, for the stage)")
    if args.reference:
        result = run_files(args.params, args.reference, args.current, args.output or "drift.json",
                           args.model, args.figures)
        out = args.output or "drift.json"
    else:
        if args.model:
            raise PipelineError("drift: --model is for the two-file mode; the stage uses the production "
                                "model (drift.production_rev)")
        out = args.output or REPORT.as_posix()
        result = run_stage(P.load(args.params), Path(out))
    print("\n".join(summary_lines(result)))
    print(f"  -> {out}")
    return 0
