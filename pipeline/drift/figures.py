"""The drift figures: every feature's effect size against its threshold (drift.png), the data behind
it for DVC plots, and reference/current overlays of the drifted columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.drift.data import significant

MAX_OVERLAYS = 12

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
             "pvalue_adjusted": significant(f["pvalue_adjusted"]), "drifted": f["drifted"]}
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

            a = stats.as_float(reference[name])
            b = stats.as_float(current[name])
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
