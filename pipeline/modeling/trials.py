"""One trial of a search: the boosters train on binned data shared by every trial and early-stop on
validation (reporting each round's loss, so a hopeless trial can be pruned); the other families fit
on the in-memory rows."""

from __future__ import annotations

from typing import Any

from pipeline.modeling.estimators import build_estimator


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
        return _fit_lightgbm(est, data, bins, n_classes, rounds, init_model, on_round)
    if family == "xgboost":
        est = _fit_xgboost(est, bins, n_classes, rounds, init_model, on_round)
    else:
        est = fit_sklearn(family, est, hp, data)
    return est.predict_proba(data["Xv"]), lambda: est


def fit_sklearn(family: str, est, hp: dict[str, Any], data: dict[str, Any]):
    """A family without boosting rounds, fitted on the in-memory training rows."""
    if family == "random_forest" and isinstance(hp.get("max_samples"), int):
        # a row cap per tree; below it, the same bootstrap as the default (one draw per row)
        est.set_params(max_samples=min(hp["max_samples"], len(data["yt"])))
    return est.fit(data["Xt"], data["yt"])


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


def _fit_lightgbm(est, data, bins, n_classes: int, rounds: int, init_model, on_round):
    """lgb.train on the shared Dataset; the trial's own trees, cut at its best round, become the saved
    LGBMClassifier (`_as_classifier`): the chosen trial is never trained twice."""
    import lightgbm as lgb
    import numpy as np

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
    return proba, lambda: _as_classifier(est, booster, best, data)


def _as_classifier(est, booster, best: int, data: dict[str, Any]):
    """The LGBMClassifier holding exactly `booster`'s first `best` rounds (a warm start's base rounds
    included). The sklearn wrapper cannot fit on the shared binned Dataset, and refitting the chosen
    trial from raw rows cost as much as the trial: it is fitted with those rounds as its init model
    and stopped by an EarlyStopException naming round `best` after one round of its own, which
    LightGBM then drops (the predictions equal the trial's, tested)."""
    import lightgbm as lgb

    def stop(env) -> None:
        raise lgb.callback.EarlyStopException(best - 1, [])

    init = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    est.set_params(n_estimators=1).fit(data["Xt"], data["yt"], init_model=init, callbacks=[stop])
    # a booster fitted from an init model keeps a reference to that model's predictor, which skops
    # cannot save (its handle is dropped) and our trusted list refuses: the trees are all merged in
    est.booster_._Booster__init_predictor = None
    return est.set_params(n_estimators=best)
