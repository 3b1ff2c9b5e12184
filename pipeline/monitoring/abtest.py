"""The retrospective A/B test after a promotion: the current version against the one it replaced.

Both models score the same rows, the first `monitor.ab_test.periods` labelled periods after the
promotion; the paired bootstrap (`pipeline.core.resampling`) gives the interval of the accuracy
difference, McNemar the test on the disagreements. Significantly worse comes with the `git revert`
that undoes the promotion.
"""

from __future__ import annotations

from typing import Any

from pipeline import params as P


def ab_test(params: dict[str, Any], prod, current, previous, schema, frames: dict[str, Any],
            periods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Current (`prod`, deployment `current`) vs `previous` on the chosen periods' labelled rows
    (`frames` by period); None without a previous version."""
    import numpy as np

    from pipeline.core.resampling import mcnemar, paired_bootstrap
    from pipeline.core.revision import production
    from pipeline.monitoring.deployments import revert_command
    from pipeline.stages.evaluate import predict_proba

    if current is None or previous is None:
        return None
    cfg = P.section(params, "monitor", "ab_test")
    n = int(cfg["periods"])
    chosen = [p["period"] for p in periods if p.get("labelled_rows")][:n]
    result: dict[str, Any] = {"current": current.tag, "previous": previous.tag, "periods": chosen,
                              "planned_periods": n, "complete": len(chosen) >= n}
    if not chosen:
        return result | {"verdict": "waiting for labelled periods"}
    old = production(previous.commit)
    if old is None:
        return result | {"verdict": f"{previous.tag}: model unavailable"}
    ys, new_p, old_p, per_period = [], [], [], {}
    for name in chosen:
        frame = frames[name]
        frame = frame[frame[schema.target].notna()]
        y = schema.class_index(frame[schema.target])
        a, b = predict_proba(prod.model, frame, schema), predict_proba(old.model, frame, schema)
        per_period[name] = {"current": float((a.argmax(axis=1) == y).mean()),
                            "previous": float((b.argmax(axis=1) == y).mean()), "rows": int(len(y))}
        ys.append(y)
        new_p.append(a)
        old_p.append(b)
    y, a, b = np.concatenate(ys), np.concatenate(new_p), np.concatenate(old_p)
    conf = float(cfg["confidence"])
    # interval of accuracy(current) - accuracy(previous)
    boot = paired_bootstrap(y, b, a, "accuracy", list(schema.classes), int(cfg["resamples"]), conf,
                            int(P.section(params, "seed")))
    low, high = boot["interval"]
    correct_new, correct_old = a.argmax(axis=1) == y, b.argmax(axis=1) == y
    verdict = "worse" if high < 0 else "better" if low > 0 else "no significant difference"
    result |= {"metric": "accuracy", "confidence": conf, "rows": int(y.size), "per_period": per_period,
               "current_accuracy": float(correct_new.mean()), "previous_accuracy": float(correct_old.mean()),
               "difference": float(correct_new.mean() - correct_old.mean()), "ci_low": low, "ci_high": high,
               "resamples": boot["resamples"], "mcnemar": mcnemar(correct_old, correct_new),
               "verdict": verdict}
    if verdict == "worse":
        result["rollback"] = revert_command(current.commit)
    return result
