"""train.engine dask: the example pipeline on a two-worker LocalCluster gives the metrics of local
training (within half a point), models that load and predict without Dask, and a cluster that
always shuts down, even when training fails."""

from __future__ import annotations

import json

import psutil
import pytest

from tests.support.project import cli, make_project, run, write_params

DASK = {"train": {"engine": "dask", "dask": {"n_workers": 2, "threads_per_worker": 1}}}


def _children() -> list[str]:
    """Live child processes, except multiprocessing's own resource tracker (one per parent, kept
    for its lifetime whatever Dask does)."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
            if p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in cmd:
                out.append(cmd)
        except psutil.NoSuchProcess:
            continue
    return out


@pytest.mark.slow
def test_example_pipeline_on_a_two_worker_cluster_matches_local_training(tmp_path):
    # one learning rate for both engines (LightGBM's default): the comparison is of engines, not of
    # sampled rates (at the rate the search drew from 0.05-0.3, LightGBM's engines parted 0.8 points)
    rate = {"search": {"learning_rate": 0.1}}
    project = make_project(tmp_path, rows=6000, overrides={"models": {"xgboost": rate, "lightgbm": rate}},
                           families=("xgboost", "lightgbm", "logistic"))  # the forest adds nothing here
    run(["dvc", "repro"], project)
    local = json.loads((project / "reports" / "metrics.json").read_text())
    local_candidates = {f: json.loads((project / "reports" / "candidates" / f"{f}.json").read_text())
                        for f in ("xgboost", "lightgbm", "logistic")}

    write_params(project, DASK)
    out = run(["dvc", "repro"], project).stdout
    assert "LocalCluster with 2 workers" in out
    assert "no Dask interface: trains locally on" in out  # logistic: said clearly
    dask = json.loads((project / "reports" / "metrics.json").read_text())
    for family, before in local_candidates.items():
        after = json.loads((project / "reports" / "candidates" / f"{family}.json").read_text())
        assert after["engine"] == "dask" and after["train_rows"] == before["train_rows"]
        assert abs(after["validation_score"] - before["validation_score"]) <= 0.005, family
    for metric in ("accuracy", "f1_weighted", "recall_Alto", "roc_auc"):
        got, want = _metric(dask, metric), _metric(local, metric)
        assert abs(got - want) <= 0.005, (metric, got, want)
    lgb = json.loads((project / "reports" / "candidates" / "lightgbm.json").read_text())
    assert lgb["best_iteration"] is not None  # early stopping chosen on the whole validation split

    # a cluster-trained model is an ordinary skops pipeline: predict needs no Dask
    batch = project / "data" / "batches" / "2024-03.csv"
    for family in ("xgboost", "lightgbm"):
        scored = tmp_path / f"{family}.csv"
        cli(["predict", str(batch), "-o", str(scored), "--model",
             f"models/candidates/{family}.skops"], project)
        assert len(scored.read_text().splitlines()) == 6001


@pytest.mark.slow
def test_partitions_are_pinned_to_workers_in_order_and_lightgbm_ranks_them_so(tmp_path):
    """What makes Dask LightGBM reproducible: partition i on worker i mod n, kept there by what is
    computed from it, and `who_has` answered in partition order (lightgbm ranks machines so)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.modeling import cluster

    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pandas(pd.DataFrame({"x": range(500)})), path, row_group_size=100)
    cfg = {"n_workers": 2, "threads_per_worker": 1, "memory_limit": None}
    with cluster.session(cfg, log=lambda _: None) as client:
        workers = sorted(client.scheduler_info()["workers"])
        frame = cluster.partitions(client, str(path), ["x"])
        assert frame.npartitions == 5
        doubled = client.persist(frame.map_partitions(lambda part: part * 2))
        from distributed import wait

        futures = sorted(client.futures_of(doubled), key=lambda f: f.key[1])  # (name, partition)
        wait(futures)
        assert len(futures) == 5
        by_part = {f.key: i for i, f in enumerate(futures)}
        for key, holders in client.who_has(futures).items():
            assert list(holders) == [workers[by_part[key] % 2]]
        assert doubled.compute()["x"].tolist() == [2 * i for i in range(500)]  # the file's row order
        ordered = cluster._InPartitionOrder(client)
        assert list(ordered.who_has(futures)) == [f.key for f in futures]
        assert list(ordered.who_has(futures[::-1])) == [f.key for f in futures[::-1]]


def _metric(metrics: dict, name: str) -> float:
    if name in metrics:
        return metrics[name]
    stat, cls = name.split("_", 1)
    return metrics["per_class"][cls][stat] if "per_class" in metrics else metrics[f"{stat}_{cls}"]


@pytest.mark.slow
def test_cluster_shuts_down_after_success_and_failure(tmp_path, monkeypatch):
    from pipeline import params as P
    from pipeline.stages import train

    # the explicit port override (the default, free ports at fit time, is the test above's)
    project = make_project(tmp_path, rows=600, git=False,
                           overrides={"train": {**DASK["train"], "dask": {**DASK["train"]["dask"],
                                                                          "lightgbm_port": 12600}}})
    cli(["validate"], project)
    cli(["prepare"], project)
    monkeypatch.chdir(project)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    assert _children() == []
    lines: list[str] = []
    result = train.run(P.load("params.yaml"), "lightgbm", log=lines.append)
    assert result["engine"] == "dask" and any("LocalCluster" in line for line in lines)
    assert _children() == []  # the workers and nannies are gone

    # a failure on the workers (a tree depth xgboost refuses) still closes the cluster
    params = P.load("params.yaml")
    params["models"]["xgboost"]["fixed"]["max_depth"] = -1
    params["models"]["xgboost"]["search"].pop("max_depth")
    with pytest.raises(Exception, match="max_depth"):
        train.run(params, "xgboost", log=lines.append)
    assert _children() == []

    # an unreachable scheduler: one line naming the variable and the address
    from pipeline.errors import PipelineError

    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:9")
    params["train"]["dask"]["connect_timeout_s"] = 2
    with pytest.raises(PipelineError, match=r"DASK_SCHEDULER_ADDRESS=tcp://127\.0\.0\.1:9: cannot reach "
                                            r"the Dask scheduler"):
        train.run(params, "lightgbm", log=lines.append)
    assert _children() == []


def _github_expression(text: str, variables: dict[str, str]):
    """The two expression forms the reproduce job uses, as GitHub evaluates them: an unset
    `vars.NAME` is the empty string, `a || b` is the first truthy operand ('' is falsy), and
    `fromJSON('90')` parses JSON (docs.github.com/en/actions/learn-github-actions/variables,
    .../expressions#operators and #fromjson)."""
    import re

    m = re.fullmatch(r"\$\{\{ (fromJSON\()?vars\.(\w+) \|\| '([^']*)'(\))? \}\}", text)
    assert m, text
    value = variables.get(m.group(2), "") or m.group(3)
    return json.loads(value) if m.group(1) else value


@pytest.mark.parametrize("variables, runner, minutes", [
    ({}, "ubuntu-latest", 90),
    ({"TRAIN_RUNNER": "credit-risk-train", "TRAIN_TIMEOUT_MINUTES": "300"}, "credit-risk-train", 300),
])
def test_reproduce_job_runner_and_timeout_come_from_repository_variables(variables, runner, minutes):
    import yaml

    from tests.support.project import ROOT

    job = yaml.safe_load((ROOT / ".github" / "workflows" / "reproduce.yaml").read_text())["jobs"]["reproduce"]
    assert _github_expression(job["runs-on"], variables) == runner
    assert _github_expression(job["timeout-minutes"], variables) == minutes
