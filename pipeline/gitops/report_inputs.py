"""The report's sections about what came in: the data contract per batch (reports/validation.json),
drift of the newest batch (reports/drift.json), and what changed against the base revision (params
line by line, batches added or removed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.config import DRIFT_FIGURES, FIGURES, MANIFEST, PLOTS, REPORTS
from pipeline.core.git import run as git_run
from pipeline.core.markdown import cell, details, num, table
from pipeline.errors import PipelineError
from pipeline.gitops.report_layout import ROW_CAP, Section, image, load, pvalue

DRIFT_IMAGES = (FIGURES / "drift.png", DRIFT_FIGURES / "drift.png", REPORTS / "drift.png",
                PLOTS / "drift.png")
TOP_DRIFTED = 10


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


def failing_batches(validation: dict) -> list[tuple[str, list[str]]]:
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
                num(_float(f.get("psi")), 3), pvalue(_float(f.get("pvalue_adjusted")))]

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
    img = next((image("Drift per feature", p, out) for p in DRIFT_IMAGES if Path(p).is_file()), None)
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
    shown = git_run("show", f"{commit}:./{Path(params_path).as_posix()}")
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
        out = git_run("ls-tree", "--name-only", commit, f"{directory.rstrip('/')}/")
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
    directory = str(P.section(params, "data", "batches_dir"))
    pattern = str(P.section(params, "data", "pattern"))
    before = batches_at(commit, directory, pattern)
    if before is None:
        return Section(f"{title}\n\n⚠️ the batches at `{base}` could not be listed.")
    now = sorted(Path(directory).glob(pattern))
    added = [p for p in now if p.name not in before]
    removed = sorted(before - {p.name for p in now})
    if not added and not removed:
        return Section(f"{title}\n\nNo new batches.")
    manifest, _ = load(MANIFEST)
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
