"""One monitoring run: the production model of a git revision, scored on the batches after its window.

Loads the model (`pipeline.core.revision.production`), its references (inputs), scores every period
(scoring), raises alerts, decides retrain or wait (triggers), compares with the previous version
after a promotion (abtest), writes the files (outputs) and returns the report. The monitor runs
outside dvc.yaml (it is git-aware and scheduled) and keeps its history in git.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.config import CARD_JSON, MONITORING
from pipeline.errors import PipelineError


def run(params: dict[str, Any], rev: str | None = None, batches: list[str] | None = None,
        now: dt.date | None = None, out_dir: Path = MONITORING, prometheus: Path | None = None,
        force_retrain: bool = False) -> dict[str, Any]:
    """Score, alert, decide, write the files; the report (as latest.json holds it, before rounding)."""
    from pipeline.core import model_card
    from pipeline.core.revision import production
    from pipeline.core.schema import from_params
    from pipeline.gitops.registry import production_ref
    from pipeline.monitoring import abtest, alerts, deployments, inputs, outputs, scoring, triggers

    cfg = P.section(params, "monitor")
    schema = from_params(params)
    now = now or dt.datetime.now(dt.UTC).date()
    ref = production_ref(params, rev)
    source = ref.rev if rev else (ref.note or f"registry stage ({ref.rev})")
    rev = ref.rev
    prod = production(rev)
    if prod is None:
        raise PipelineError(f"git revision '{rev}': no production model ({CARD_JSON.as_posix()} and the "
                            "model) yet (run `dvc repro` and commit first)")
    card = prod.card
    model_sha = model_card.model_sha256(card)
    current, previous = deployments.deployments(params, model_sha)
    version = current.version if current else f"unregistered-{model_sha[:8]}"
    promoted = deployments.model_date(prod.commit, current)
    age_days = max((now - promoted.date()).days, 0)  # --now before the promotion: age 0
    baseline = model_card.test_metrics(card)
    t = alerts.thresholds(params, baseline)

    # reference: the training window (drift), and the model's held-out rows (calibration, ADWIN)
    drift_cfg = P.section(params, "drift")
    reference = inputs.training_reference(card, prod.commit, drift_cfg)
    hold = inputs.holdout_calibration(card, prod.model, prod.commit, schema)

    periods, correctness, frames_by_period = [], [], {}
    for path in inputs.select_batches(params, card, batches):
        frame = inputs.read_batch(path, schema)
        row, correct = scoring.score_period(path, frame, prod.model, schema, cfg, hold["calibration"],
                                            reference, drift_cfg, hold["rows"])
        periods.append(row)
        frames_by_period[row["period"]] = frame
        if correct is not None:
            correctness.append((row["period"], correct))

    found = alerts.alerts(t, periods, age_days, hold["correct"], correctness)
    fired = triggers.triggers(params, t, periods, age_days, force_retrain)
    ab = abtest.ab_test(params, prod, current, previous, schema, frames_by_period, periods)
    if (ab_worse := alerts.ab_alert(ab)) is not None:
        found.append(ab_worse)
    calibration = hold["calibration"]
    report = {
        # no run-specific commit here: a rerun on the same day leaves the committed files unchanged
        "run": {"date": now.isoformat(), "period": now.strftime("%Y-%m")},
        "model": {"version": version, "tag": current.tag if current else None, "sha256": model_sha,
                  "source": source, "commit": deployments.card_commit(prod.commit),
                  "family": model_card.family(card), "promoted": promoted.isoformat(),
                  "age_days": age_days,
                  "training_window": [Path(f["path"]).stem for f in model_card.window_files(card)],
                  "baseline": {k: baseline.get(k) for k in ("accuracy", "f1_weighted", "roc_auc")},
                  "calibration": (f"isotonic on {len(calibration[0])} held-out rows" + (
                      " (validation and test splits)" if hold["exact"] else " (the test holdout)"))
                  if calibration is not None else
                  "none (holdout unavailable): estimates are the raw mean confidence"},
        "periods": periods,
        "alerts": found,
        "triggers": fired,
        "decision": triggers.decision(fired),
        "reasons": [f["reason"] for f in fired if f["fired"]],
        "ab_test": ab,
        "drift_checked": reference is not None,
        "thresholds": t,
    }
    outputs.write(out_dir, report, schema, now, prometheus)
    return report
