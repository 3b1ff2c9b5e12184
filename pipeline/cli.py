"""`python -m pipeline <command>`: the one entry point for dvc.yaml, the workflows, tests and people.

Only argparse is imported here; each command imports its stage module when it runs, so `--help`
answers instantly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

DESCRIPTION = """\
GitOps retraining of a tabular classifier (credit risk by default).

Pipeline stages (run by `dvc repro`, in this order):
  validate, drift, prepare, train, evaluate
Around them: compare and report (pull requests), promote and versions (merges, rollbacks),
monitor (scheduled runs), predict, simulate, schema, expectations, summary.

Every knob lives in params.yaml. Run from the repository root.
Set PIPELINE_DEBUG=1 to see a traceback instead of the one-line error."""


def _add_simulate(sub) -> None:
    p = sub.add_parser("simulate", help="write one simulated monthly batch of credit applications",
                       description="Write one month of simulated mortgage-credit applications "
                       "(the schema users of the original system know). The same arguments always "
                       "give the same bytes.")
    p.add_argument("--period", required=True, help="month of the batch, YYYY-MM")
    p.add_argument("--rows", type=int, default=5000, help="rows to write (default 5000)")
    p.add_argument("--scenario", default="stable",
                   help="stable | salary_inflation | policy_change | new_segment (default stable)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("-o", "--output", required=True, help="CSV file to write")
    p.set_defaults(handler="pipeline.simulate:cli")


def _add_schema(sub) -> None:
    p = sub.add_parser("schema", help="infer the dataset schema from CSV batches into params.yaml",
                       description="Infer target, classes, numeric and categorical features from "
                       "the CSV files in DIR and write them into params.yaml (schema block, "
                       "data.batches_dir); every other line of params.yaml is kept.")
    p.add_argument("--data", required=True, help="directory of CSV batches")
    p.add_argument("--target", required=True, help="the label column")
    p.add_argument("--id", help="row identifier column (optional)")
    p.add_argument("--time", help="period/time column (optional)")
    p.add_argument("--max-categories", type=int, default=20,
                   help="most classes a target may have (default 20)")
    p.set_defaults(handler="pipeline.schema:cli")


def _add_prepare(sub) -> None:
    p = sub.add_parser("prepare", help="stage: training window and seeded stratified splits",
                       description="Build train/validation/test splits from the training window "
                       "(window.strategy: combine | replace | new_only). The test set is a holdout "
                       "of the newest batch.")
    p.set_defaults(handler="pipeline.prepare:cli")


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="stage: hyperparameter search for one model family",
                       description="Budgeted, seeded search for one family (models.<family> in "
                       "params.yaml); boosters early-stop on validation. Writes "
                       "models/candidates/<family>.skops and reports/candidates/<family>.json.")
    p.add_argument("--family", required=True, help="xgboost | lightgbm | random_forest | logistic")
    p.set_defaults(handler="pipeline.train:cli")


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="stage: select the best candidate, test metrics, model card",
                       description="Select the best candidate on validation, score it on the test "
                       "holdout, write reports/metrics.json, plots and models/model_card.*.")
    p.set_defaults(handler="pipeline.evaluate:cli")


def _add_summary(sub) -> None:
    p = sub.add_parser("summary", help="print the selected model and its key metrics")
    p.set_defaults(handler="pipeline.evaluate:summary_cli")


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="score raw rows with the production model",
                       description="Score raw rows (no target needed): writes the id, the "
                       "predicted class and one probability column per class, in input order. "
                       "Input is checked against the data contract first.")
    p.add_argument("input", help="CSV of rows to score")
    p.add_argument("-o", "--output", required=True, help="CSV to write")
    p.add_argument("--model", default="models/model.skops", help="model file (default: production)")
    p.set_defaults(handler="pipeline.predict:cli")


COMMANDS = [_add_simulate, _add_schema, _add_prepare, _add_train, _add_evaluate, _add_summary,
            _add_predict]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml", help="params file (default params.yaml)")
    sub = parser.add_subparsers(title="commands", metavar="<command>")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    module, func = args.handler.split(":")
    from pipeline.errors import PipelineError

    try:
        return int(getattr(importlib.import_module(module), func)(args) or 0)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a clean line, never a traceback, unless asked for
        if os.environ.get("PIPELINE_DEBUG"):
            raise
        print(f"error: {type(exc).__name__}: {exc} (PIPELINE_DEBUG=1 for a traceback)",
              file=sys.stderr)
        return 2
