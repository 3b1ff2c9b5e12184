"""`train.engine: dask`: the boosters train with their own Dask interfaces on a dask.distributed cluster.

- The cluster: the scheduler at $DASK_SCHEDULER_ADDRESS (a real cluster, e.g. beside a self-hosted
  runner), else a LocalCluster sized by `train.dask` in params.yaml. It is closed on the way out,
  whatever happened (a context manager), so a failed trial leaves no worker processes behind.
- The data: the prepared Parquet splits read by dask.dataframe as partitions on the workers, one-hot
  encoded there, partition by partition; the client only ever holds labels of the validation split
  and the predicted probabilities the search scores (n_val × classes numbers).
- Reproducible: partition i is read on worker i mod n (workers in address order) and stays there
  (work stealing is off on the LocalCluster), and LightGBM ranks its machines in partition order.
  In data-parallel LightGBM each machine bins its share of the features from its own rows and
  bags its own rows, so which rows sit on which rank changes the model: unpinned, the same fit
  gave 0.8341 or 0.8429 validation accuracy from run to run (xgboost#7927, #8701 advise the same).
- The preprocessing is the same definition as local training, fitted on the whole training split
  when it has at most `train.dask.sample_rows` rows (then bit-for-bit the local fit), else on a
  seeded sample of that many rows (medians and category lists; documented in README "Scaling out").
  Families with no Dask interface (random forest, logistic) train locally on that same sample.
- XGBoost: xgboost.dask.DaskXGBClassifier, early stopping on the distributed validation set.
  LightGBM: lightgbm.DaskLGBMClassifier, which does not support early stopping (it hangs when
  workers stop at different rounds: LightGBM#3712, #6351, #7009). It trains every round; the best
  round is then chosen on the whole validation set, computed on the workers, with the rule of
  `lightgbm.early_stopping` (the first round after which `early_stopping_rounds` rounds bring no
  improvement of the multi/binary log loss), and recorded as the booster's best_iteration, which is
  what the local early-stopped model keeps too. The network timeout is explicit
  (`time_out`: a lost worker fails, never hangs, LightGBM#4942, #3753); ports are free ones each
  worker binds at fit time, unless `lightgbm_port` fixes them (`local_listen_port` on one worker
  per host, else `machines` with one port per worker).
- The saved model: the cluster model converted to the ordinary XGBClassifier / LGBMClassifier in the
  same skops pipeline, so it loads and predicts like any other (no Dask needed to use it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from pipeline.config import PREPARED
from pipeline.errors import PipelineError

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
DASK_FAMILIES = ("xgboost", "lightgbm")


@contextlib.contextmanager
def session(cfg: dict[str, Any], log: Callable[[str], None]) -> Iterator[Any]:
    """A dask.distributed Client; the LocalCluster it started (if any) always shuts down."""
    from distributed import Client, LocalCluster

    address = os.environ.get(SCHEDULER_ENV)
    cluster = client = None
    try:
        if address:
            try:
                client = Client(address, timeout=f"{int(cfg['connect_timeout_s'])}s")
            except OSError as exc:
                raise PipelineError(f"{SCHEDULER_ENV}={address}: cannot reach the Dask scheduler "
                                    f"({str(exc).splitlines()[0]})") from None
            log(f"dask: connected to {address} ({len(client.scheduler_info()['workers'])} workers)")
        else:
            import dask

            # no work stealing: a partition stays on the worker it was pinned to (module docstring)
            with dask.config.set({"distributed.scheduler.work-stealing": False}):
                cluster = LocalCluster(n_workers=int(cfg["n_workers"]),
                                       threads_per_worker=int(cfg["threads_per_worker"]),
                                       memory_limit=cfg.get("memory_limit") or "auto",
                                       dashboard_address=None, processes=True)
            client = Client(cluster)
            log(f"dask: LocalCluster with {cfg['n_workers']} workers × {cfg['threads_per_worker']} "
                f"threads (set {SCHEDULER_ENV} to use a real cluster)")
        yield client
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def load(client, schema, pre_factory: Callable[[], Any], family: str, cfg: dict[str, Any], seed: int,
         prepared: str | os.PathLike = PREPARED) -> tuple[Any, dict[str, Any]]:
    """The fitted preprocessor and the search's data: dask collections on the workers for the
    boosters, local arrays of at most `sample_rows` rows for the families without a Dask interface;
    the validation labels (all the metrics need on the client) for both."""
    import numpy as np

    for split in ("train", "val"):
        if not os.path.exists(f"{prepared}/{split}.parquet"):
            raise PipelineError(f"{prepared}/{split}.parquet: not found (run the prepare stage first)")
    cap = int(cfg["sample_rows"])
    cols = [*schema.features, schema.target]
    train = partitions(client, f"{prepared}/train.parquet", cols)
    val = partitions(client, f"{prepared}/val.parquet", cols)
    n_train = int(pq_rows(f"{prepared}/train.parquet"))
    sample = train if n_train <= cap else train.sample(frac=cap / n_train, random_state=seed)
    local = sample.compute().reset_index(drop=True)  # at most `cap` rows on the client
    pre = pre_factory().fit(local[schema.features])
    val = client.persist(val)
    y_val = val[schema.target].map_partitions(_labels, schema, meta=(schema.target, np.int64))
    data: dict[str, Any] = {"sampled_rows": len(local), "n_train": n_train, "val": val,
                            "yv": y_val.compute().to_numpy(), "n_classes": len(schema.classes)}
    if family not in DASK_FAMILIES:
        data.update(Xt=pre.transform(local[schema.features]), yt=schema.class_index(local[schema.target]))
        return pre, data
    names = list(pre.get_feature_names_out())
    X = train.map_partitions(_encode, pre, list(schema.features), names, meta={n: np.float64 for n in names})
    y = train[schema.target].map_partitions(_labels, schema, meta=(schema.target, np.int64))
    Xv = val.map_partitions(_encode, pre, list(schema.features), names, meta={n: np.float64 for n in names})
    data["Xt"], data["yt"], data["Xv"], data["yv_dask"] = client.persist([X, y, Xv, y_val])
    return pre, data


def pq_rows(path: str) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def partitions(client, path: str, columns: list[str]):
    """A Parquet file as a dask frame, read on the workers: one partition per row group, or, for a
    file with fewer row groups than workers (a small one), equal row ranges so every worker gets
    rows (xgboost.dask and LightGBM both train on what each worker holds). Row order is the file's;
    partition i is read on, and pinned to, worker i mod n in address order (module docstring)."""
    import dask.dataframe as dd
    import numpy as np
    import pyarrow.parquet as pq

    workers = sorted(client.scheduler_info()["workers"])
    n_workers = max(len(workers), 1)
    handle = pq.ParquetFile(path)
    groups = handle.num_row_groups
    if groups >= n_workers:
        pieces = [(i, None, None) for i in range(groups)]
    else:
        bounds = np.linspace(0, handle.metadata.num_rows, n_workers + 1).astype(int)
        pieces = [(None, int(a), int(b)) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    meta = handle.schema_arrow.empty_table().select(columns).to_pandas()
    futures = [client.submit(_read_piece, piece, path, columns, pure=False, allow_other_workers=False,
                             workers=[workers[i % n_workers]]) for i, piece in enumerate(pieces)]
    return dd.from_delayed(futures, meta=meta, verify_meta=False)


def _read_piece(piece, path: str, columns: list[str]):
    import pyarrow.parquet as pq

    group, start, stop = piece
    if group is not None:
        return pq.ParquetFile(path).read_row_group(group, columns=columns).to_pandas()
    frame = pq.read_table(path, columns=columns).slice(start, stop - start).to_pandas()
    frame.index = range(start, stop)
    return frame


def predict_proba(model, frame, columns: list[str], n_classes: int):
    """Class probabilities of a local model over a dask frame, computed on the workers."""
    import numpy as np

    meta = {k: np.float64 for k in range(n_classes)}
    return np.asarray(frame.map_partitions(_proba_part, model, columns, meta=meta).compute())


def _proba_part(part, model, columns: list[str]):
    import pandas as pd

    return pd.DataFrame(model.predict_proba(part[columns]), index=part.index)


def _encode(part, pre, features: list[str], names: list[str]):
    import pandas as pd

    return pd.DataFrame(pre.transform(part[features]), columns=names, index=part.index)


def _labels(part, schema):
    import pandas as pd

    return pd.Series(schema.class_index(part), index=part.index, name=part.name, dtype="int64")


def fit_score(client, family: str, estimator, data: dict[str, Any], rounds: int,
              cfg: dict[str, Any]) -> tuple[Any, Any]:
    """Train `estimator`'s parameters on the cluster; return the local estimator and the
    validation probabilities (computed on the workers)."""
    import numpy as np

    # threads come from the workers (threads_per_worker), not from the local n_jobs
    params = {k: v for k, v in estimator.get_params().items() if k != "n_jobs"}
    if family == "xgboost":
        import xgboost as xgb
        from xgboost import dask as dxgb

        model = dxgb.DaskXGBClassifier(**params)
        model.client = client
        model.fit(data["Xt"], data["yt"], eval_set=[(data["Xv"], data["yv_dask"])], verbose=False)
        proba = np.asarray(model.predict_proba(data["Xv"]).compute())
        # the same booster in the ordinary class: loads and predicts without Dask
        local = xgb.XGBClassifier(**params)
        raw = model.get_booster().save_raw("ubj")
        local.load_model(bytearray(raw))
        local.n_classes_ = int(proba.shape[1])
        return local, proba
    import lightgbm as lgb

    network: dict[str, Any] = {"time_out": int(cfg["lightgbm_timeout_minutes"])}
    if cfg["lightgbm_port"] is not None:  # an explicit override (e.g. a firewall allows only these)
        port = int(cfg["lightgbm_port"])
        hosts = [_host(w) for w in sorted(client.scheduler_info()["workers"])]
        if len(set(hosts)) == len(hosts):
            network["local_listen_port"] = port
        else:  # several workers per host: one explicit port each
            network["machines"] = ",".join(f"{h}:{port + i}" for i, h in enumerate(hosts))
    # else neither is passed: lightgbm.dask has each worker bind an ephemeral port and hold the
    # socket until LightGBM takes it over (_assign_open_ports_to_workers), so concurrent fits on
    # one host never collide; time_out still bounds a lost worker (LightGBM#4942, #3753)
    model = lgb.DaskLGBMClassifier(client=_InPartitionOrder(client), **{**params, **network})
    model.fit(data["Xt"], data["yt"])
    local = model.to_local()
    booster = local.booster_
    if rounds:
        best = _best_round(client, booster, data, rounds)
        booster.best_iteration = best
        local._best_iteration = best
    return local, predict_proba(local, data["Xv"], list(data["Xv"].columns), data["n_classes"])


class _InPartitionOrder:
    """The client lightgbm.dask trains through, answering `who_has` in the order of the futures
    asked about. lightgbm ranks machines in the order that answer lists them, and distributed's
    Client.who_has goes through a set of keys, so rank 0 (and every rank's rows) changed from run
    to run; with partitions pinned (`partitions`), partition order makes the ranks reproducible."""

    def __init__(self, client) -> None:
        self._client = client

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def who_has(self, futures=None, **kwargs):
        answer = self._client.who_has(futures, **kwargs)
        if futures is None:
            return answer
        keys = dict.fromkeys(f.key for f in self._client.futures_of(futures))
        return {key: sorted(answer[key]) for key in keys}


def _host(address: str) -> str:
    from urllib.parse import urlparse

    return urlparse(address).hostname or address


def _best_round(client, booster, data: dict[str, Any], rounds: int) -> int:
    """lightgbm.early_stopping's choice on the whole validation set: log loss after every round,
    summed on the workers; the best round before `rounds` rounds without improvement (1-based)."""
    import numpy as np

    n_rounds = booster.current_iteration()
    import dask

    parts, labels = data["Xv"].to_delayed(), data["yv_dask"].to_delayed()
    sums = dask.compute(*[dask.delayed(_round_losses)(booster, x, y, n_rounds)
                          for x, y in zip(parts, labels, strict=True)])
    loss = np.sum(sums, axis=0) / len(data["yv"])
    best, best_loss = 0, np.inf
    for i, value in enumerate(loss):
        if value < best_loss:  # lightgbm's test for a lower-is-better metric
            best, best_loss = i, value
        elif i - best >= rounds:
            break
    return best + 1


def _round_losses(booster, X, y, n_rounds: int):
    """Σ log loss of one partition after each boosting round (one tree per round at a time)."""
    import numpy as np
    from scipy.special import expit, log_softmax

    X, y = X.to_numpy(), y.to_numpy()
    raw = None
    out = np.empty(n_rounds)
    for i in range(n_rounds):
        step = booster.predict(X, raw_score=True, start_iteration=i, num_iteration=1)
        raw = step if raw is None else raw + step  # the average is folded into the first tree
        if raw.ndim == 1:  # binary: sigmoid
            p = np.clip(expit(raw), 1e-15, 1 - 1e-15)
            out[i] = -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
        else:
            out[i] = -np.sum(log_softmax(raw, axis=1)[np.arange(y.size), y])
    return out
