"""The pull-request comment: one markdown document a reviewer can read in a minute.

Built only from what the run wrote (comparison, validation and drift JSON, PNG figures) and from git
(params and batches at the base revision), so it is the same text for the same run: no timestamps,
no watermark (CML appends its own). Images are referenced by paths relative to the document, which
is how `cml comment` finds and publishes them. Whatever the number of features or batches, the body
stays under GitHub's comment limit: long parts are folded in <details> and cut with a note.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.config import DRIFT, MANIFEST, REPORT_MD, VALIDATION
from pipeline.core.git import run as _git
from pipeline.errors import PipelineError

REPORT = REPORT_MD
GITHUB_LIMIT = 65_536  # characters in a GitHub comment
BUDGET = 60_000  # leaves room for CML's watermark and the longer URLs of published images
DRIFT_IMAGES = ("reports/figures/drift.png", "reports/drift/drift.png", "reports/drift.png",
                "reports/plots/drift.png")
TOP_DRIFTED = 10
ROW_CAP = 150  # rows of any one folded table
HEADLINE = ("accuracy", "balanced_accuracy", "f1_weighted", "f1_macro", "precision_weighted",
            "recall_weighted", "roc_auc", "gini", "ks", "log_loss", "brier")


@dataclass
class Section:
    """A part of the report; `short` replaces `full` when the whole would be too long."""

    full: str
    short: str | None = None


# --- small formatting helpers --------------------------------------------------------------------


def cell(value: Any, width: int = 60) -> str:
    """Text safe inside a table cell: no pipes or newlines, bounded length."""
    text = "—" if value is None or value == "" else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def num(value: Any, digits: int = 4, sign: bool = False) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:+,}" if sign else f"{value:,}"
    if isinstance(value, float):
        return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return cell(value)


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    marks = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def details(summary: str, body: str) -> str:
    """Folded on GitHub; the blank lines let markdown (tables) render inside."""
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _load(path: Path) -> tuple[Any, str | None]:
    """JSON from a sibling stage, or why not: a report must never fail on another stage's output."""
    if not path.exists():
        return None, None
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"`{path.as_posix()}` could not be read ({type(exc).__name__})"


def _rel(path: str | Path, out: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), out.parent.resolve())).as_posix()


def _image(alt: str, path: str | Path, out: Path) -> str | None:
    return f"![{alt}]({_rel(path, out)})" if Path(path).is_file() else None


# --- verdict and comparison ----------------------------------------------------------------------


def verdict(comparison: dict | None, validation: dict | None, stale: bool,
            override_label: str) -> str:
    """The first line: what merging will do (promote, or land the data and keep the champion)."""
    if comparison is None:
        failing = _failing_batches(validation) if isinstance(validation, dict) else []
        if failing:
            name, errors = failing[0]
            return f"## ❌ Reject: the data contract failed for `{name}`" + (
                f": {cell(errors[0], 200)}" if errors else "")
        return "## ℹ️ No model comparison in this run"
    metric = comparison.get("primary_metric", "?")
    m = (comparison.get("metrics") or {}).get(metric) or {}
    models = comparison.get("models") or {}
    cand, champ = models.get("challenger") or {}, models.get("champion") or {}
    decision = comparison.get("decision")
    reasons = comparison.get("reasons") or ["no reason recorded"]
    if stale:
        return "## ⚠️ Stale comparison: `models/model.skops` changed after `compare` ran (run it again)"
    if decision == "promote":
        low, high = (comparison.get("confidence_interval") or [None, None])[:2]
        gate = comparison.get("gate") or {}
        claim = {"non_inferiority": f"is not worse than the champion {champ.get('version')} by more "
                                    f"than {num(gate.get('margin'))}",
                 "superiority": f"beats the champion {champ.get('version')}"}.get(
                     gate.get("mode"), f"beats the champion {champ.get('version')}")
        return (f"## ✅ Merging promotes the challenger ({cand.get('family')}): it {claim} on {metric}: "
                f"{num(m.get('challenger'))} vs {num(m.get('champion'))} ({num(m.get('delta'), sign=True)}, "
                f"{interval_level(comparison):.0%} CI {num(low, sign=True)} to {num(high, sign=True)})")
    if decision == "no_champion":
        rows = (comparison.get("test_set") or {}).get("rows")
        return (f"## 🆕 Merging puts the first model in production: {cand.get('family')}, {metric} "
                f"{num(m.get('challenger'))} on "
                f"{num(rows)} held-out rows, passes every floor (no production model at "
                f"`{(comparison.get('base') or {}).get('rev')}` yet)")
    keeps = f"keeps {champ.get('version')} in production" if champ else "leaves production empty"
    return (f"## ❌ Merging accepts the data and {keeps}: {reasons[0]} (the label `{override_label}` "
            "promotes it anyway)")


def context_line(c: dict) -> str:
    models, test = c.get("models") or {}, c.get("test_set") or {}
    champ, cand = models.get("champion"), models.get("challenger") or {}
    base = c.get("base") or {}
    parts = []
    if champ:
        parts.append(f"**Champion** `{champ.get('version')}` (`{base.get('rev')}` @ "
                     f"`{(base.get('commit') or '')[:8]}`, {champ.get('family')})")
    else:
        parts.append(f"**Champion** none at `{base.get('rev')}`")
    parts.append(f"**Challenger** `{cand.get('version')}` ({cand.get('family')})")
    parts.append(f"**Evaluated on** {num(test.get('rows'))} rows held out of batch "
                 f"`{test.get('holdout_of')}`, seen by neither model")
    left_out = ((c.get("evaluation") or {}).get("excluded")) or []
    if left_out:
        parts.append("left out: " + "; ".join(f"{num(e.get('rows'))} {e.get('reason')}" for e in left_out))
    return " · ".join(parts)


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
    text = _p(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _p(value: Any) -> str:
    return "—" if value is None else (f"{value:.3g}" if value >= 1e-4 else "< 0.0001")


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
    extra += list(gate.get("max_drop") or {})
    names += [n for n in dict.fromkeys(extra) if n in metrics and n not in names]
    if primary in names:
        names.remove(primary)
        names.insert(0, primary)

    def row(name: str) -> list[str]:
        m = metrics[name]
        lower = name in ("log_loss", "brier")
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
    images = [_image("Confusion matrices: champion vs challenger", figs["confusion"], out)
              if figs.get("confusion") else None,
              _image("ROC curves: champion vs challenger", figs["roc"], out) if figs.get("roc") else None]
    images = [i for i in images if i]
    if not images:
        return None
    return Section("\n".join(["### Figures", "", *images]))


# --- validation ----------------------------------------------------------------------------------


def _batches(validation: dict) -> list[tuple[str, dict]]:
    raw = validation.get("batches", validation.get("results", []))
    if isinstance(raw, dict):
        return [(str(k), v) for k, v in raw.items() if isinstance(v, dict)]
    if isinstance(raw, list):
        return [(str(b.get("batch") or b.get("file") or b.get("path") or b.get("name") or i), b)
                for i, b in enumerate(raw) if isinstance(b, dict)]
    return []


def _results(batch: dict) -> list[dict]:
    items = batch.get("results", batch.get("expectations", []))
    return [r for r in items if isinstance(r, dict)] if isinstance(items, list) else []


def _counts(batch: dict) -> tuple[int, int]:
    """Critical failures and warnings of one batch, from its counters or its results."""
    failed = [r for r in _results(batch) if r.get("success") is False]
    crit = batch.get("critical_failures")
    warn = batch.get("warnings")
    if not isinstance(crit, int):
        crit = sum(1 for r in failed if str(r.get("severity", "critical")) == "critical")
    if not isinstance(warn, int):
        warn = sum(1 for r in failed if str(r.get("severity", "critical")) != "critical")
    return crit, warn


def _failing_batches(validation: dict) -> list[tuple[str, list[str]]]:
    out = []
    for name, b in _batches(validation):
        crit, _ = _counts(b)
        if b.get("success") is False or crit:
            errors = b.get("errors") if isinstance(b.get("errors"), list) else []
            if not errors:
                errors = [_finding_text(r) for r in _results(b) if r.get("success") is False
                          and str(r.get("severity", "critical")) == "critical"]
            out.append((name, [str(e) for e in errors]))
    return out


def _finding_text(r: dict) -> str:
    rule = r.get("rule") or r.get("check") or r.get("expectation") or r.get("type") or "expectation"
    col = f"column '{r['column']}': " if r.get("column") else ""
    n = r.get("unexpected_count")
    return f"{col}{rule}" + (f" ({n} rows)" if n else "")


def validation_section(validation: Any, error: str | None) -> Section | None:
    if error:
        return Section(f"### Data validation\n\n⚠️ {error}")
    if not isinstance(validation, dict):
        return None
    batches = _batches(validation)
    if not batches:
        return Section("### Data validation\n\n⚠️ `reports/validation.json` lists no batches.")
    counts = {name: _counts(b) for name, b in batches}
    failing = [n for n, b in batches if b.get("success") is False or counts[n][0]]
    warnings = sum(w for _, w in counts.values())
    n_exp = (validation.get("summary") or {}).get("expectations")
    suite = f" (`{validation.get('suite')}`" + (f", {n_exp} expectations)" if n_exp else ")") \
        if validation.get("suite") else ""
    head = (f"❌ {len(failing)} of {len(batches)} batches fail the data contract{suite}" if failing else
            f"✅ all {len(batches)} batches meet the data contract{suite}") + \
        (f"; {warnings} warning{'s' if warnings != 1 else ''}" if warnings else "")
    rows = [[cell(n), num(b.get("rows")), "❌ fails" if n in failing else "✅ passes",
             num(counts[n][0]), num(counts[n][1])] for n, b in batches]
    # failing and warned batches first, so a cut never hides them
    rows.sort(key=lambda r: (r[2] != "❌ fails", r[4] == "0"))
    findings = []
    for name, b in batches:
        lines = [*(b.get("errors") or []), *(b.get("warning_lines") or [])] if (
            b.get("errors") or b.get("warning_lines")) else [
            f"{name}: {_finding_text(r)} [{r.get('severity', '?')}]" for r in _results(b)
            if r.get("success") is False]
        findings += [str(x) for x in lines]
    text = ["### Data validation", "", head]
    btable = table(["batch", "rows", "result", "critical", "warnings"], rows[:ROW_CAP], "lrlrr")
    if len(rows) > ROW_CAP:
        btable += f"\n\n…and {len(rows) - ROW_CAP} more batches (see `reports/validation.json`)"
    short = list(text)
    text += ["", details(f"Per batch ({len(batches)})", btable) if len(rows) > 6 else btable]
    if findings:
        shown = "\n".join(f"- {cell(f, 300)}" for f in findings[:ROW_CAP])
        if len(findings) > ROW_CAP:
            shown += f"\n- …and {len(findings) - ROW_CAP} more (see `reports/validation.json`)"
        text += ["", details(f"Failed expectations ({len(findings)})", shown)]
        short += ["", f"- {cell(findings[0], 300)}"]
        if len(findings) > 1:
            short.append(f"- …and {len(findings) - 1} more in `reports/validation.json`")
    return Section("\n".join(text), "\n".join(short))


# --- drift ---------------------------------------------------------------------------------------


def _features(drift: dict) -> list[tuple[str, dict]]:
    raw = drift.get("features") or {}
    if isinstance(raw, dict):
        return [(str(k), v) for k, v in raw.items() if isinstance(v, dict)]
    if isinstance(raw, list):
        return [(str(f.get("column") or f.get("feature") or f.get("name") or i), f)
                for i, f in enumerate(raw) if isinstance(f, dict)]
    return []


def _float(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("value", value.get("statistic"))
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _effect(f: dict) -> float:
    vals = [_float(f.get(k)) for k in ("wasserstein_norm", "jensen_shannon", "psi")]
    return max([v for v in vals if v is not None], default=0.0)


def drift_section(drift: Any, error: str | None, out: Path) -> Section | None:
    if error:
        return Section(f"### Drift\n\n⚠️ {error}")
    if not isinstance(drift, dict):
        return None
    feats = sorted(_features(drift), key=lambda kv: (not kv[1].get("drifted"), -_effect(kv[1]), kv[0]))
    drifted = [n for n, f in feats if f.get("drifted")]
    share = _float(drift.get("share_drifted"))
    rec = drift.get("recommendation")
    head = f"**Recommendation: {cell(rec)}**" if rec else "**No recommendation recorded**"
    head += f" — {len(drifted)} of {len(feats)} features drifted"
    head += f" ({share:.0%})." if share is not None else "."

    def row(name: str, f: dict) -> list[str]:
        return [cell(name, 40), cell(f.get("type")), "⚠️ yes" if f.get("drifted") else "no",
                num(_float(f.get("wasserstein_norm")), 3), num(_float(f.get("jensen_shannon")), 3),
                num(_float(f.get("psi")), 3), _p(_float(f.get("pvalue_adjusted")))]

    hdr = ["feature", "type", "drifted", "Wasserstein (norm.)", "Jensen–Shannon", "PSI", "p (adjusted)"]
    top = [row(n, f) for n, f in feats[:TOP_DRIFTED]]
    text = ["### Drift (newest batch vs the training window)", "", head]
    extra = []
    for key, label in (("prediction_drift", "Prediction drift"), ("concept_drift", "Concept drift")):
        block = drift.get(key)
        if isinstance(block, dict) and block:
            extra.append(f"- {label}: " + _summary(block))
    text += ["", *extra] if extra else []
    if top:
        text += ["", f"Top {len(top)} features by effect size:" if len(feats) > TOP_DRIFTED else "",
                 "", table(hdr, top, "lllrrrr")]
    img = next((_image("Drift per feature", p, out) for p in DRIFT_IMAGES if Path(p).is_file()), None)
    if img:
        text += ["", img]
    short = list(text)
    if len(feats) > TOP_DRIFTED:
        rest = [row(n, f) for n, f in feats[:ROW_CAP * 2]]
        note = f"\n\n…and {len(feats) - ROW_CAP * 2} more features (see `reports/drift.json`)" \
            if len(feats) > ROW_CAP * 2 else ""
        text += ["", details(f"All {len(feats)} features", table(hdr, rest, "lllrrrr") + note)]
        short += ["", f"The other {len(feats) - TOP_DRIFTED} features are in `reports/drift.json`."]
    return Section("\n".join(text), "\n".join(short))


def _summary(block: dict) -> str:
    """One line for a prediction- or concept-drift block: its verdict, then what supports it."""
    if "drifted" not in block:
        reason = block.get("reason")
        return f"not measured ({cell(reason, 200)})" if reason else "not measured"
    parts = ["⚠️ **drifted**" if block["drifted"] else "no drift"]
    mix = block.get("class_mix")
    if isinstance(mix, dict):
        parts.append("class mix " + ", ".join(
            f"{cell(c, 20)} {v['reference']:.0%}→{v['current']:.0%}" for c, v in list(mix.items())[:8]
            if isinstance(v, dict) and _float(v.get("reference")) is not None
            and _float(v.get("current")) is not None))
    perf = block.get("performance")
    if isinstance(perf, dict) and _float(perf.get("current")) is not None:
        text = f"{cell(perf.get('metric'))} {perf['current']:.3f}"
        ci = perf.get("current_ci")
        if isinstance(ci, list) and len(ci) == 2 and all(_float(v) is not None for v in ci):
            text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
        if _float(perf.get("reference")) is not None:
            text += f" vs {perf['reference']:.3f} before"
        parts.append(text + (" (degraded)" if perf.get("degraded") else ""))
    relations = block.get("relations") if isinstance(block.get("relations"), dict) else {}
    for col in (block.get("changed_relations") or [])[:3]:
        corr = (relations.get(col) or {}).get("correlation") or {}
        if _float(corr.get("reference")) is not None and _float(corr.get("current")) is not None:
            parts.append(f"{cell(col, 30)} correlation {corr['reference']:.2f}→{corr['current']:.2f}")
    return cell("; ".join(parts), 400)


# --- params and data against the base ------------------------------------------------------------


def flatten(node: Any, prefix: str = "") -> dict[str, str]:
    """Dotted keys to compact values, so nested params diff line by line."""
    if isinstance(node, dict):
        out: dict[str, str] = {}
        for k, v in node.items():
            out |= flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out or {prefix: "{}"}
    return {prefix: json.dumps(node, ensure_ascii=False, default=str)}


def params_section(params_path: str, base: str, commit: str | None) -> Section:
    import yaml

    title = f"### Params changed since `{base}`"
    if commit is None:
        return Section(f"{title}\n\n⚠️ git does not know `{base}` here (fetch it, e.g. "
                       f"`git fetch origin {base}:{base}`).")
    shown = _git("show", f"{commit}:./{Path(params_path).as_posix()}")
    try:
        old = yaml.safe_load(shown.stdout) if shown.returncode == 0 else {}
        new = yaml.safe_load(Path(params_path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return Section(f"{title}\n\n⚠️ params could not be compared ({type(exc).__name__})")
    a, b = flatten(old or {}), flatten(new or {})
    rows = [[f"`{cell(k, 80)}`", cell(a.get(k), 50), cell(b.get(k), 50)]
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if not rows:
        return Section(f"{title}\n\nNone.")
    body = table(["param", base, "this branch"], rows[:ROW_CAP], "lll")
    if len(rows) > ROW_CAP:
        body += f"\n\n…and {len(rows) - ROW_CAP} more (`dvc params diff {base}`)"
    full = f"{title}\n\n" + (details(f"{len(rows)} params changed", body) if len(rows) > 12 else body)
    short = f"{title}\n\n{len(rows)} params changed, e.g. " + ", ".join(r[0] for r in rows[:5]) + \
        f"; see `dvc params diff {base}`."
    return Section(full, short)


def batches_at(commit: str, directory: str, pattern: str) -> set[str] | None:
    """Batch files a revision holds, git- or DVC-tracked; None when they cannot be listed."""
    import fnmatch

    try:
        from dvc.api import DVCFileSystem

        names = DVCFileSystem(".", rev=commit).ls(directory, detail=False)
    except FileNotFoundError:
        return set()
    except Exception:  # DVC cannot open that revision: fall back to what git alone tracks
        out = _git("ls-tree", "--name-only", commit, f"{directory.rstrip('/')}/")
        if out.returncode != 0:
            return None
        names = [n.removesuffix(".dvc") for n in out.stdout.split()]
    return {Path(n).name for n in names if fnmatch.fnmatch(Path(n).name, pattern)}


def _rows(path: Path, manifest: dict) -> int | None:
    known = {Path(f.get("path", "")).name: f.get("rows") for f in manifest.get("files") or []}
    if path.name in known:
        return known[path.name]
    try:
        from pipeline.core.files import read_table

        return len(read_table(path))
    except PipelineError:
        return None


def data_section(params: dict, base: str, commit: str | None) -> Section:
    title = f"### Data added since `{base}`"
    if commit is None:
        return Section(f"{title}\n\n⚠️ git does not know `{base}` here.")
    cfg = params.get("data") or {}
    directory, pattern = str(cfg.get("batches_dir", "data/batches")), str(cfg.get("pattern", "*.csv"))
    before = batches_at(commit, directory, pattern)
    if before is None:
        return Section(f"{title}\n\n⚠️ the batches at `{base}` could not be listed.")
    now = sorted(Path(directory).glob(pattern))
    added = [p for p in now if p.name not in before]
    removed = sorted(before - {p.name for p in now})
    if not added and not removed:
        return Section(f"{title}\n\nNo new batches.")
    manifest, _ = _load(MANIFEST)
    counts = [_rows(p, manifest if isinstance(manifest, dict) else {}) for p in added]
    rows = [[f"`{cell(p.as_posix(), 80)}`", num(n)] for p, n in zip(added, counts, strict=True)]
    total = sum(n for n in counts if isinstance(n, int))
    lines = [title, "", f"{len(added)} new batch{'es' if len(added) != 1 else ''}, "
             f"{total:,} rows." if added else "No new batches."]
    if rows:
        lines += ["", table(["batch", "rows"], rows[:ROW_CAP])]
        if len(rows) > ROW_CAP:
            lines += ["", f"…and {len(rows) - ROW_CAP} more"]
    if removed:
        lines += ["", f"Removed since `{base}`: " + ", ".join(f"`{cell(n)}`" for n in removed[:20])
                  + (" …" if len(removed) > 20 else "")]
    short = [title, "", lines[2]]
    return Section("\n".join(lines), "\n".join(short))


# --- assembly ------------------------------------------------------------------------------------


def assemble(sections: list[Section], budget: int = BUDGET) -> str:
    """Join the sections; shorten the longest ones, then drop from the end, until under budget."""
    texts = [s.full for s in sections]
    shorts = [s.short for s in sections]
    sep = "\n\n"
    note = ("\n\n_Parts of this report were shortened to fit GitHub's comment limit; the full "
            "figures are in `reports/*.json`._")

    def size() -> int:
        return len(sep.join(texts)) + len(note)

    shortened = False
    while size() > budget:
        gains = [(len(t) - len(s), i) for i, (t, s) in enumerate(zip(texts, shorts, strict=True))
                 if s is not None and len(s) < len(t)]
        if not gains:
            break
        _, i = max(gains)
        texts[i], shorts[i] = shorts[i], None
        shortened = True
    while size() > budget and len(texts) > 1:
        texts.pop()
        shortened = True
    body = sep.join(texts)
    if len(body) + len(note) > budget:  # a single huge first section: cut at a line
        body = body[: budget - len(note)].rsplit("\n", 1)[0]
        shortened = True
    return body + (note if shortened else "") + "\n"


def build(params: dict[str, Any], params_path: str, out: Path, base: str | None = None,
          notes: list[str] | None = None) -> str:
    from pipeline.config import MODEL as PRODUCTION_MODEL
    from pipeline.core.files import sha256
    from pipeline.core.revision import resolve
    from pipeline.gitops.compare import COMPARISON
    from pipeline.gitops.promote import settings

    comparison, cerr = _load(COMPARISON)
    if cerr:
        raise PipelineError(f"{COMPARISON}: not valid JSON (run `python -m pipeline compare` again)")
    validation, verr = _load(VALIDATION)
    drift, derr = _load(DRIFT)
    registry = settings(params)
    base = base or ((comparison or {}).get("base") or {}).get("rev") or registry.fallback_rev
    commit = resolve(base)
    cand = ((comparison or {}).get("models") or {}).get("challenger") or {}
    stale = bool(comparison and PRODUCTION_MODEL.exists() and cand.get("model_sha256")
                 and cand["model_sha256"] != sha256(PRODUCTION_MODEL))
    critical = (params.get("schema") or {}).get("critical_class")

    first = [verdict(comparison, validation if isinstance(validation, dict) else None, stale,
                     registry.override_label)]
    first += [f"> {cell(n, 500)}" for n in notes or []]
    sections = [Section("\n".join(first))]
    if comparison:
        sections.append(Section(context_line(comparison)))
        sections.append(gate_section(comparison))
        sections.append(metrics_section(comparison, critical))
        sections += [s for s in (flips_section(comparison), figures_section(comparison, out),
                                 cv_section(comparison)) if s]
    sections += [s for s in (validation_section(validation, verr), drift_section(drift, derr, out)) if s]
    sections.append(data_section(params, base, commit))
    sections.append(params_section(params_path, base, commit))
    if comparison:
        sections.append(versions_section(comparison))
    return assemble(sections)


def link_images(text: str, out: Path, base_url: str) -> str:
    """Point the report's local images at `base_url` (a commit's `blob` URL in this repository), so a
    PR comment shows them from the repository itself: private repositories stay private, unlike
    CML's --publish, which uploads them to a public host."""
    def absolute(m: re.Match) -> str:
        path = Path(os.path.relpath((out.parent / m.group(2)).resolve(), Path.cwd().resolve())).as_posix()
        return f"{m.group(1)}{base_url.rstrip('/')}/{path}?raw=true)"

    return re.sub(r"(!\[[^\]]*\]\()(?![a-z]+://)([^)\s]+)\)", absolute, text)


def cli(args: argparse.Namespace) -> int:
    from pipeline.core.files import write_text

    out = Path(args.output)
    text = build(P.load(args.params), args.params, out, args.base, args.note)
    if args.image_base:
        text = link_images(text, out, args.image_base)
    write_text(out, text)
    print(f"report: {text.splitlines()[0].lstrip('# ')} -> {out.as_posix()} ({len(text):,} characters)")
    return 0
