"""Markdown the registry commands publish: release notes of a merge, and the key-metrics table they
share with the rollback report."""

from __future__ import annotations

from typing import Any

from pipeline.config import CARD_MD
from pipeline.core import model_card
from pipeline.core.git import show
from pipeline.core.markdown import details, table
from pipeline.gitops.registry import KEY_METRICS, History, Registry, key_metrics


def fmt(value: Any) -> str:
    """A metric or count as the registry listings show it: 4 decimals, '–' for unknown."""
    return f"{value:.4f}" if isinstance(value, float) else ("–" if value is None else str(value))


def metrics_table(rows: list[tuple[str, dict[str, Any] | None]], critical: str | None) -> list[str]:
    """Markdown table of key metrics, one column per (label, card)."""
    names = [*KEY_METRICS] + ([f"recall_{critical}"] if critical else [])
    values = [(label, key_metrics(card, critical)) for label, card in rows]
    body = [[name, *(fmt(m.get(name)) for _, m in values)] for name in names]
    body.append(["training rows", *(fmt(model_card.train_rows(c)) for _, c in rows)])
    return table(["metric", *(label for label, _ in values)], body).splitlines()


def release_notes(reg: Registry, result: dict[str, str], card: dict[str, Any] | None, hist: History,
                  by: str, critical: str | None, reasons: list[str] | None = None) -> str:
    """Markdown for the GitHub release (or the job summary): what happened, key metrics, the card."""
    version = result["version"]
    override = result.get("decision") == "override"
    heading = {"registered": f"{reg.model} {version}: new production model",
               "promoted": f"{reg.model} {version}: back in production",
               "rollback": f"{reg.model}: rollback to {version} (from {hist.prod})",
               "recorded": f"{reg.model} {version}: recorded, not promoted ({hist.prod} stays)",
               "kept": f"{reg.model}: data accepted, {hist.prod} stays in production",
               "none": f"{reg.model} {version}: unchanged"}[result["action"]]
    lines = [f"# {heading}", "", f"Merged by {by}; stage `{reg.stage}`.", ""]
    if override:
        lines += [f"**Override**: the gate rejected this model; the label `{reg.override_label}` "
                  "promoted it anyway.", ""]
    if reasons and result["action"] != "rollback":
        lines += ["Gate:", "", *(f"- {r}" for r in reasons), ""]
    lines += metrics_table([(version, card)], critical)
    lines += ["", f"Model sha256 `{model_card.model_sha256(card) or '?'}`.", "",
              "Fetch it: `dvc artifacts get . " + f"{reg.model} --stage {reg.stage} -o model.skops` "
              "or `git checkout " + result["tag"] + " && dvc pull " + reg.artifact + "`."]
    card_md = show("HEAD", CARD_MD.as_posix())
    if card_md:
        lines += ["", details("Model card", card_md.strip())]
    return "\n".join(lines) + "\n"
