"""One model family: a budgeted, seeded hyperparameter search, early stopping for the boosters.

Every family shares one preprocessing definition fitted inside the saved pipeline, so a saved
model takes raw rows. Candidates are chosen on the validation split; the test split is untouched.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.errors import PipelineError
from pipeline.schema import Schema

FAMILIES = ("xgboost", "lightgbm", "random_forest", "logistic")
CANDIDATES = Path("models/candidates")
CANDIDATE_REPORTS = Path("reports/candidates")
PRODUCTION_MODEL = Path("models/model.skops")
CARD_JSON = Path("models/model_card.json")  # the model card evaluate writes beside it
# Wall-clock timings: untracked (.gitignore), so a re-run that gives the same model gives the same
# git-tracked files; the console, the benchmarks and the PR report read them from here.
TIMINGS = Path("reports/timings")


def one_blas_thread():
    """Same data, params and seed -> same bytes, whatever the machine's BLAS thread count.

    A multi-threaded BLAS sums in another order (the linear model's coefficients then differ by
    ~1e-11); the boosters' own OpenMP threads are deterministic and stay as they are.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def build_preprocessor(schema: Schema, scale: bool):
    """Imputation and one-hot encoding for every family; scaling only where the model needs it."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [SimpleImputer(strategy="median")] + ([StandardScaler()] if scale else [])
    categorical = [
        SimpleImputer(strategy="constant", fill_value="__missing__"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    ]
    return ColumnTransformer(
        [
            ("num", make_pipeline(*numeric), list(schema.numeric)),
            ("cat", make_pipeline(*categorical), list(schema.categorical)),
        ],
        verbose_feature_names_out=False,
    )


def build_estimator(family: str, hp: dict[str, Any], n_classes: int, seed: int, n_jobs: int,
                    early_stopping: int):
    if family == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(
            tree_method="hist", random_state=seed, n_jobs=n_jobs,
            eval_metric="mlogloss" if n_classes > 2 else "logloss",
            early_stopping_rounds=early_stopping or None, **hp,
        )
    if family == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(random_state=seed, n_jobs=n_jobs, verbose=-1, deterministic=True,
                              force_col_wise=True, **hp)
    if family == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(random_state=seed, n_jobs=n_jobs, **hp)
    if family == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(random_state=seed, **{"max_iter": 2000, **hp})
    raise PipelineError(f"params.yaml: models.{family}: unknown family (expected {FAMILIES})")


def sample_space(space: dict[str, Any], n_trials: int, seed: int) -> list[dict[str, Any]]:
    """Lists are choices; {low, high[, log, int]} are ranges. Same seed, same trials."""
    from scipy import stats
    from sklearn.model_selection import ParameterSampler

    dists: dict[str, Any] = {}
    for key, spec in (space or {}).items():
        if isinstance(spec, dict):
            low, high = float(spec["low"]), float(spec["high"])
            if spec.get("int"):
                dists[key] = stats.randint(int(low), int(high) + 1)
            elif spec.get("log"):
                dists[key] = stats.loguniform(low, high)
            else:
                dists[key] = stats.uniform(low, high - low)
        elif isinstance(spec, list):
            dists[key] = spec
        else:
            dists[key] = [spec]
    if not dists:
        return [{}]
    trials = list(ParameterSampler(dists, n_iter=max(int(n_trials), 1), random_state=seed))
    return [{k: (round(float(v), 6) if isinstance(v, float) else _plain(v)) for k, v in t.items()}
            for t in trials]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def fit_one(family: str, hp: dict[str, Any], pre, data: dict[str, Any], cfg: dict[str, Any],
            seed: int, n_jobs: int, init_model=None):
    """Fit the estimator on already-transformed data (so boosters can early-stop on validation)."""
    n_classes = data["n_classes"]
    rounds = int(cfg.get("early_stopping_rounds", 0)) if family in ("xgboost", "lightgbm") else 0
    est = build_estimator(family, hp, n_classes, seed, n_jobs, rounds)
    fit_kw: dict[str, Any] = {}
    if family == "xgboost":
        fit_kw = {"eval_set": [(data["Xv"], data["yv"])], "verbose": False}
        if init_model is not None:
            fit_kw["xgb_model"] = init_model
    elif family == "lightgbm":
        import lightgbm as lgb

        fit_kw = {"eval_set": [(data["Xv"], data["yv"])]}
        if rounds:
            fit_kw["callbacks"] = [lgb.early_stopping(rounds, verbose=False)]
        if init_model is not None:
            fit_kw["init_model"] = init_model
    est.fit(data["Xt"], data["yt"], **fit_kw)
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", pre), ("model", est)])


def _warm_start_base(family: str):
    """The production model to continue boosting from, when it is of the same family."""
    from pipeline.io import load_model

    if family not in ("xgboost", "lightgbm") or not PRODUCTION_MODEL.exists():
        return None
    prod = load_model(PRODUCTION_MODEL)
    kind = type(prod.named_steps["model"]).__module__.split(".")[0]
    return prod if kind == family else None


def _unseen_by_base(val, log):
    """Validation rows the warm-start base never learned from (its card's split masks): early
    stopping on rows it trained on would stop late and flatter the continued model."""
    from pipeline.io import read_json
    from pipeline.prepare import PREPARED, unseen_rows

    if not CARD_JSON.exists():
        raise PipelineError(f"{CARD_JSON}: the warm-start base model's card is missing: cannot tell "
                            "which validation rows it trained on")
    card = read_json(CARD_JSON)
    current = {Path(f["path"]).stem: f.get("sha256") for f in read_json(PREPARED / "manifest.json")["files"]}
    keep, info = unseen_rows(val, card, current, PREPARED / "val.parquet", "the warm-start base model")
    for e in info["excluded"]:
        log(f"warm start: {e['rows']} validation rows left out: {e['reason']}")
    return val[keep].reset_index(drop=True)


def run(params: dict[str, Any], family: str, log=print) -> dict[str, Any]:
    import numpy as np

    from pipeline.io import read_frame, save_model, write_json
    from pipeline.metrics import classification_metrics, higher_is_better, lookup, rounded
    from pipeline.schema import from_params

    schema = from_params(params)
    models_cfg = P.section(params, "models")
    if family not in models_cfg:
        raise PipelineError(f"params.yaml: models.{family}: not configured")
    cfg = models_cfg[family] or {}
    train_cfg = P.section(params, "train")
    seed, n_jobs = int(params.get("seed", 0)), int(train_cfg.get("n_jobs", 2))
    metric = train_cfg.get("primary_metric", "accuracy")
    classes = list(schema.classes)
    train, val = read_frame("data/prepared/train.parquet"), read_frame("data/prepared/val.parquet")

    base = _warm_start_base(family) if train_cfg.get("strategy") == "warm_start" else None
    if base is not None:
        val = _unseen_by_base(val, log)
        pre = base.named_steps["preprocess"]
        trials = [{k: v for k, v in base.named_steps["model"].get_params().items()
                   if k in (cfg.get("search") or {})}]
        log(f"[{family}] warm start from {PRODUCTION_MODEL}")
    else:
        pre = build_preprocessor(schema, scale=family == "logistic").fit(train[schema.features])
        trials = sample_space(cfg.get("search"), cfg.get("n_trials", 1), seed)
    data = {
        "Xt": pre.transform(train[schema.features]), "yt": schema.class_index(train[schema.target]),
        "Xv": pre.transform(val[schema.features]), "yv": schema.class_index(val[schema.target]),
        "n_classes": len(classes),
    }
    better = higher_is_better(metric)
    best: dict[str, Any] | None = None
    history, seconds_per_trial = [], []
    started = time.perf_counter()
    for i, hp in enumerate(trials, 1):
        t0 = time.perf_counter()
        init = base.named_steps["model"] if base is not None else None
        if init is not None:
            init = init.get_booster() if family == "xgboost" else init.booster_
        with one_blas_thread():
            model = fit_one(family, {**(cfg.get("fixed") or {}), **hp}, pre, data, cfg, seed, n_jobs,
                            init)
        proba = model.named_steps["model"].predict_proba(data["Xv"])
        values = classification_metrics(data["yv"], proba, classes)
        value = lookup(values, metric)
        seconds = time.perf_counter() - t0
        history.append({"params": hp, metric: round(value, 6)})
        seconds_per_trial.append(round(seconds, 3))
        if best is None or (value > best["score"] if better else value < best["score"]):
            best = {"score": value, "params": hp, "model": model, "metrics": values}
        log(f"[{family}] trial {i}/{len(trials)} {metric}={value:.4f} "
            f"best={best['score']:.4f} ({seconds:.1f}s, {time.perf_counter() - started:.0f}s total)")
    assert best is not None
    est = best["model"].named_steps["model"]
    best_iteration = getattr(est, "best_iteration", None) if family == "xgboost" else \
        getattr(est, "best_iteration_", None)
    save_model(CANDIDATES / f"{family}.skops", best["model"])
    result = {
        "family": family,
        "metric": metric,
        "validation_score": round(best["score"], 6),
        "validation": rounded(best["metrics"]),
        "best_params": best["params"],
        "best_iteration": int(best_iteration) if best_iteration is not None else None,
        "strategy": "warm_start" if base is not None else "from_scratch",
        "trials": history,
        "train_rows": int(len(train)),
        "val_rows": int(len(val)),
        "n_features_encoded": int(np.asarray(data["Xt"]).shape[1]),
    }
    write_json(CANDIDATE_REPORTS / f"{family}.json", result)
    timing = {"train_seconds": round(time.perf_counter() - started, 2), "trials": seconds_per_trial}
    write_json(TIMINGS / f"{family}.json", timing)
    return result | timing


def cli(args: argparse.Namespace) -> int:
    result = run(P.load(args.params), args.family)
    print(f"train: {args.family} best {result['metric']}={result['validation_score']:.4f} on "
          f"validation after {len(result['trials'])} trials in {result['train_seconds']:.1f}s "
          f"-> {CANDIDATES / (args.family + '.skops')}")
    return 0
