"""print the selected model and its key metrics"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def main(args: argparse.Namespace) -> int:
    """What `make run` ends with: the selected model, its key numbers, where to look next."""
    from pipeline.config import CARD_JSON, CARD_MD, FIGURES, METRICS
    from pipeline.core.files import read_json
    from pipeline.errors import PipelineError

    if not METRICS.exists() or not CARD_JSON.exists():
        raise PipelineError(f"{METRICS}: not found (run `dvc repro` first)")
    m, card = read_json(METRICS), read_json(CARD_JSON)
    print(f"Selected model: {m['selected']} ({card['model']['path']}, "
          f"sha256 {card['model']['sha256'][:12]})")
    print(f"  trained on {card['data']['rows']['train']} rows from {len(card['data']['files'])} "
          f"batches; test holdout of {card['data']['test_holdout_of']} ({m['rows']} rows)")
    print(f"  accuracy {m['accuracy']:.4f} (majority class {m['majority_baseline']:.4f}), "
          f"f1_weighted {m['f1_weighted']:.4f}, roc_auc {m['roc_auc'] or float('nan'):.4f}, "
          f"log_loss {m['log_loss']:.4f}")
    if m.get("expected_cost") is not None:  # schema.costs set: what the decisions cost
        trivial = m.get("trivial_expected_cost")
        alike = f"; the cheapest single decision for everyone: {trivial:.4f}" if trivial is not None else ""
        print(f"  expected cost {m['expected_cost']:.4f} per applicant (schema.costs, lower is better"
              f"{alike})")
    print(f"  selected on {m.get('primary_metric', 'accuracy')}; validation: "
          + ", ".join(f"{f} {s:.4f}" for f, s in m["validation"].items()))
    print(f"Reports: {METRICS}, {FIGURES}/, {CARD_MD}; `dvc metrics show`, `dvc plots show`")
    return 0
