"""Data drift: per-column statistics, corrected significance AND effect size, the dataset verdict and
the original system's recommendation (share of drifted features -> keep / consider / retrain)."""

from __future__ import annotations

from typing import Any

from pipeline.errors import PipelineError

KNOBS = ("alpha", "wasserstein_norm", "psi", "jensen_shannon", "psi_bins", "consider", "retrain",
         "in_memory_rows")


def settings(cfg: dict[str, Any] | None, *keys: str) -> dict[str, Any]:
    """A copy of params.yaml's drift block, with each knob used (`keys`, default all of KNOBS) present:
    a missing one is named, never filled in (its value lives in params.yaml only)."""
    from pipeline import params as P

    block = {"drift": cfg or {}}
    for key in keys or KNOBS:
        P.section(block, "drift", key)
    return P.section(block, "drift")


def data_drift(reference, current, numeric: list[str], categorical: list[str],
               cfg: dict[str, Any]) -> dict[str, Any]:
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
                            f"such as {text_sample(reference[col], current[col])}") from None
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


def text_sample(*columns) -> str:
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


def recommendation(share: float, cfg: dict[str, Any]) -> str:
    """The original rule: over `retrain` (30 %) retrain, over `consider` (10 %) consider, else keep."""
    cfg = settings(cfg, "consider", "retrain")
    if share > cfg["retrain"]:
        return "retrain"
    if share > cfg["consider"]:
        return "consider"
    return "keep"


def significant(value: Any, digits: int = 6) -> Any:
    """Six significant digits: git diffs of drift.json show real changes, tiny p-values survive."""
    import math

    if isinstance(value, dict):
        return {k: significant(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [significant(v, digits) for v in value]
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return float(f"{value:.{digits}g}")
    return value
