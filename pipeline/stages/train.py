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
from pipeline.config import (
    CANDIDATE_REPORTS,
    CANDIDATES,
    CARD_JSON,
    MANIFEST,
    MODEL,
    TIMINGS,
    TRAIN_SET,
    VAL_SET,
)
from pipeline.core.schema import Schema
from pipeline.errors import PipelineError

FAMILIES = ("xgboost", "lightgbm", "random_forest", "logistic")
PRODUCTION_MODEL = MODEL
# Wall-clock timings: untracked (.gitignore), so a re-run that gives the same model gives the same
# git-tracked files; the console, the benchmarks and the PR report read them from here.


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


def suggest(trial, space: dict[str, Any]) -> dict[str, Any]:
    """Lists are choices; {low, high[, log, int]} are ranges; anything else is fixed. Optuna samples."""
    hp: dict[str, Any] = {}
    for key, spec in (space or {}).items():
        if isinstance(spec, dict):
            low, high = float(spec["low"]), float(spec["high"])
            if spec.get("int"):
                hp[key] = trial.suggest_int(key, int(low), int(high), log=bool(spec.get("log")))
            else:
                hp[key] = round(trial.suggest_float(key, low, high, log=bool(spec.get("log"))), 6)
        elif isinstance(spec, list):
            hp[key] = trial.suggest_categorical(key, spec)
        else:
            hp[key] = spec
    return hp


def binned(family: str, data: dict[str, Any], n_jobs: int) -> dict[str, Any]:
    """The boosters' binned training and validation data, built once and shared by every trial."""
    if family == "xgboost":
        import xgboost as xgb

        train = xgb.QuantileDMatrix(data["Xt"], data["yt"], nthread=n_jobs)
        return {"train": train, "val": xgb.QuantileDMatrix(data["Xv"], data["yv"], ref=train,
                                                           nthread=n_jobs)}
    if family == "lightgbm":
        import lightgbm as lgb

        # feature_pre_filter off: trials change min_child_samples on the one Dataset
        train = lgb.Dataset(data["Xt"], data["yt"], free_raw_data=False,
                            params={"feature_pre_filter": False, "verbose": -1})
        return {"train": train, "val": lgb.Dataset(data["Xv"], data["yv"], reference=train,
                                                   free_raw_data=False)}
    return {}


def fit_trial(family: str, hp: dict[str, Any], data: dict[str, Any], bins: dict[str, Any],
              cfg: dict[str, Any], seed: int, n_jobs: int, init_model=None, on_round=None):
    """One trial: its validation probabilities, and a function giving the fitted estimator to save.

    Boosters train on the shared bins and early-stop on validation; `on_round(round, loss)` sees the
    validation loss after every boosting round (and raises optuna.TrialPruned to stop a hopeless one).
    """
    n_classes = data["n_classes"]
    rounds = int(cfg.get("early_stopping_rounds", 0)) if family in ("xgboost", "lightgbm") else 0
    est = build_estimator(family, hp, n_classes, seed, n_jobs, rounds)
    if family == "lightgbm":
        return _fit_lightgbm(est, hp, data, bins, n_classes, seed, n_jobs, rounds, init_model, on_round)
    if family == "xgboost":
        est = _fit_xgboost(est, bins, n_classes, rounds, init_model, on_round)
    else:
        est = _fit_sklearn(family, est, hp, data)
    return est.predict_proba(data["Xv"]), lambda: est


def _fit_sklearn(family: str, est, hp: dict[str, Any], data: dict[str, Any]):
    """A family without boosting rounds, fitted on the in-memory training rows."""
    if family == "random_forest" and isinstance(hp.get("max_samples"), int):
        # a row cap per tree; below it, the same bootstrap as the default (one draw per row)
        est.set_params(max_samples=min(hp["max_samples"], len(data["yt"])))
    return est.fit(data["Xt"], data["yt"])



def _pipeline(pre, est):
    """The saved form of every model: raw rows in, the fitted preprocessing, then the estimator."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", pre), ("model", est)])


def _fit_xgboost(est, bins, n_classes: int, rounds: int, init_model, on_round):
    """xgb.train on the shared QuantileDMatrix; the booster loaded back into the XGBClassifier."""
    import xgboost as xgb

    params = est.get_xgb_params()
    if n_classes > 2:  # as XGBClassifier.fit does
        params.update(objective="multi:softprob", num_class=n_classes)
    callbacks = []
    if on_round is not None:
        class Report(xgb.callback.TrainingCallback):
            def after_iteration(self, model, epoch, evals_log) -> bool:
                on_round(epoch, next(iter(evals_log["validation"].values()))[-1])
                return False

        callbacks.append(Report())
    booster = xgb.train(params, bins["train"], est.n_estimators, evals=[(bins["val"], "validation")],
                        early_stopping_rounds=rounds or None, verbose_eval=False,
                        xgb_model=init_model, callbacks=callbacks)
    est.load_model(bytearray(booster.save_raw(raw_format="ubj")))
    return est


def _fit_lightgbm(est, hp, data, bins, n_classes: int, seed: int, n_jobs: int, rounds: int, init_model,
                  on_round):
    import numpy as np

    """lgb.train on the shared Dataset to find the rounds; the chosen trial is refitted as an
    LGBMClassifier (the saved form) for exactly those rounds (same params, same bins)."""
    import lightgbm as lgb

    params = {k: v for k, v in est.get_params().items()
              if k not in ("n_estimators", "class_weight", "importance_type", "objective")}
    params.update(objective="multiclass" if n_classes > 2 else "binary", verbose=-1,
                  num_class=n_classes if n_classes > 2 else 1,
                  metric="multi_logloss" if n_classes > 2 else "binary_logloss")
    callbacks = [lgb.early_stopping(rounds, verbose=False)] if rounds else []
    if on_round is not None:
        callbacks.append(lambda env: on_round(env.iteration, env.evaluation_result_list[0][2]))
    booster = lgb.train(params, bins["train"], num_boost_round=est.n_estimators,
                        valid_sets=[bins["val"]], valid_names=["validation"],
                        init_model=init_model, callbacks=callbacks)
    best = booster.best_iteration or booster.current_iteration()
    proba = booster.predict(data["Xv"], num_iteration=best)
    proba = proba if proba.ndim == 2 else np.column_stack([1 - proba, proba])
    own = best - (init_model.current_iteration() if init_model is not None else 0)

    def refit():
        final = build_estimator("lightgbm", {**hp, "n_estimators": own}, n_classes, seed, n_jobs, 0)
        return final.fit(data["Xt"], data["yt"], init_model=init_model)

    return proba, refit


def study(train_cfg: dict[str, Any], seed: int, maximize: bool):
    """An in-memory Optuna study: seeded TPE sampling; boosting trials that trail the median of the
    finished ones at the same round are stopped (train.pruning). Trials run one after another, so
    the same data, params and seed give the same trials and the same model."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruning = train_cfg.get("pruning")
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=int(pruning["startup_trials"]), n_warmup_steps=int(pruning["warmup_rounds"]),
        interval_steps=int(pruning["interval_rounds"]),
    ) if pruning else optuna.pruners.NopPruner()
    return optuna.create_study(direction="maximize" if maximize else "minimize", pruner=pruner,
                               sampler=optuna.samplers.TPESampler(seed=seed))


def _warm_start_base(family: str):
    """The production model to continue boosting from, when it is of the same family."""
    from pipeline.core.files import load_model

    if family not in ("xgboost", "lightgbm") or not PRODUCTION_MODEL.exists():
        return None
    prod = load_model(PRODUCTION_MODEL)
    kind = type(prod.named_steps["model"]).__module__.split(".")[0]
    return prod if kind == family else None


def _unseen_by_base(val, log):
    """Validation rows the warm-start base never learned from (its card's split masks): early
    stopping on rows it trained on would stop late and flatter the continued model."""
    from pipeline.core.files import read_json
    from pipeline.stages.prepare import unseen_rows

    if not CARD_JSON.exists():
        raise PipelineError(f"{CARD_JSON}: the warm-start base model's card is missing: cannot tell "
                            "which validation rows it trained on")
    card = read_json(CARD_JSON)
    current = {Path(f["path"]).stem: f.get("sha256") for f in read_json(MANIFEST)["files"]}
    keep, info = unseen_rows(val, card, current, VAL_SET, "the warm-start base model")
    for e in info["excluded"]:
        log(f"warm start: {e['rows']} validation rows left out: {e['reason']}")
    return val[keep].reset_index(drop=True)


def run(params: dict[str, Any], family: str, log=print) -> dict[str, Any]:
    """Train one family with the engine params choose: in this process, or on a Dask cluster."""
    train_cfg = P.section(params, "train")
    engine = train_cfg.get("engine", "local")
    if engine == "local":
        return _run(params, family, log)
    if engine != "dask":
        raise PipelineError(f"params.yaml: train.engine '{engine}': expected local or dask")
    if train_cfg.get("strategy") == "warm_start":
        raise PipelineError("params.yaml: train.strategy warm_start: not available with train.engine "
                            "dask (continue boosting with engine local)")
    from pipeline.modeling import cluster

    dask_cfg = P.section(params, "train", "dask")
    with cluster.session(dask_cfg, log) as client:
        return _run(params, family, log, client=client, dask_cfg=dask_cfg)


def _run(params: dict[str, Any], family: str, log, client=None, dask_cfg=None) -> dict[str, Any]:
    from pipeline.core.files import read_frame, save_model, write_json
    from pipeline.core.metrics import classification_metrics, higher_is_better, lookup, rounded
    from pipeline.core.schema import from_params

    schema = from_params(params)
    models_cfg = P.section(params, "models")
    if family not in models_cfg:
        raise PipelineError(f"params.yaml: models.{family}: not configured")
    cfg = models_cfg[family] or {}
    train_cfg = P.section(params, "train")
    seed, n_jobs = int(params.get("seed", 0)), int(train_cfg.get("n_jobs", 2))
    metric = train_cfg.get("primary_metric", "accuracy")
    classes = list(schema.classes)
    if client is not None:
        from pipeline.modeling import cluster

        pre, data = cluster.load(client, schema, lambda: build_preprocessor(schema, family == "logistic"),
                                 family, dask_cfg, seed)
        base, init, warm_hp = None, None, None
        rows = {"train_rows": data["n_train"], "val_rows": len(data["yv"])}
        if family not in cluster.DASK_FAMILIES:
            log(f"[{family}] no Dask interface: trains locally on {data['sampled_rows']} of "
                f"{data['n_train']} rows (train.dask.sample_rows), scored on the whole validation split")
            rows["sampled_rows"] = data["sampled_rows"]

        def fit_score(hp: dict[str, Any], on_round):
            """A trial on the cluster (no per-round reports, so no pruning): probabilities, the model."""
            if family in cluster.DASK_FAMILIES:
                rounds = int(cfg.get("early_stopping_rounds", 0))
                est = build_estimator(family, hp, len(classes), seed, n_jobs, rounds)
                local, proba = cluster.fit_score(client, family, est, data, rounds, dask_cfg)
                return proba, lambda: local
            est = _fit_sklearn(family, build_estimator(family, hp, len(classes), seed, n_jobs, 0), hp, data)
            proba = cluster.predict_proba(_pipeline(pre, est), data["val"], list(schema.features),
                                          len(classes))
            return proba, lambda: est
    else:
        train, val = read_frame(TRAIN_SET), read_frame(VAL_SET)
        base = _warm_start_base(family) if train_cfg.get("strategy") == "warm_start" else None
        init, warm_hp = None, None
        if base is not None:
            val = _unseen_by_base(val, log)
            pre = base.named_steps["preprocess"]
            warm_hp = {k: v for k, v in base.named_steps["model"].get_params().items()
                       if k in (cfg.get("search") or {})}
            init = base.named_steps["model"]
            init = init.get_booster() if family == "xgboost" else init.booster_
            log(f"[{family}] warm start from {PRODUCTION_MODEL}")
        else:
            pre = build_preprocessor(schema, scale=family == "logistic").fit(train[schema.features])
        data = {
            "Xt": pre.transform(train[schema.features]), "yt": schema.class_index(train[schema.target]),
            "Xv": pre.transform(val[schema.features]), "yv": schema.class_index(val[schema.target]),
            "n_classes": len(classes),
        }
        rows = {"train_rows": int(len(train)), "val_rows": int(len(val))}
        bins = binned(family, data, n_jobs)

        def fit_score(hp: dict[str, Any], on_round):
            return fit_trial(family, hp, data, bins, cfg, seed, n_jobs, init, on_round)

    started = time.perf_counter()
    n_trials = 1 if warm_hp is not None else max(int(cfg.get("n_trials", 1)), 1)
    better = higher_is_better(metric)
    sign = 1.0 if better else -1.0  # pruning compares -loss when the study maximises
    best: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    seconds_per_trial: list[float] = []

    def objective(trial) -> float:
        import optuna

        t0 = time.perf_counter()
        hp = warm_hp if warm_hp is not None else suggest(trial, cfg.get("search"))
        seen = {"round": 0}

        def on_round(step: int, loss: float) -> None:
            seen["round"] = step + 1
            trial.report(-sign * loss, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        try:
            with one_blas_thread():  # the boosters' own threads (and Dask's workers) are unaffected
                proba, finish = fit_score({**(cfg.get("fixed") or {}), **hp}, on_round)
        except optuna.TrialPruned:
            history.append({"params": hp, metric: None, "rounds": seen["round"], "pruned": True})
            seconds_per_trial.append(round(time.perf_counter() - t0, 3))
            log(f"[{family}] trial {trial.number + 1}/{n_trials} pruned at round {seen['round']} "
                f"({time.perf_counter() - t0:.1f}s, {time.perf_counter() - started:.0f}s total)")
            raise
        values = classification_metrics(data["yv"], proba, classes)
        value = lookup(values, metric)
        history.append({"params": hp, metric: round(value, 6), "rounds": seen["round"] or None,
                        "pruned": False})
        seconds_per_trial.append(round(time.perf_counter() - t0, 3))
        if not best or (value > best["score"] if better else value < best["score"]):
            best.update(score=value, params=hp, finish=finish, proba=proba, rounds=seen["round"] or None)
        log(f"[{family}] trial {trial.number + 1}/{n_trials} {metric}={value:.4f} "
            f"best={best['score']:.4f} ({time.perf_counter() - t0:.1f}s, "
            f"{time.perf_counter() - started:.0f}s total)")
        return value

    study(train_cfg, seed, better).optimize(objective, n_trials=n_trials)
    with one_blas_thread():
        model = _pipeline(pre, best["finish"]())
    # the cluster's trial model is the saved one; locally the saved one is scored again (LightGBM's
    # is refitted for the chosen rounds)
    proba = best["proba"] if client is not None else model.named_steps["model"].predict_proba(data["Xv"])
    values = classification_metrics(data["yv"], proba, classes)
    est = model.named_steps["model"]
    if family == "lightgbm" and client is None:  # refitted for exactly the chosen rounds
        best_iteration = est.n_estimators + (init.current_iteration() if init is not None else 0)
    else:
        best_iteration = getattr(est, "best_iteration" if family == "xgboost" else "best_iteration_", None)
    save_model(CANDIDATES / f"{family}.skops", model)
    result = {
        "family": family,
        "metric": metric,
        "validation_score": round(lookup(values, metric), 6),
        "validation": rounded(values),
        "best_params": best["params"],
        "best_iteration": int(best_iteration) if best_iteration is not None else None,
        "strategy": "warm_start" if base is not None else "from_scratch",
        "trials": history,
        "engine": "dask" if client is not None else "local",
        **rows,
        "n_features_encoded": len(pre.get_feature_names_out()),
    }
    write_json(CANDIDATE_REPORTS / f"{family}.json", result)
    timing = {"train_seconds": round(time.perf_counter() - started, 2), "trials": seconds_per_trial}
    write_json(TIMINGS / f"{family}.json", timing)
    return result | timing


def passive_openmp() -> None:
    """Idle OpenMP threads sleep instead of spinning (unless the environment says otherwise).

    The boosters' and scikit-learn's OpenMP threads busy-wait between parallel regions by default; on
    a runner shared with other jobs that turns 2 s of boosting into 40 s (measured here, 2 cores under
    load). Must run before xgboost, lightgbm or scikit-learn load their OpenMP runtime."""
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def cli(args: argparse.Namespace) -> int:
    passive_openmp()
    result = run(P.load(args.params), args.family)
    print(f"train: {args.family} best {result['metric']}={result['validation_score']:.4f} on "
          f"validation after {len(result['trials'])} trials in {result['train_seconds']:.1f}s "
          f"-> {CANDIDATES / (args.family + '.skops')}")
    return 0
