"""Stage `train` (one model family, a DVC `foreach` item): read the splits (or stream them to a Dask
cluster), run the search (pipeline.modeling.search), save the best candidate and its report.

Candidates are chosen on the validation split; the test split is untouched. With train.strategy
warm_start a booster continues from the champion (models/champion.json, fetched by md5) when it is
of its family, early-stopping on the validation rows that model never learned from.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pipeline import params as P
from pipeline.config import (
    CANDIDATE_REPORTS,
    CANDIDATES,
    CARD_JSON,
    CHAMPION,
    MANIFEST,
    TIMINGS,
    TRAIN_SET,
    VAL_SET,
)
from pipeline.errors import PipelineError
from pipeline.modeling.estimators import build_estimator, build_preprocessor, one_blas_thread, saved_form


def _warm_start_base(family: str):
    """The champion (models/champion.json) to continue boosting from, when it is of the same family:
    fetched by the md5 the pointer pins and checked, never the work tree's models/model.skops (an
    undeclared input that evaluate rewrites). Returns the model, its bytes' sha256 and the pointer."""
    import hashlib

    from pipeline.core import champion as pointer
    from pipeline.core.artifact import fetch_md5
    from pipeline.core.files import load_model_bytes

    champ = pointer.read(CHAMPION)["champion"]
    if family not in ("xgboost", "lightgbm") or champ is None:
        return None, None, None
    data = fetch_md5(champ["md5"], f"{CHAMPION}: the warm-start base model")
    prod = load_model_bytes(data, f"{CHAMPION}: the warm-start base model (md5 {champ['md5']})")
    kind = type(prod.named_steps["model"]).__module__.split(".")[0]
    return (prod, hashlib.sha256(data).hexdigest(), champ) if kind == family else (None, None, None)


def _base_card(champ: dict[str, Any], digest: str) -> dict[str, Any]:
    """The base model's card: from git at the pointer's commit, else the work tree's when it describes
    these very bytes (its sha256); any other card would name the wrong training rows."""
    import json

    from pipeline.core.files import read_json
    from pipeline.core.git import show

    text = show(champ["commit"], CARD_JSON.as_posix())
    card = json.loads(text) if text else (read_json(CARD_JSON) if CARD_JSON.exists() else None)
    recorded = ((card or {}).get("model") or {}).get("sha256")
    if recorded != digest:
        raise PipelineError(f"{CARD_JSON}@{champ['commit'][:12]}: "
                            f"{'missing' if card is None else f'describes sha256 {str(recorded)[:12]}'}"
                            f", not the warm-start base (sha256 {digest[:12]}): cannot tell which "
                            "validation rows it trained on")
    return card


def _unseen_by_base(val, card: dict[str, Any], log):
    """Validation rows the warm-start base never learned from (its card's split masks): early
    stopping on rows it trained on would stop late and flatter the continued model."""
    from pipeline.core.files import read_json
    from pipeline.core.splits import unseen_rows

    current = {Path(f["path"]).stem: f.get("sha256") for f in read_json(MANIFEST)["files"]}
    keep, info = unseen_rows(val, card, current, VAL_SET, "the warm-start base model")
    for e in info["excluded"]:
        log(f"warm start: {e['rows']} validation rows left out: {e['reason']}")
    return val[keep].reset_index(drop=True)


def run(params: dict[str, Any], family: str, log=lambda line: None) -> dict[str, Any]:
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
    from pipeline.core.metrics import classification_metrics, lookup, require_costs, rounded
    from pipeline.core.schema import from_params
    from pipeline.modeling.search import search
    from pipeline.modeling.trials import binned, fit_sklearn, fit_trial

    schema = from_params(params)
    models_cfg = P.section(params, "models")
    if family not in models_cfg:
        raise PipelineError(f"params.yaml: models.{family}: not configured")
    cfg = models_cfg[family] or {}
    train_cfg = P.section(params, "train")
    seed, n_jobs = int(params.get("seed", 0)), int(train_cfg.get("n_jobs", 2))
    metric = train_cfg.get("primary_metric", "accuracy")
    require_costs(metric, schema.costs, "train.primary_metric")
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
            est = fit_sklearn(family, build_estimator(family, hp, len(classes), seed, n_jobs, 0), hp, data)
            proba = cluster.predict_proba(saved_form(pre, est), data["val"], list(schema.features),
                                          len(classes))
            return proba, lambda: est
    else:
        train, val = read_frame(TRAIN_SET), read_frame(VAL_SET)
        base, digest, champ = (_warm_start_base(family) if train_cfg.get("strategy") == "warm_start"
                               else (None, None, None))
        init, warm_hp = None, None
        if base is not None:
            val = _unseen_by_base(val, _base_card(champ, digest), log)
            pre = base.named_steps["preprocess"]
            warm_hp = {k: v for k, v in base.named_steps["model"].get_params().items()
                       if k in (cfg.get("search") or {})}
            init = base.named_steps["model"]
            init = init.get_booster() if family == "xgboost" else init.booster_
            log(f"[{family}] warm start from the champion {champ['version'] or champ['rev']} "
                f"(md5 {champ['md5']}, {CHAMPION})")
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

    found = search(family, cfg, train_cfg, metric, classes, data["yv"], fit_score, seed, log, warm_hp,
                   schema.costs)
    best, history, started = found["best"], found["history"], found["started"]
    seconds_per_trial = found["seconds_per_trial"]
    with one_blas_thread():
        model = saved_form(pre, best["finish"]())
    # the cluster's trial model is the saved one; locally the saved one is scored again (the scores
    # are those of the bytes that are saved)
    proba = best["proba"] if client is not None else model.named_steps["model"].predict_proba(data["Xv"])
    values = classification_metrics(data["yv"], proba, classes, schema.costs)
    est = model.named_steps["model"]
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
