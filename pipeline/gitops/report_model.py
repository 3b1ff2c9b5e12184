"""The report's sections about the two models, all read from reports/comparison.json: the gate's
checks, the metrics with intervals, the decisions that flip, cross-validation, who each version is
and the figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.core.markdown import cell, details, num, table
from pipeline.core.metrics import higher_is_better
from pipeline.gitops.report_layout import ROW_CAP, Section, image, pvalue

HEADLINE = ("accuracy", "balanced_accuracy", "f1_weighted", "f1_macro", "precision_weighted",
            "recall_weighted", "roc_auc", "gini", "ks", "log_loss", "brier", "expected_cost")


def interval_level(c: dict) -> float:
    """The two-sided level of the reported interval (its lower end is the gate's one-sided bound)."""
    return (c.get("bootstrap") or {}).get("confidence") or (c.get("gate") or {}).get("confidence", 0.95)


def gate_section(c: dict) -> Section:
    lines = ["### Promotion gate", ""]
    lines += [f"- {'✅' if ch.get('passed') else '❌'} {cell(ch.get('message'), 300)}"
              for ch in c.get("checks") or []]
    mc = c.get("mcnemar")
    if mc:
        lines += ["", f"McNemar's test ({mc.get('method')}): only the champion was right on "
                  f"{num(mc.get('champion_only_correct'))} rows, only the challenger on "
                  f"{num(mc.get('challenger_only_correct'))}; {_p_eq(mc.get('p_value'))}. "
                  "The paired bootstrap interval above is what the gate uses."]
    return Section("\n".join(lines))


def _p_eq(value: Any) -> str:
    text = pvalue(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def flips_section(c: dict) -> Section | None:
    """Decision impact: how many applicants the challenger would classify differently, and where."""
    flips = c.get("flips")
    if not isinstance(flips, dict) or not flips.get("rows"):
        return None
    ev = c.get("evaluation") or {}
    lines = ["### Decision impact", "",
             f"On the {num(flips['rows'])} evaluation rows, {num(flips['changed'])} applicants "
             f"({flips['changed_share']:.1%}) change class from the champion's decision to the challenger's"
             + (":" if flips.get("moves") else ".")]
    lines += [f"- {m['share']:.1%} ({num(m['rows'])}) move from {cell(m['from'])} to {cell(m['to'])}"
              for m in (flips.get("moves") or [])[:12]]
    table_ = flips.get("table") or {}
    if table_:
        classes = list(table_)
        rows = [[f"**{cell(a)}**", *(num(table_[a].get(b)) for b in classes)] for a in classes]
        lines += ["", details("Champion (rows) → challenger (columns), applicants",
                              table(["champion \\ challenger", *map(cell, classes)], rows,
                                    "l" + "r" * len(classes)))]
    if ev:
        batches = ", ".join(f"`{b}` {num(n)}" for b, n in (ev.get("batches") or {}).items())
        left = "; ".join(f"{num(e.get('rows'))} {e.get('reason')}" for e in ev.get("excluded") or [])
        lines += ["", f"Evaluation set: {num(ev.get('rows'))} of {num(ev.get('test_rows'))} test rows "
                  f"(by batch: {batches})" + (f"; left out: {left}" if left else
                                               "; none left out: neither model learned from any of them")
                  + "."]
    return Section("\n".join(lines))


def metrics_section(c: dict, critical: str | None) -> Section:
    metrics = c.get("metrics") or {}
    primary = c.get("primary_metric")
    gate = c.get("gate") or {}
    has_champ = (c.get("models") or {}).get("champion") is not None
    conf = interval_level(c)
    low, high = (c.get("confidence_interval") or [None, None])[:2]
    names = [n for n in HEADLINE if n in metrics]
    extra = [f"{s}_{critical}" for s in ("recall", "precision", "f1")] if critical else []
    extra += [*(gate.get("max_drop") or {}), *(gate.get("max_increase") or {})]
    names += [n for n in dict.fromkeys(extra) if n in metrics and n not in names]
    if primary in names:
        names.remove(primary)
        names.insert(0, primary)

    def row(name: str) -> list[str]:
        m = metrics[name]
        lower = not higher_is_better(name)
        label = f"**{name}**" if name == primary else name
        ci = f"{num(low, sign=True)} to {num(high, sign=True)}" if name == primary and has_champ else ""
        return [label + (" (lower is better)" if lower else ""), num(m.get("champion")),
                num(m.get("challenger")), num(m.get("delta"), sign=True), ci]

    head = ["metric", "champion", "challenger", "delta", f"{conf:.0%} CI of delta"]
    body = ["### Metrics on the test holdout", "", table(head, [row(n) for n in names], "lrrrl")]
    classes = sorted({n.split("_", 1)[1] for n in metrics if n.startswith("recall_")
                      and n != "recall_weighted"}, key=lambda k: list(metrics).index(f"recall_{k}"))
    per_class = [[cell(k), *(f"{num(metrics[f'{s}_{k}'].get('champion'))} → "
                             f"{num(metrics[f'{s}_{k}'].get('challenger'))}" for s in ("precision",
                                                                                         "recall", "f1"))]
                 for k in classes]
    if per_class:
        body += ["", details("Per class: precision, recall, F1 (champion → challenger)",
                             table(["class", "precision", "recall", "F1"], per_class, "lrrr"))]
    return Section("\n".join(body))


def cost_section(c: dict) -> Section | None:
    """The cost of errors (params.yaml schema.costs): the matrix, and what each model's decisions cost
    per applicant on the evaluation rows, with the paired interval of the difference."""
    costs = c.get("costs")
    if not isinstance(costs, dict) or not costs.get("matrix"):
        return None
    matrix = costs["matrix"]
    classes = list(matrix)
    m = (c.get("metrics") or {}).get("expected_cost") or {}
    low, high = (costs.get("interval") or [None, None])[:2]
    if m.get("champion") is not None:
        said = (f"champion {num(m['champion'])}, challenger {num(m.get('challenger'))} "
                f"({num(m.get('delta'), sign=True)}" + (f", {costs.get('confidence', 0.95):.0%} CI "
                f"{num(low, sign=True)} to {num(high, sign=True)}" if low is not None else "") + ")")
    else:
        said = f"challenger {num(m.get('challenger'))}"
    gate = c.get("gate") or {}
    judged = c.get("primary_metric") == "expected_cost" or "expected_cost" in (gate.get("max_increase") or {})
    lines = ["### Cost of errors", "",
             f"Expected cost per applicant (lower is better): {said}; the cheapest single decision "
             f"for everyone costs {num(costs.get('trivial'))}. "
             + ("The gate judges it." if judged else "Shown, not judged by the gate (`gate.primary_metric: "
                "expected_cost` or `gate.max_increase: {expected_cost: …}` make it count)."), "",
             table(["actual \\ predicted", *map(cell, classes)],
                   [[f"**{cell(a)}**", *(f"{float(matrix[a][p]):g}" for p in classes)] for a in classes],
                   "l" + "r" * len(classes))]
    return Section("\n".join(lines))


def cv_section(c: dict) -> Section | None:
    cv = c.get("cv")
    if not isinstance(cv, dict) or not cv.get("scores"):
        return None
    roles = list(cv["scores"])
    folds = max(len(v) for v in cv["scores"].values())
    rows = [[str(i + 1), *(num(cv["scores"][r][i]) if i < len(cv["scores"][r]) else "—" for r in roles)]
            for i in range(folds)]
    rows.append(["**mean ± sd**", *(f"{num((cv.get('mean') or {}).get(r))} ± "
                                     f"{num((cv.get('std') or {}).get(r))}" for r in roles)])
    recipes = cv.get("recipes") or {}
    head = ["fold", *(f"{r} ({(recipes.get(r) or {}).get('family')})" for r in roles)]
    text = [f"### {cv.get('folds')}-fold cross-validation of the training recipes ({cv.get('metric')})",
            "", f"Both recipes refitted on the same stratified folds of this run's "
            f"{num(cv.get('rows'))} training + validation rows.", "", table(head, rows)]
    if cv.get("delta_mean") is not None:
        text += ["", f"Mean difference (challenger − champion): {num(cv['delta_mean'], sign=True)}."]
    return Section("\n".join(text))


def versions_section(c: dict) -> Section:
    models = c.get("models") or {}
    roles = [r for r in ("champion", "challenger") if models.get(r)]
    fields = [
        ("version", lambda m: f"`{m.get('version')}`"),
        ("commit", lambda m: f"`{(m.get('commit') or '')[:8]}`" if m.get("commit") else "—"),
        ("family", lambda m: cell(m.get("family"))),
        ("model sha256", lambda m: f"`{(m.get('model_sha256') or '')[:12]}`"),
        ("model size", lambda m: f"{num(m.get('model_bytes'))} bytes"),
        ("training rows", lambda m: num(m.get("train_rows"))),
        ("training time", lambda m: f"{m['training_seconds']:.1f} s" if isinstance(
            m.get("training_seconds"), int | float) else "—"),
        ("training data", lambda m: f"{len(m.get('data_files') or [])} batches"),
    ]
    rows = [[name, *(fn(models[r]) for r in roles)] for name, fn in fields]
    text = ["### Versions", "", table(["", *roles], rows, "l" + "l" * len(roles))]
    files: dict[str, dict[str, dict]] = {}
    for r in roles:
        for f in models[r].get("data_files") or []:
            files.setdefault(str(f.get("path")), {})[r] = f
    frows = []
    for path, by in files.items():
        shas = {r: (by[r].get("sha256") or "")[:12] for r in by}
        changed = len(set(shas.values())) > 1
        frows.append([cell(path), *(f"{num(by[r].get('rows'))} / `{shas[r]}`" if r in by else "—"
                                    for r in roles)] + (["changed"] if changed and len(roles) == 2 else [""]))
    full = list(text)
    if frows:
        shown = frows[:ROW_CAP]
        more = f"\n\n…and {len(frows) - ROW_CAP} more files (see the model cards)" \
            if len(frows) > ROW_CAP else ""
        full += ["", details("Training data of each version (rows / sha256)",
                             table(["file", *roles, ""], shown, "l" + "l" * (len(roles) + 1)) + more)]
    params = [[cell(r), f"`{cell(json.dumps(models[r].get('best_params'), sort_keys=True), 300)}`"]
              for r in roles if models[r].get("best_params") is not None]
    if params:
        full += ["", details("Hyperparameters", table(["version", "best params"], params, "ll"))]
    return Section("\n".join(full), "\n".join(text))


def figures_section(c: dict | None, out: Path) -> Section | None:
    figs = (c or {}).get("figures") or {}
    images = [image("Confusion matrices: champion vs challenger", figs["confusion"], out)
              if figs.get("confusion") else None,
              image("ROC curves: champion vs challenger", figs["roc"], out) if figs.get("roc") else None]
    images = [i for i in images if i]
    if not images:
        return None
    return Section("\n".join(["### Figures", "", *images]))
