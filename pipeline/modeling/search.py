"""The budgeted, seeded hyperparameter search: Optuna's TPE sampler over the space params.yaml
declares, trials one after another (so the same data, params and seed give the same trials and the
same model), and successive halving over boosting rounds: a trial that is not among the best at a
rung (min_rounds, x reduction_factor, ...) stops there, so hopeless trials cost a few dozen rounds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pipeline.modeling.estimators import one_blas_thread


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


def study(train_cfg: dict[str, Any], seed: int, maximize: bool):
    """An in-memory Optuna study: seeded TPE sampling and successive halving over boosting rounds
    (train.pruning): at rounds min_rounds, x reduction_factor, x reduction_factor² ... a trial goes on
    only if its validation loss is in the best 1/reduction_factor of the trials that reached that
    round (the best so far while fewer than reduction_factor have). On 100k rows it cut the boosters'
    rounds 2-2.7x and kept the same trial as median pruning did (README "The pipeline"). Trials run
    one after another, so the same data, params and seed give the same trials and the same model."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruning = train_cfg.get("pruning")
    pruner = optuna.pruners.SuccessiveHalvingPruner(
        min_resource=int(pruning["min_rounds"]), reduction_factor=int(pruning["reduction_factor"]),
    ) if pruning else optuna.pruners.NopPruner()
    return optuna.create_study(direction="maximize" if maximize else "minimize", pruner=pruner,
                               sampler=optuna.samplers.TPESampler(seed=seed))


def search(family: str, cfg: dict[str, Any], train_cfg: dict[str, Any], metric: str, classes: list[str],
           y_val, fit_score: Callable, seed: int, log: Callable[[str], None],
           warm_hp: dict[str, Any] | None = None, costs: Any = None) -> dict[str, Any]:
    """Run the trials; the best one (score, params, `finish` giving the estimator to save, its
    validation probabilities), every trial's record and the seconds each took. `costs`: the cost
    matrix (schema.costs) when the metric is the expected cost.

    `fit_score(hp, on_round)` fits one trial and returns (validation probabilities, finish); a
    warm start (`warm_hp`) is one trial with the base model's hyperparameters."""
    import optuna

    from pipeline.core.metrics import classification_metrics, higher_is_better, lookup

    started = time.perf_counter()
    n_trials = 1 if warm_hp is not None else max(int(cfg.get("n_trials", 1)), 1)
    better = higher_is_better(metric)
    sign = 1.0 if better else -1.0  # pruning compares -loss when the study maximises
    best: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    seconds_per_trial: list[float] = []

    def objective(trial) -> float:
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
        values = classification_metrics(y_val, proba, classes, costs)
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
    return {"best": best, "history": history, "seconds_per_trial": seconds_per_trial,
            "started": started}
