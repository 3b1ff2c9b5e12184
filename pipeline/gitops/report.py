"""The pull-request comment: one markdown document a reviewer can read in a minute.

Built only from what the run wrote (comparison, validation and drift JSON, PNG figures) and from git
(params and batches at the base revision), so it is the same text for the same run: no timestamps,
no watermark (CML appends its own). Images are referenced by paths relative to the document, which
is how `cml comment` finds and publishes them. Whatever the number of features or batches, the body
stays under GitHub's comment limit: long parts are folded in <details> and cut with a note
(`report_layout`). The sections live in `report_model` (the two models) and `report_inputs` (data,
drift, params); this module writes the verdict and puts them in order.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pipeline.config import COMPARISON, DRIFT, MODEL, VALIDATION
from pipeline.core.markdown import cell, num
from pipeline.errors import PipelineError
from pipeline.gitops.report_inputs import (
    data_section,
    drift_section,
    failing_batches,
    params_section,
    validation_section,
)
from pipeline.gitops.report_layout import Section, assemble, load
from pipeline.gitops.report_model import (
    cost_section,
    cv_section,
    figures_section,
    flips_section,
    gate_section,
    interval_level,
    metrics_section,
    versions_section,
)


def verdict(comparison: dict | None, validation: dict | None, stale: bool,
            override_label: str) -> str:
    """The first line: what merging will do (promote, or land the data and keep the champion)."""
    if comparison is None:
        failing = failing_batches(validation) if isinstance(validation, dict) else []
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
        return f"## ⚠️ Stale comparison: `{MODEL.as_posix()}` changed after `compare` ran (run it again)"
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


def build(params: dict[str, Any], params_path: str, out: Path, base: str | None = None,
          notes: list[str] | None = None) -> str:
    """The whole comment for this run, against `base` (default: the comparison's, else the fallback)."""
    from pipeline.core.files import sha256
    from pipeline.core.git import resolve
    from pipeline.gitops.registry import critical_class, settings

    comparison, cerr = load(COMPARISON)
    if cerr:
        raise PipelineError(f"{COMPARISON}: not valid JSON (run `python -m pipeline compare` again)")
    validation, verr = load(VALIDATION)
    drift, derr = load(DRIFT)
    registry = settings(params)
    base = base or ((comparison or {}).get("base") or {}).get("rev") or registry.fallback_rev
    commit = resolve(base)
    cand = ((comparison or {}).get("models") or {}).get("challenger") or {}
    stale = bool(comparison and MODEL.exists() and cand.get("model_sha256")
                 and cand["model_sha256"] != sha256(MODEL))
    critical = critical_class(params)

    first = [verdict(comparison, validation if isinstance(validation, dict) else None, stale,
                     registry.override_label)]
    first += [f"> {cell(n, 500)}" for n in notes or []]
    sections = [Section("\n".join(first))]
    if comparison:
        sections.append(Section(context_line(comparison)))
        sections.append(gate_section(comparison))
        sections.append(metrics_section(comparison, critical))
        sections += [s for s in (cost_section(comparison), flips_section(comparison),
                                 figures_section(comparison, out),
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
