"""Compare the newest batch with the production model's training window (drift.production_rev):
per-column KS, Mann-Whitney, PSI, Wasserstein, chi-squared, Jensen-Shannon; drifted = significant
after Benjamini-Hochberg AND a large effect; share of drifted features -> keep / consider / retrain.
Writes reports/drift.json and plots. With --reference and --current, any two CSV or Parquet files
(thresholds from the params file's drift block). Exits 0 whatever the verdict."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reference", help="reference CSV or Parquet file (two-file mode)")
    parser.add_argument("--current", help="current CSV or Parquet file (two-file mode)")
    parser.add_argument("-o", "--output", help="JSON to write (default reports/drift.json; drift.json "
                        "in two-file mode)")
    parser.add_argument("--model", help="two-file mode: a model file for prediction (and concept) drift")
    parser.add_argument("--figures", help="two-file mode: directory for the PNG charts (default: none)")


def main(args: argparse.Namespace) -> int:
    """Exit 0 whatever the verdict: drift is a finding, not an error."""
    from pipeline import params as P
    from pipeline.config import DRIFT
    from pipeline.errors import PipelineError
    from pipeline.stages.drift import run_files, run_stage

    if bool(args.reference) != bool(args.current):
        raise PipelineError("drift: give both --reference and --current (or neither, for the stage)")
    if args.reference:
        out = args.output or "drift.json"
        result = run_files(args.params, args.reference, args.current, out, args.model, args.figures)
    else:
        if args.model:
            raise PipelineError("drift: --model is for the two-file mode; the stage uses the production "
                                "model (drift.production_rev)")
        out = args.output or DRIFT.as_posix()
        result = run_stage(P.load(args.params), Path(out))
    print("\n".join(summary_lines(result)))
    print(f"  -> {out}")
    return 0


def summary_lines(result: dict[str, Any]) -> list[str]:
    ref, cur = result.get("reference", {}), result.get("current", {})
    if result.get("skipped"):
        return [f"drift: skipped ({result['skipped']})"]
    lines = [f"drift: {cur.get('name', 'current')} ({cur.get('rows', '?')} rows) vs "
             f"{ref.get('name', 'reference')} ({ref.get('rows', '?')} rows): "
             f"{result['n_drifted']} of {result['n_features']} features drifted "
             f"({result['share_drifted']:.0%}) -> {result['recommendation']}"]
    if ref.get("source"):
        lines.append(f"  reference: {ref['source']}")
    for name in result["drifted_features"]:
        f = result["features"][name]
        eff = f["effect"]
        lines.append(f"  drifted: {name} ({eff['measure']} {eff['value']:.3g}, psi {f['psi']:.3g}, "
                     f"adjusted p {f['pvalue_adjusted']:.2g})")
    pdrift = result.get("prediction_drift") or {}
    if "drifted" in pdrift:
        mix = ", ".join(f"{c} {v['reference']:.0%}->{v['current']:.0%}"
                        for c, v in pdrift["class_mix"].items())
        lines.append(f"  prediction drift: {'yes' if pdrift['drifted'] else 'no'} (class mix {mix})")
    elif pdrift.get("reason"):
        lines.append(f"  prediction drift: not measured ({pdrift['reason']})")
    cdrift = result.get("concept_drift") or {}
    if cdrift.get("available"):
        perf = cdrift["performance"]
        rel = "; ".join(f"{c} r {cdrift['relations'][c]['correlation']['reference']:.2f}->"
                        f"{cdrift['relations'][c]['correlation']['current']:.2f}"
                        for c in cdrift["changed_relations"][:3])
        ci = perf.get("current_ci") or [None, None]
        perf_txt = f"{perf['metric']} {perf['current']:.3f}"
        if ci[0] is not None:
            perf_txt += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
        if perf.get("reference") is not None:
            perf_txt += f" vs {perf['reference']:.3f}"
        lines.append(f"  concept drift: {'yes' if cdrift['drifted'] else 'no'} ({perf_txt}"
                     f"{'; ' + rel if rel else ''})")
    elif cdrift.get("reason"):
        lines.append(f"  concept drift: not measured ({cdrift['reason']})")
    return lines
