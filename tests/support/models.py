"""Models fitted directly in Python and committed the DVC way (`dvc add` + a model card in git), so
`pipeline.core.revision.production` loads them through dvc.api exactly as in production: the
monitoring and site tests build their registries from these without a `dvc repro`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.project import env, run, simulate_batches

ROWS = 1200  # rows per simulated month


def fit(frames: list, params: dict[str, Any], family: str = "logistic", hp: dict | None = None):
    """A real pipeline (shared preprocessing + estimator), fitted on the given frames."""
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from pipeline.core.schema import from_params
    from pipeline.modeling.estimators import build_estimator, build_preprocessor

    schema = from_params(params)
    data = pd.concat(frames, ignore_index=True)
    est = build_estimator(family, hp or {}, len(schema.classes), 0, 1, 0)
    model = Pipeline([("prep", build_preprocessor(schema, scale=True)), ("model", est)])
    model.fit(data[schema.features], schema.class_index(data[schema.target]))
    return model


def commit_model(project: Path, model, files: list[str], message: str, tag: str | None = None,
                 tag_date: str | None = None) -> str:
    """Save the model (skops), `dvc add` it, write its card (data files, split, seed, test metrics on
    the holdout of the newest file, as evaluate does), commit; optionally tag `credit-risk@vX.Y.Z`."""
    from dvc.repo import Repo

    from pipeline.core.files import read_csv, save_model, sha256, write_json
    from pipeline.core.metrics import classification_metrics, rounded
    from pipeline.core.schema import from_params
    from pipeline.core.splits import split
    from pipeline.modeling.predict import predict_proba
    from pipeline.params import load

    params = load(project / "params.yaml")
    schema = from_params(params)
    newest = read_csv(project / files[-1]).dropna(subset=[schema.target])
    _, _, test = split([newest], schema, params["split"], int(params["seed"]))
    y = schema.class_index(test[schema.target])
    metrics = rounded(classification_metrics(y, predict_proba(model, test, schema), list(schema.classes)))
    path = project / "models" / "model.skops"
    save_model(path, model)
    card = {"model": {"family": "logistic", "path": "models/model.skops", "sha256": sha256(path)},
            "schema": {"target": schema.target, "classes": list(schema.classes)},
            "data": {"window": "combine", "files": [{"path": f, "sha256": sha256(project / f),
                                                      "rows": len(read_csv(project / f))} for f in files]},
            "training": {"seed": params["seed"]}, "params": {"split": params["split"]},
            "metrics": {"test": metrics}}
    write_json(project / "models" / "model_card.json", card)
    Repo(str(project)).add(str(path))
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", message], project)
    commit = run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    if tag:
        extra = {"GIT_COMMITTER_DATE": tag_date} if tag_date else {}
        run(["git", "tag", "-a", tag, "-m", f"Registered {tag}"], project, env=env(project.parent) | extra)
    return commit


def add_months(project: Path, periods: list[str], scenario: str, seed: int = 0) -> None:
    simulate_batches(project / "data" / "batches", periods, ROWS, scenario, seed)
