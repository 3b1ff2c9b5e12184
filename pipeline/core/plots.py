"""Plots people look at (PNG) and the data behind them (DVC plots), shared by every stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib.pyplot on the file-only backend (no display on CI), imported when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_png(path: Path, y: np.ndarray, preds: dict[str, np.ndarray], classes: list[str]) -> None:
    """Confusion matrices side by side (one per title in `preds`) on one colour scale, so the eye
    compares like with like: the evaluate stage draws one, compare the champion's and the challenger's."""
    from sklearn.metrics import confusion_matrix

    from pipeline.core.files import save_figure

    plt = pyplot()
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


def curves(y: np.ndarray, proba: np.ndarray, classes: list[str], kind: str) -> list[dict]:
    """One-vs-rest ROC or precision-recall points per class, thinned for plotting."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    rows = []
    targets = [1] if len(classes) == 2 else range(len(classes))
    for k in targets:
        truth = (y == k).astype(int)
        if truth.min() == truth.max():
            continue
        if kind == "roc":
            x, yv, _ = roc_curve(truth, proba[:, k])
        else:
            yv, x, _ = precision_recall_curve(truth, proba[:, k])
        keep = np.unique(np.linspace(0, len(x) - 1, min(len(x), 200)).astype(int))
        rows += [{"class": classes[k], "x": round(float(x[i]), 5), "y": round(float(yv[i]), 5)}
                 for i in keep]
    return rows


def calibration(y: np.ndarray, proba: np.ndarray, bins: int = 10) -> list[dict]:
    """Reliability of the top-class confidence: mean confidence vs accuracy per bin."""
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            rows.append({"confidence": round(float(conf[mask].mean()), 5),
                         "accuracy": round(float(correct[mask].mean()), 5), "rows": int(mask.sum())})
    return rows


def curves_png(path: Path, series: dict[str, list[dict]], kind: str, title: str) -> None:
    """Curves of one or more models (champion vs challenger overlay) on one chart."""
    from pipeline.core.files import save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    styles = ["-", "--", ":", "-."]
    for s, (model, rows) in enumerate(series.items()):
        for cls in dict.fromkeys(r["class"] for r in rows):
            pts = [r for r in rows if r["class"] == cls]
            ax.plot([p["x"] for p in pts], [p["y"] for p in pts], styles[s % 4],
                    label=f"{model}: {cls}" if len(series) > 1 else cls)
    if kind == "roc":
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
    else:
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
    ax.set_title(title)
    ax.legend(fontsize=7)
    save_figure(path, fig)


def calibration_png(path: Path, rows: list[dict], title: str = "Calibration") -> None:
    from pipeline.core.files import save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, label="perfect")
    ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], "o-", label="model")
    ax.set_xlabel("mean confidence (top class)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(fontsize=8)
    save_figure(path, fig)
