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
monitor (scheduled runs), site (static pages), predict, simulate, schema, expectations,
summary.

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
    p.add_argument("-o", "--output", required=True, help="batch file to write: .csv or .parquet")
    p.set_defaults(handler="pipeline.simulate:cli")


def _add_schema(sub) -> None:
    p = sub.add_parser("schema", help="infer the dataset schema from CSV or Parquet batches into params.yaml",
                       description="Infer target, classes, numeric and categorical features from "
                       "the CSV files in DIR and write them into params.yaml (schema block, "
                       "data.batches_dir); every other line of params.yaml is kept.")
    p.add_argument("--data", required=True, help="directory of CSV or Parquet batches")
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
    p.add_argument("input", help="CSV or Parquet file of rows to score")
    p.add_argument("-o", "--output", required=True, help="file to write (.csv, or .parquet)")
    p.add_argument("--model", help="model file (default: the registry's prod stage, fetched through "
                   "DVC; main's model before anything is registered)")
    p.set_defaults(handler="pipeline.predict:cli")


def _add_validate(sub) -> None:
    p = sub.add_parser("validate", help="stage: every batch against the data contract (GX suite)",
                       description="Check every batch in data.batches_dir against the Great "
                       "Expectations suite (validate.suite): file-level problems first, then the "
                       "suite. Unchanged batches reuse their stored result. Writes "
                       "reports/validation.json; a critical failure exits non-zero naming the file, "
                       "the column, the rule and sample rows.")
    p.add_argument("--report", default="reports/validation.json",
                   help="report to write (default reports/validation.json)")
    p.set_defaults(handler="pipeline.validate:cli")


def _add_expectations(sub) -> None:
    p = sub.add_parser("expectations", help="generate the data contract (GX suite) from batches",
                       description="Manage the data contract in expectations/.")
    actions = p.add_subparsers(title="actions", metavar="<action>", required=True)
    init = actions.add_parser("init", help="generate the suite from reference batches for review",
                              description="Generate the suite from reference batches (default: every "
                              "batch in data.batches_dir): numeric ranges with a margin, observed value "
                              "sets, nullability from observed null shares, mean bands. If the suite "
                              "exists, show what would change and refuse without --force.")
    init.add_argument("--from", dest="sources", nargs="+", metavar="BATCH",
                      help="reference batch files (default: every batch)")
    init.add_argument("--force", action="store_true", help="overwrite an existing suite that differs")
    init.add_argument("-o", "--output", help="suite file (default: validate.suite in params.yaml)")
    init.set_defaults(handler="pipeline.expectations:init_cli")


def _add_monitor(sub) -> None:
    p = sub.add_parser("monitor", help="score the production model on new batches: alerts, triggers, A/B",
                       description="Score the production model of REV on the batches newer than its "
                       "training window, period by period (metrics, calibration, low-confidence, data "
                       "and prediction drift, label-free estimate); raise alerts, check the retraining "
                       "triggers (decision retrain/wait) and, after a promotion, compare with the "
                       "previous version. Writes reports/monitoring/{history.csv,latest.json,"
                       "metrics.png,issue.md}. Exit 0 whatever it finds: alerts are findings.")
    p.add_argument("--rev", help="git revision holding the model to monitor (default: the registry's "
                   "prod stage, `gto show credit-risk#prod`; main's model before anything is registered)")
    p.add_argument("--batches", nargs="+", help="batch files to score (default: those in data.batches_dir "
                   "newer than the model's training window)")
    p.add_argument("--now", help="date of the run, YYYY-MM-DD (default today, UTC): model age, period")
    p.add_argument("--prometheus", metavar="FILE", help="also write the metrics in the Prometheus text "
                   "exposition format (textfile collector, Pushgateway)")
    p.add_argument("--output-dir", default="reports/monitoring", help="where the history and reports go")
    p.add_argument("--force-retrain", action="store_true", help="decide retrain whatever the triggers say")
    p.set_defaults(handler="pipeline.monitor:cli")


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="champion (model at a git revision) vs challenger (work tree)",
                       description="Score the production model as REV holds it (through dvc.api, no "
                       "checkout) and the work tree's model on the same test holdout; paired bootstrap "
                       "interval of the primary-metric difference, McNemar's test, guards and floors "
                       "(gate in params.yaml). Writes reports/comparison.json and reports/compare/*.png. "
                       "Exit 0 whatever the verdict (a rejection is a finding: merging then lands the "
                       "data and keeps prod); 2 on an error.")
    p.add_argument("--base", help="git revision of the champion (default: the registry's prod stage, "
                   "`gto show credit-risk#prod`; main's model before anything is registered)")
    p.set_defaults(handler="pipeline.compare:cli")


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="write the pull-request comment (markdown) from the reports",
                       description="One markdown document for the PR comment: verdict, champion vs "
                       "challenger metrics with intervals, validation, drift, params diff and data "
                       "added against the base, figures. Stays under GitHub's comment size limit.")
    p.add_argument("--base", help="git revision to diff params and data against "
                   "(default: the base of reports/comparison.json, else main)")
    p.add_argument("-o", "--output", default="reports/report.md", help="markdown file to write")
    p.add_argument("--note", action="append", default=[],
                   help="a line to show under the verdict (repeatable), e.g. why a step was skipped")
    p.set_defaults(handler="pipeline.report:cli")


def _add_promote(sub) -> None:
    p = sub.add_parser("promote", help="apply a merge's verdict to the registry (promote, keep, rollback)",
                       description="On a commit of main: check that the model pinned by dvc.lock is in "
                       "the DVC remote (sha256 against models/model_card.json), then apply the verdict "
                       "CI committed with it (reports/comparison.json, for these exact bytes): promote "
                       "-> next version credit-risk@vX.Y.Z and stage prod; reject -> the data lands, "
                       "the model is recorded as a version but prod stays; reject + the override label "
                       "-> promoted, the override recorded; no comparison for these bytes -> prod "
                       "stays. A revert of a promotion merge puts prod back on the version before it. "
                       "Tags are created locally: push them with `git push origin --tags`.")
    p.add_argument("--require-remote", action="store_true",
                   help="fail when no DVC remote is configured (CI); otherwise the local cache will do")
    p.add_argument("--notes", metavar="FILE", help="also write release notes (markdown) to FILE")
    p.add_argument("--label", action="append", help="a label of the merged pull request (repeatable); "
                   "registry.override_label (promote-anyway) promotes a model the gate rejected")
    p.add_argument("--actor", help="who merged / applied the override (recorded in the tag)")
    p.add_argument("--event", metavar="FILE", help="labels and merger of the merged pull request: a "
                   "pull_request event payload ($GITHUB_EVENT_PATH) or `gh pr list --json "
                   "number,labels,mergedBy` output")
    p.set_defaults(handler="pipeline.promote:cli")


def _add_versions(sub) -> None:
    p = sub.add_parser("versions", help="list the registered model versions and rollbacks",
                       description="The history from the git tags: version, date, model hash, key "
                       "metrics, training rows, the PR or commit that promoted it, rollbacks marked "
                       "(run `git fetch --tags` first in an old clone).")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--timeline", action="store_true", help="only the production timeline: for each "
                   "period, the version in the stage and who or what put it there (PR, override, "
                   "rollback, scheduled retraining)")
    p.set_defaults(handler="pipeline.promote:versions_cli")


def _add_rollback_check(sub) -> None:
    p = sub.add_parser("rollback-check", help="pull requests: is this model an earlier registered version?",
                       description="Compare the model md5 in the work tree's dvc.lock with the registered "
                       "versions. An earlier version (not the one in production) means a rollback: the "
                       "pulled bytes are checked against that version's sha256, the report says "
                       "'Rollback to vN' with its metrics, and CI skips retraining. Writes "
                       "rollback=true|false to $GITHUB_OUTPUT when set.")
    p.add_argument("--report", default="reports/report.md", help="markdown written for a rollback")
    p.set_defaults(handler="pipeline.promote:rollback_check_cli")


def _add_commit_back(sub) -> None:
    p = sub.add_parser("commit-back", help="CI: commit dvc.lock and the git-tracked outputs, push them",
                       description="Stage dvc.lock and every pipeline output that lives in git (cache: "
                       "false), commit them with [skip ci] when they changed, and push to the branch.")
    p.add_argument("--branch", help="branch to push to (default: commit only)")
    p.add_argument("--remote", default="origin", help="git remote (default origin)")
    p.add_argument("--message", default="Reproduce the pipeline: dvc.lock, metrics and model card",
                   help="commit message ([skip ci] is appended)")
    p.set_defaults(handler="pipeline.promote:commit_back_cli")


def _add_drift(sub) -> None:
    p = sub.add_parser("drift", help="stage: data, prediction and concept drift of the newest batch",
                       description="Compare the newest batch with the production model's training "
                       "window (drift.production_rev): per-column KS, Mann-Whitney, PSI, Wasserstein, "
                       "chi-squared, Jensen-Shannon; drifted = significant after Benjamini-Hochberg AND "
                       "a large effect; share of drifted features -> keep / consider / retrain. Writes "
                       "reports/drift.json and plots. With --reference and --current, any two CSV "
                       "files. Exits 0 whatever the verdict.")
    p.add_argument("--reference", help="reference CSV or Parquet file (two-file mode)")
    p.add_argument("--current", help="current CSV or Parquet file (two-file mode)")
    p.add_argument("-o", "--output", help="JSON to write (default reports/drift.json; drift.json "
                   "in two-file mode)")
    p.add_argument("--model", help="two-file mode: a model file for prediction (and concept) drift")
    p.add_argument("--figures", help="two-file mode: directory for the PNG charts (default: none)")
    p.set_defaults(handler="pipeline.drift:cli")


def _add_ingest(sub) -> None:
    p = sub.add_parser("ingest", help="scheduled: import new batch files from data.source (dvc import-url)",
                       description="List data.source (a folder, s3:// or https:// location; fsspec) "
                       "for files matching data.pattern; each one data.batches_dir does not hold yet "
                       "comes in with `dvc import-url` (a .dvc file recording the URL, followed by "
                       "`dvc update`). Commit and open a pull request like a data engineer's. Writes "
                       "new=N and period to $GITHUB_OUTPUT when set. Nothing to do without a source.")
    p.add_argument("--body", metavar="FILE", help="write the pull request body (markdown) here")
    p.set_defaults(handler="pipeline.retrain:ingest_cli")


def _add_retrain_plan(sub) -> None:
    p = sub.add_parser("retrain-plan", help="scheduled: change params.yaml so that retraining trains "
                       "a different model", description="Read the monitoring report; when its decision "
                       "is retrain, change an input of the pipeline so that `dvc repro` trains a "
                       "different model than main's: drift -> training window combine -> replace "
                       "(the newest window.replace_batches); any other trigger -> a fresh search "
                       "(the next seed). Writes the PR body naming the trigger and the change, and "
                       "retrain=true|false to $GITHUB_OUTPUT when set.")
    p.add_argument("--monitoring", default="reports/monitoring/latest.json",
                   help="the monitor command's report (default reports/monitoring/latest.json)")
    p.add_argument("--body", metavar="FILE", help="write the pull request body (markdown) here")
    p.set_defaults(handler="pipeline.retrain:plan_cli")


def _add_site(sub) -> None:
    p = sub.add_parser("site", help="write the static site: registry, monitoring, data contract",
                       description="A self-contained static site built from this repository: the model "
                       "in production and its metrics against the floors, every registered version "
                       "(model card, promotion report, production timeline), the monitoring history "
                       "(metrics per period with thresholds, the label-free estimate, drift per feature, "
                       "alerts over time), the data contract per batch and Great Expectations' Data "
                       "Docs. Plain HTML and inline SVG: nothing is loaded from elsewhere. Needs the "
                       "version tags (`git fetch --tags`).")
    p.add_argument("-o", "--output", default="site", help="directory to write (replaced whole; default site)")
    p.add_argument("--monitoring-ref", help="git revision holding reports/monitoring/ (default "
                   "site.monitoring_ref in params.yaml; unset: the work tree and its history)")
    p.add_argument("--no-gx-docs", action="store_true",
                   help="skip Great Expectations' Data Docs (they re-validate every batch)")
    p.set_defaults(handler="pipeline.site:cli")


COMMANDS = [_add_validate, _add_expectations, _add_simulate, _add_schema, _add_prepare, _add_train,
            _add_evaluate, _add_summary,
            _add_predict, _add_monitor, _add_compare, _add_report, _add_promote, _add_versions,
            _add_rollback_check, _add_commit_back, _add_drift, _add_ingest, _add_retrain_plan,
            _add_site]


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
