"""`python -m pipeline <command>`: the one entry point for dvc.yaml, the workflows, tests and people.

This module is the list of commands. Each lives in `pipeline/commands/<name>.py`: its docstring is
the command's description, `add_arguments` its options and `main` what it does (the only place that
prints or writes `$GITHUB_OUTPUT`). Only the command being run is imported, and it imports the
library when it runs, so `--help` answers instantly and a dvc.yaml stage depends on its own command
alone.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType

from pipeline.config import PARAMS

DESCRIPTION = """\
GitOps retraining of a tabular classifier (credit risk by default).

Pipeline stages (run by `dvc repro`, in this order):
  validate, drift, prepare, train, evaluate
Around them: compare and report (pull requests), promote and versions (merges, rollbacks),
monitor (scheduled runs), site (static pages), predict, simulate, schema, expectations,
summary.

Every knob lives in params.yaml. Run from the repository root.
Set PIPELINE_DEBUG=1 to see a traceback instead of the one-line error."""


# (command, one-line help), in the order `--help` lists them; the module is commands/<command>.py
# with dashes as underscores.
COMMANDS: list[tuple[str, str]] = [
    ("validate", "stage: every batch against the data contract (GX suite)"),
    ("drift", "stage: data, prediction and concept drift of the newest batch"),
    ("prepare", "stage: training window and seeded stratified splits"),
    ("train", "stage: hyperparameter search for one model family"),
    ("evaluate", "stage: select the best candidate, test metrics, model card"),
    ("summary", "print the selected model and its key metrics"),
    ("compare", "champion (model at a git revision) vs challenger (work tree)"),
    ("report", "write the pull-request comment (markdown) from the reports"),
    ("rollback-check", "pull requests: is this model an earlier registered version?"),
    ("champion", "write models/champion.json: the production model prepare and train build on"),
    ("commit-back", "CI: commit dvc.lock and the git-tracked outputs, push them"),
    ("promote", "apply a merge's verdict to the registry (promote, keep, rollback)"),
    ("versions", "list the registered model versions and rollbacks"),
    ("monitor", "score the production model on new batches: alerts, triggers, A/B"),
    ("ingest", "scheduled: import new batch files from data.source (dvc import-url)"),
    ("retrain-plan", "scheduled: change params.yaml so that retraining trains a different model"),
    ("predict", "score raw rows with the production model"),
    ("site", "write the static site: registry, monitoring, data contract"),
    ("expectations", "generate the data contract (GX suite) from batches"),
    ("schema", "infer the dataset schema from CSV or Parquet batches into params.yaml"),
    ("simulate", "write one simulated monthly batch of credit applications"),
]


def command_module(command: str) -> ModuleType:
    """The module implementing `command` (imported on demand)."""
    return importlib.import_module(f"pipeline.commands.{command.replace('-', '_')}")


def _command_in(argv: list[str]) -> str | None:
    """The command named on the command line, if any (the first word that is not an option)."""
    words = iter(argv)
    for word in words:
        if word == "--params":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; the options of the command `argv` names are added, the others' only listed."""
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default=PARAMS.as_posix(), help="params file (default params.yaml)")
    sub = parser.add_subparsers(title="commands", metavar="<command>")
    chosen = _command_in(sys.argv[1:] if argv is None else argv)
    for name, summary in COMMANDS:
        if name != chosen:
            sub.add_parser(name, help=summary)
            continue
        module = command_module(name)
        cmd = sub.add_parser(name, help=summary, description=module.__doc__)
        module.add_arguments(cmd)
        cmd.set_defaults(main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not hasattr(args, "main"):
        parser.print_help()
        return 2
    from pipeline.errors import PipelineError

    try:
        return int(args.main(args) or 0)
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
