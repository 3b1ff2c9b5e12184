"""From the collected facts to pages: the numbers each page needs, charts, markdown, Jinja templates."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pipeline.config import COMPARISON, REPORT_MD
from pipeline.site import charts

TEMPLATES = Path(__file__).with_name("templates")
NAV = [("index.html", "Home"), ("registry.html", "Registry"), ("monitoring.html", "Monitoring"),
       ("data.html", "Data")]
BADGES = {"retrain": ("bad", "⟳ retrain"), "wait": ("ok", "✔ wait")}
SEVERITY = {"critical": ("bad", "✖ critical"), "warning": ("warn", "⚠ warning")}


def fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _badge(table: dict[str, tuple[str, str]], value: Any) -> Markup:
    cls, text = table.get(str(value), ("muted", str(value)))
    return Markup('<span class="badge {}">{}</span>').format(cls, text)


def how_text(event: dict[str, Any]) -> str:
    if event["kind"] == "rollback":
        return f"rollback from {event['from_version']}"
    return f"registered ({event['how']})"


def environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(fmt=fmt, how_text=how_text, nav=NAV, int=lambda v: "–" if v is None else int(v),
                       status_badge=lambda v: _badge(BADGES, v), severity=lambda v: _badge(SEVERITY, v))
    return env


# --- markdown (model cards, PR reports): no raw HTML, no link or image leaving the site ------------


def markdown(text: str) -> str:
    """Render committed markdown safely: raw HTML stays text (a `<details>` fold becomes a bold line),
    links and images become their text, since their targets are not part of the site."""
    from markdown_it import MarkdownIt

    text = re.sub(r"<details>\s*<summary>(.*?)</summary>", r"**\1**", text, flags=re.S)
    text = re.sub(r"</details>", "", text)
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.core.ruler.push("demote_headings", _demote_headings)
    md.add_render_rule("link_open", lambda *a, **k: '<span class="link">')
    md.add_render_rule("link_close", lambda *a, **k: "</span>")
    md.add_render_rule("image", lambda self, tokens, idx, *a: str(
        Markup('<span class="muted">[figure: {}]</span>').format(tokens[idx].content or "image")))
    # column alignment as classes: the pages' CSP refuses inline style attributes
    return re.sub(r' style="text-align:(left|right|center)"', r' class="align-\1"', md.render(text))


def _demote_headings(state) -> None:
    """A card's `# title` sits under the page's own h1 and h2: headings go two levels down."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 2, 6)}"


# --- page contexts --------------------------------------------------------------------------------


def estimate(period: dict[str, Any] | None) -> dict[str, Any] | None:
    """The label-free estimate of a period, with its interval when the monitor reports one."""
    if not period or period.get("estimated_accuracy") is None:
        return None
    interval, label = None, "interval"
    ci = period.get("estimated_accuracy_ci") or period.get("estimated_accuracy_interval")
    if isinstance(ci, dict):
        interval, label = (ci.get("low"), ci.get("high")), f"{ci.get('confidence', 0.95):.0%} interval"
    elif isinstance(ci, (list, tuple)) and len(ci) == 2:
        interval = tuple(ci)
    elif period.get("estimated_accuracy_low") is not None:
        interval = (period["estimated_accuracy_low"], period.get("estimated_accuracy_high"))
    return {"period": period["period"], "value": period["estimated_accuracy"], "interval": interval,
            "interval_label": label, "accuracy": period.get("accuracy"),
            "labelled": period.get("labelled_rows") or 0}


def key_metrics(params: dict[str, Any], reg: dict[str, Any], version: dict[str, Any] | None,
                latest: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per key metric: the card's test score, the promotion floor, the monitoring floor, the latest
    labelled period, and whether the latest value is under a floor."""
    gate = ((params.get("gate") or {}).get("floors")) or {}
    floors = ((latest or {}).get("thresholds") or {}).get("floors") or {}
    labelled = [p for p in (latest or {}).get("periods") or [] if p.get("labelled_rows")]
    last = labelled[-1] if labelled else {}
    rows = []
    for name in reg["metric_names"]:
        value = last.get(name)
        stat, _, cls = name.partition("_")
        if value is None and cls in (last.get("per_class") or {}):  # e.g. recall_<critical class>
            value = last["per_class"][cls].get(stat)
        test = (version or {}).get("metrics", {}).get(name)
        limits = [x for x in (gate.get(name), floors.get(name)) if x is not None]
        status = None if value is None or not limits else ("below" if value < max(limits) else "ok")
        change = None if value is None or test is None else value - test
        rows.append({"metric": name, "test": test, "change": change, "gate_floor": gate.get(name),
                     "alert_floor": floors.get(name), "latest": value, "status": status})
    return rows


def timeline_svg(reg: dict[str, Any], limit: int = 12) -> str:
    events = reg["timeline"][-limit:]
    n = len(events)
    segments = [{"version": e["version"], "start": i / n, "end": (i + 1) / n, "date": e["date"][:10],
                 "rollback": e["kind"] == "rollback",
                 "label": f"{e['version']} in {reg['stage']} from {e['date'][:10]} ({how_text(e)})"}
                for i, e in enumerate(events)]
    names = ", ".join(("rollback to " if e["kind"] == "rollback" else "") + e["version"] for e in events)
    return charts.timeline(segments, f"Production timeline of {reg['model']}",
                           f"Versions in stage {reg['stage']}, oldest first: {names}.")


def monitoring_charts(mon: dict[str, Any]) -> dict[str, Any]:
    """The monitoring page's SVGs: performance with floors and estimate, drift share, low confidence,
    and the drift heat map."""
    history = mon["history"]
    periods = sorted({r["period"] for r in history})
    t = (mon["latest"] or {}).get("thresholds") or {}
    versions = list(dict.fromkeys(r["model_version"] for r in history))

    def series(column: str, suffix: str) -> list[dict[str, Any]]:
        out = []
        for v in versions:
            values = {r["period"]: r.get(column) for r in history if r["model_version"] == v}
            if any(x is not None for x in values.values()):
                out.append({"name": f"{v} {suffix}", "values": values})
        return out

    perf = series("accuracy", "accuracy") + series("estimated_accuracy", "estimated (label-free)")
    bands = [{"name": f"{v} estimate interval", "values": {r["period"]: (r["estimated_accuracy_low"],
              r["estimated_accuracy_high"]) for r in history if r["model_version"] == v}}
             for v in versions if any(r.get("estimated_accuracy_low") is not None for r in history)]
    floors = [{"y": (t.get("floors") or {}).get("accuracy"), "label": "accuracy alert floor"},
              {"y": (t.get("trigger_floors") or {}).get("accuracy"), "label": "retrain below"}]
    out = {"has_band": bool(bands), "acc_floor": floors[0]["y"]}
    out["perf_svg"] = charts.line_chart(
        periods, perf, floors, "Accuracy per period",
        f"Real and label-free estimated accuracy of each production version over {len(periods)} periods, "
        "with the alert and retraining floors.", "accuracy", bands=bands)
    out["drift_svg"] = charts.line_chart(
        periods, series("drift_share", "drift share"),
        [{"y": t.get("max_drift_share"), "label": "drift alert above"}], "Share of features drifted",
        "Share of features drifted per period against the training window, with the alert threshold.",
        "share of features")
    out["lowconf_svg"] = charts.line_chart(
        periods, series("low_confidence_count", "low-confidence"),
        [{"y": t.get("low_confidence_max_count"), "label": "alert above"}], "Low-confidence predictions",
        "Low-confidence predictions per period with the alert count.", "predictions")
    drift = mon["drift"]
    features = list(dict.fromkeys(f for d in drift.values() for f in d["features"]))
    cells = {}
    for period, d in drift.items():
        for name in features:
            f = d["features"].get(name)
            if f is None and not d["complete"]:
                f = {"drifted": False}
            if f is not None:
                ratio = f["effect"] / f["threshold"] if f.get("effect") is not None and f.get(
                    "threshold") else None
                cells[(name, period)] = {"ratio": ratio, "drifted": bool(f.get("drifted"))}
    drifted = sorted({n for (n, p), c in cells.items() if c["drifted"]})
    out["heat_svg"] = charts.heat_map(
        features, list(drift), cells, "Drift per feature and period",
        f"Effect size over threshold for {len(features)} features in {len(drift)} periods; drifted: "
        f"{', '.join(drifted) or 'none'}.")
    out["partial_drift"] = any(not d["complete"] for d in drift.values())
    return out


def drift_rows(drift: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    feats = (drift or {}).get("features") or {}
    rows = [(n, f) for n, f in feats.items() if f.get("effect")]
    return sorted(rows, key=lambda r: -(r[1]["effect"]["value"] / max(r[1]["effect"]["threshold"], 1e-12)))


def version_context(v: dict[str, Any], reg: dict[str, Any]) -> dict[str, Any]:
    import json

    test = ((v["card"] or {}).get("metrics") or {}).get("test") or {}
    overall = [(k, x) for k, x in test.items() if isinstance(x, (int, float)) and not isinstance(x, bool)]
    per_class = list((test.get("per_class") or {}).items())
    comparison = None
    if COMPARISON.as_posix() in v["reports"]:
        try:
            data = json.loads(v["reports"][COMPARISON.as_posix()])
            comparison = {"verdict": data.get("verdict") or data.get("decision") or "?",
                          "reasons": [str(r) for r in data.get("reasons") or []]}
        except (json.JSONDecodeError, AttributeError):
            comparison = None
    report = v["reports"].get(REPORT_MD.as_posix())
    return {"v": v, "overall": overall, "per_class": per_class, "comparison": comparison,
            "card_html": markdown(v["card_md"]) if v["card_md"] else None,
            "report_html": markdown(report) if report else None,
            "stage_events": [t for t in reg["timeline"] if t["version"] == v["version"]],
            "title": v["version"], "page": "registry.html", "root": "../"}
