"""Sweeps: N grid points → N child runs under one parent; the table matches MLflow; Dask
(default suite, LocalCluster on 127.0.0.1) and Ray (opt-in) backends."""

from __future__ import annotations

import contextlib
import os
import re

import numpy as np
import pandas as pd
import pytest

from lossesbox import cli
from lossesbox.experiment import TrainConfig
from lossesbox.sweep import TABLE_COLUMNS, format_table, grid, run_sweep


def _client():
    import mlflow

    return mlflow.MlflowClient(os.environ["MLFLOW_TRACKING_URI"])


def _check_against_mlflow(result, n: int, experiment: str) -> None:
    """N children under the one parent; every table row equals its MLflow run."""
    client = _client()
    (parent_id,) = result.parent_run_ids
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED"
    exp = client.get_experiment_by_name(experiment)
    assert parent.info.experiment_id == exp.experiment_id
    children = client.search_runs(
        [exp.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'"
    )
    assert len(children) == n == len(result.table)
    assert set(result.table["run_id"]) == {c.info.run_id for c in children}
    by_id = {c.info.run_id: c for c in children}
    for row in result.table.itertuples():
        run = by_id[row.run_id]
        assert run.info.status == row.run_status == "FINISHED"
        assert run.data.params["loss"] == row.loss
        assert float(run.data.params["lam"]) == row.lam
        assert int(run.data.params["seed"]) == row.seed
        assert run.data.metrics["test_accuracy"] == row.test_accuracy
        assert run.data.metrics["test_log_loss"] == row.test_log_loss
        assert run.data.metrics["n_iter"] == row.n_iter
    assert parent.data.metrics["n_points"] == n
    assert parent.data.metrics["best_test_accuracy"] == result.table["test_accuracy"].max()
    assert {a.path for a in client.list_artifacts(parent_id)} == {"results.csv"}


def test_grid_expands_in_order():
    configs = grid(TrainConfig(max_epochs=5), loss=["mse", "hinge"], lam=[0.1, 0.2, 0.3])
    assert [(c.loss, c.lam) for c in configs] == [
        ("mse", 0.1),
        ("mse", 0.2),
        ("mse", 0.3),
        ("hinge", 0.1),
        ("hinge", 0.2),
        ("hinge", 0.3),
    ]
    assert all(c.max_epochs == 5 for c in configs)


@pytest.mark.slow
def test_cli_sweep_n_points_n_children_table_matches_mlflow(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["sweep", "--dataset", "iris", "--losses", "cross_entropy,mse", "--lams"]
    argv += ["1e-3,1e-1", "--seeds", "0", "--epochs", "30", "--jobs", "2", "--quiet"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    parent_id = re.search(r"MLflow parent run ([0-9a-f]{32})", out)[1]
    run_ids = re.findall(r"\b([0-9a-f]{32})\b", out)
    assert len(set(run_ids) - {parent_id}) == 4
    client = _client()
    children = client.search_runs(
        [client.get_experiment_by_name("iris").experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'",
    )
    assert {c.info.run_id for c in children} == set(run_ids) - {parent_id}
    # Each printed row's test accuracy is the child's MLflow metric.
    lines = out.splitlines()
    column = lines[0].split().index("test_accuracy")
    for line in lines[1:]:
        ids = re.findall(r"\b([0-9a-f]{32})\b", line)
        if ids and ids[0] != parent_id:
            accuracy = float(line.split()[column])
            assert client.get_run(ids[0]).data.metrics["test_accuracy"] == pytest.approx(
                accuracy, abs=5e-4
            )
    # The store is ./mlruns/mlflow.db of the working directory: the short form is printed.
    assert "view: mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db" in out


@pytest.mark.slow
def test_sweep_in_process_table_matches_mlflow():
    configs = grid(TrainConfig(max_epochs=20), loss=["mse", "hinge"], seed=[0, 1])
    result = run_sweep(configs, jobs=1)
    assert list(result.table.columns) == list(TABLE_COLUMNS)
    assert result.table["loss"].tolist() == ["mse", "mse", "hinge", "hinge"]
    assert result.table["seed"].tolist() == [0, 1, 0, 1]
    assert result.tracking_errors == []
    _check_against_mlflow(result, 4, "iris")
    text = format_table(result.table)
    for run_id in result.table["run_id"]:
        assert run_id in text


@pytest.mark.slow
def test_sweep_on_a_dask_local_cluster_survives_a_lost_worker_without_duplicate_runs(
    tmp_path, monkeypatch
):
    """The first task to finish its run exits at once (test hook), as a worker lost right
    after its run was FINISHED: Dask runs the task again, which finds the FINISHED child
    (same parent, same configuration) and returns it: one child per configuration."""
    pytest.importorskip("dask.distributed")
    marker = tmp_path / "exited"
    monkeypatch.setenv("_LOSSESBOX_TEST_EXIT_AFTER_RUN", str(marker))
    configs = grid(TrainConfig(dataset="wine", max_epochs=15), loss=["cross_entropy", "exp_mse"])
    result = run_sweep(configs, jobs=2, backend="dask", experiment="dask-sweep")
    assert marker.exists()  # a worker did exit after its run
    _check_against_mlflow(result, 2, "dask-sweep")  # 2 FINISHED children, no duplicate
    children = _client().search_runs(
        [_client().get_experiment_by_name("dask-sweep").experiment_id],
        filter_string="tags.lossesbox_kind = 'sweep-point'",
    )
    keys = [c.data.tags["sweep_point"] for c in children]
    assert len(set(keys)) == 2 and all(k.startswith(result.parent_run_ids[0]) for k in keys)
    hosts_pids = _client().search_runs(
        [_client().get_experiment_by_name("dask-sweep").experiment_id],
        filter_string="tags.lossesbox_kind = 'sweep-point'",
    )
    assert all(int(r.data.tags["pid"]) != os.getpid() for r in hosts_pids)  # ran in workers


@pytest.mark.ray
@pytest.mark.skipif(os.environ.get("LOSSESBOX_TEST_RAY") != "1", reason="set LOSSESBOX_TEST_RAY=1")
def test_sweep_on_ray(monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # else Ray writes a token to ~/.ray
    configs = grid(TrainConfig(dataset="iris", max_epochs=15), lam=[1e-3, 1e-2])
    result = run_sweep(configs, jobs=2, backend="ray", experiment="ray-sweep")
    _check_against_mlflow(result, 2, "ray-sweep")


def test_a_failing_point_is_reported_and_the_others_finish(monkeypatch):
    import lossesbox.experiment as experiment

    real = experiment.run_experiment

    def flaky(config, **kwargs):
        if config.loss == "hinge":
            raise RuntimeError("worker exploded")
        return real(config, **kwargs)

    monkeypatch.setattr(experiment, "run_experiment", flaky)
    configs = grid(TrainConfig(max_epochs=10), loss=["mse", "hinge"])
    result = run_sweep(configs, jobs=1)
    assert result.table["status"].tolist()[1] == "error"
    assert result.table["error"].tolist()[1] == "RuntimeError: worker exploded"
    assert result.table["run_status"].tolist()[0] == "FINISHED"
    parent = _client().get_run(result.parent_run_ids[0])
    assert parent.info.status == "FINISHED" and parent.data.tags["n_failed"] == "1"


def test_untracked_sweep_returns_the_table_only():
    result = run_sweep(grid(TrainConfig(max_epochs=10), lam=[0.01, 0.1]), track=False)
    assert result.parent_run_ids == [] and result.table["run_id"].isna().all()
    assert np.all(result.table["test_accuracy"].between(0, 1))
    assert isinstance(result.table, pd.DataFrame)


def test_unknown_backend_is_a_value_error():
    with pytest.raises(ValueError, match="unknown backend 'spark'"):
        run_sweep([TrainConfig(max_epochs=2)], backend="spark", track=False)


def test_a_re_executed_point_reuses_its_finished_child_and_supersedes_an_unfinished_one():
    from lossesbox.sweep import point_key, run_point
    from lossesbox.tracking import TrackedRun

    config = TrainConfig(max_epochs=10)
    with TrackedRun("iris", run_name="parent") as parent:
        pass
    kw = dict(track=True, experiment="iris", tracking_uri=None, parent_run_id=parent.run_id)
    # An attempt whose worker was lost while training: RUNNING, never ended.
    stale = TrackedRun(
        "iris",
        parent_run_id=parent.run_id,
        tags={"sweep_point": point_key(parent.run_id, config)},
    ).start()
    first = run_point(0, config, None, **kw)
    client = _client()
    assert client.get_run(stale.run_id).info.status == "KILLED"
    assert client.get_run(stale.run_id).data.tags["superseded"] == "true"
    again = run_point(0, config, None, **kw)  # Dask runs the task once more
    assert again["run_id"] == first["run_id"] and again["test_accuracy"] == first["test_accuracy"]
    assert again["run_status"] == "FINISHED" and again["status"] == first["status"]
    exp = client.get_experiment_by_name("iris").experiment_id
    finished = client.search_runs(
        [exp], filter_string="tags.sweep_point != '' and attributes.status = 'FINISHED'"
    )
    assert [r.info.run_id for r in finished] == [first["run_id"]]
    stale._sender.close()


@pytest.mark.slow
def test_a_failed_dask_connect_creates_no_run():
    pytest.importorskip("dask.distributed")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ValueError, match="cannot connect to the Dask scheduler"):
        run_sweep(
            [TrainConfig(max_epochs=2)],
            backend="dask",
            scheduler=f"tcp://127.0.0.1:{port}",
            experiment="never",
        )
    assert _client().get_experiment_by_name("never") is None


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ctrl_c_of_a_sweep_leaves_no_child_running(tmp_path):
    """SIGINT to the sweep's process once both workers have a RUNNING child: the workers
    are terminated, the sweep waits for them, then marks their children KILLED."""
    import signal
    import subprocess
    import sys
    import time

    env = dict(os.environ)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lossesbox",
            "sweep",
            "--jobs",
            "2",
            "--dataset",
            "digits",
            "--solver",
            "gd",
            "--epochs",
            "100000",
            "--tol",
            "0",
            "--loss",
            "mse,hinge",
            "--experiment",
            "ctrl-c",
            "--quiet",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    client = _client()
    try:
        deadline = time.monotonic() + 180
        running = []
        while time.monotonic() < deadline and len(running) < 2:
            assert proc.poll() is None, proc.communicate()
            exp = client.get_experiment_by_name("ctrl-c")
            running = (
                client.search_runs(
                    [exp.experiment_id],
                    filter_string="tags.lossesbox_kind = 'sweep-point' and "
                    "attributes.status = 'RUNNING'",
                )
                if exp
                else []
            )
            time.sleep(0.3)
        assert len(running) == 2, "the workers never had a RUNNING child each"
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    exp = client.get_experiment_by_name("ctrl-c")
    runs = client.search_runs([exp.experiment_id])
    children = [r for r in runs if r.data.tags.get("lossesbox_kind") == "sweep-point"]
    assert len(children) == 2
    assert [r.info.status for r in runs if r.info.status == "RUNNING"] == []
    assert all(r.info.status == "KILLED" for r in children)
    [parent] = [r for r in runs if r.data.tags.get("lossesbox_kind") == "sweep"]
    assert parent.info.status == "KILLED"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_dask_scheduler_that_dies_is_one_line_and_the_parent_fails_with_the_reason(tmp_path):
    """A real scheduler and worker started from Dask's own CLI; the scheduler is SIGKILLed
    once every point has a RUNNING child."""
    pytest.importorskip("dask.distributed")
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ)
    quiet = dict(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            start_new_session=True,
            **quiet,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                address,
                "--nworkers",
                "2",
                "--nthreads",
                "1",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
            ],
            start_new_session=True,
            **quiet,
        ),
    ]
    sweep = None
    try:
        sweep = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lossesbox",
                "sweep",
                "--backend",
                "dask",
                "--scheduler",
                address,
                "--dataset",
                "digits",
                "--solver",
                "gd",
                "--epochs",
                "100000",
                "--tol",
                "0",
                "--loss",
                "mse,hinge",
                "--experiment",
                "lost",
                "--quiet",
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        client = _client()
        deadline = time.monotonic() + 180
        running = []
        while time.monotonic() < deadline and len(running) < 2:
            assert sweep.poll() is None, sweep.communicate()
            exp = client.get_experiment_by_name("lost")
            running = (
                client.search_runs(
                    [exp.experiment_id],
                    filter_string="tags.lossesbox_kind = 'sweep-point' and "
                    "attributes.status = 'RUNNING'",
                )
                if exp
                else []
            )
            time.sleep(0.5)
        assert len(running) == 2
        os.killpg(procs[0].pid, signal.SIGKILL)
        _out, err = sweep.communicate(timeout=120)
    finally:
        for proc in [*procs, sweep]:
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL) if proc is not sweep else proc.kill()
                proc.communicate()
    assert sweep.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "the Dask scheduler was lost in the middle of the sweep" in lines[0]
    exp = client.get_experiment_by_name("lost")
    [parent] = client.search_runs(
        [exp.experiment_id], filter_string="tags.lossesbox_kind = 'sweep'"
    )
    assert parent.info.status == "FAILED"
    assert "the Dask scheduler was lost" in parent.data.tags["stop_reason"]
