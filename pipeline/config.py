"""Every file and folder the pipeline reads or writes, defined once.

Paths are relative to the repository root: DVC runs every stage there, the workflows and `make` run
the CLI there, and reports that name these paths stay identical across clones (an absolute path
would differ from one checkout to the next). The stage outputs match `dvc.yaml` (a test checks that
each of its paths is spelled here and nowhere else in the package). Knobs and their defaults are
not here: they live in params.yaml.
"""

from __future__ import annotations

from pathlib import Path

PARAMS = Path("params.yaml")
DVC_YAML = Path("dvc.yaml")
DVC_LOCK = Path("dvc.lock")

# prepare: the training window split three ways, and what went into it
PREPARED = Path("data/prepared")
TRAIN_SET = PREPARED / "train.parquet"
VAL_SET = PREPARED / "val.parquet"
TEST_SET = PREPARED / "test.parquet"
MANIFEST = PREPARED / "manifest.json"
SPLITS = {"train": TRAIN_SET, "val": VAL_SET, "test": TEST_SET}

# train and evaluate: one candidate per family, then the selected model and its card
CANDIDATES = Path("models/candidates")
MODEL = Path("models/model.skops")
CARD_JSON = Path("models/model_card.json")
CARD_MD = Path("models/model_card.md")
# the production model ("the champion") prepare and train build on: git-tracked, written by the
# `champion` command (not a stage: it reads the registry), a declared input of prepare and train
CHAMPION = Path("models/champion.json")

REPORTS = Path("reports")
VALIDATION = REPORTS / "validation.json"
DRIFT = REPORTS / "drift.json"
DRIFT_FIGURES = REPORTS / "drift"
DRIFT_PLOT_DATA = REPORTS / "plots" / "drift_features.json"
CANDIDATE_REPORTS = REPORTS / "candidates"
METRICS = REPORTS / "metrics.json"
PLOTS = REPORTS / "plots"
FIGURES = REPORTS / "figures"
# not pipeline outputs: timings (untracked), the pull request's comparison and comment, monitoring
TIMINGS = REPORTS / "timings"
COMPARISON = REPORTS / "comparison.json"
COMPARE_FIGURES = REPORTS / "compare"
REPORT_MD = REPORTS / "report.md"
MONITORING = REPORTS / "monitoring"
# the monitor command's files (its --output-dir holds them under these names)
MONITOR_HISTORY = MONITORING / "history.csv"
MONITOR_LATEST = MONITORING / "latest.json"
MONITOR_PLOT = MONITORING / "metrics.png"
MONITOR_ISSUE = MONITORING / "issue.md"

# where atomic writes stage their temporary files: inside the repository (same file system as the
# target, so the final rename is atomic) and ignored by git and DVC
SCRATCH = Path(".dvc/tmp/writes")
