"""A real ``mlflow server`` that hangs (SIGSTOP) or dies (SIGKILL) in the middle of a run.

Training must end while the server is still frozen, with the time the tracker itself held
training bounded (no wall-clock assertion); whatever the store did not get is spooled, and
``python -m lossesbox sync`` completes the run: every epoch's metrics, the test metrics, the
model (loaded with pyfunc), the true status; a second replay changes nothing.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from lossesbox.experiment import TrainConfig, metric_every, run_experiment
from lossesbox.tracking import list_spools, sync_spool

pytestmark = pytest.mark.slow


def _assert_complete(client, result, monkeypatch, uri) -> None:
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    steps = {m.step for m in client.get_metric_history(result.run_id, "objective")}
    last, every = result.metrics["n_iter"], metric_every(result.config.max_epochs)
    assert steps == set(range(0, last + 1, every)) | {last}  # every logged epoch, once
    assert len(client.get_metric_history(result.run_id, "objective")) == len(steps)
    assert run.data.metrics["test_accuracy"] == pytest.approx(result.metrics["test_accuracy"])
    assert "history.csv" in {f.path for f in client.list_artifacts(result.run_id)}
    import mlflow.pyfunc

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    model = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/model")
    X_test = result.dataset.split(test_size=0.25, random_state=0)[1]
    np.testing.assert_array_equal(model.predict(X_test[:10]), result.pipeline.predict(X_test[:10]))


def test_a_frozen_then_killed_server_never_stalls_training_and_sync_completes_the_runs(
    mlflow_server, tmp_path, monkeypatch
):
    import mlflow

    uri = mlflow_server.uri
    client = mlflow.MlflowClient(uri)

    # 1. SIGSTOP mid-run: the server hangs with its port open.
    def freeze(record):
        if record["epoch"] == 20:
            mlflow_server.freeze()

    config = TrainConfig(dataset="iris", solver="gd", max_epochs=150, tol=0.0)
    hung = run_experiment(config, tracking_uri=uri, callback=freeze)
    assert mlflow_server.stopped and not mlflow_server.healthy(0.3)  # ended while frozen
    assert hung.status == "max_epochs" and hung.run_id
    assert hung.tracking_wait <= 5.0  # the time the tracker itself held training
    assert hung.spool and "not delivered" in hung.tracking_error
    assert hung.run_status is None  # the store could not be read: no status invented
    mlflow_server.thaw()
    kept = tmp_path / "copy-of-spool"
    shutil.copytree(hung.spool, kept)
    first = sync_spool(hung.spool)
    assert first.outcome == "delivered" and first.status == "FINISHED" and first.metrics > 0
    _assert_complete(client, hung, monkeypatch, uri)
    again = sync_spool(kept)  # the same spool replayed: nothing new reaches the store
    assert again.outcome == "delivered" and again.metrics == 0
    _assert_complete(client, hung, monkeypatch, uri)
    models = client.search_logged_models([client.get_run(hung.run_id).info.experiment_id])
    assert [m.source_run_id for m in models].count(hung.run_id) == 1

    # 2. SIGKILL mid-run: the server dies; restarted on the same database afterwards.
    def kill(record):
        if record["epoch"] == 20:
            mlflow_server.kill()

    config = TrainConfig(dataset="iris", solver="gd", max_epochs=100, tol=0.0, seed=1)
    dead = run_experiment(config, tracking_uri=uri, callback=kill)
    assert dead.status == "max_epochs" and dead.spool and dead.run_status is None
    assert dead.tracking_wait <= 5.0
    mlflow_server.restart()
    assert client.get_run(dead.run_id).info.status == "RUNNING"  # what the store holds
    [spool] = [s for s in list_spools(uri) if str(s.path) == dead.spool]
    done = sync_spool(spool.path)
    assert done.outcome == "delivered" and done.run_id == dead.run_id
    _assert_complete(client, dead, monkeypatch, uri)
    assert list_spools(uri) == []  # delivered spools are removed


def test_a_long_run_frozen_mid_run_delivers_its_thinned_metrics_and_full_history(
    mlflow_server, tmp_path, monkeypatch
):
    """2500 epochs send every 3rd epoch and the last (``metric_every``): with the server
    frozen at epoch 600, the rest is spooled, and ``sync`` delivers exactly those steps;
    ``history.csv`` has every epoch."""
    import mlflow

    from lossesbox.tracking import get_history_frame

    uri = mlflow_server.uri
    client = mlflow.MlflowClient(uri)

    def freeze(record):
        if record["epoch"] == 600:
            mlflow_server.freeze()

    config = TrainConfig(dataset="iris", solver="gd", max_epochs=2500, tol=0.0, seed=2)
    hung = run_experiment(config, tracking_uri=uri, callback=freeze)
    assert hung.status == "max_epochs" and hung.spool and "not delivered" in hung.tracking_error
    mlflow_server.thaw()
    done = sync_spool(hung.spool)
    assert done.outcome == "delivered" and done.status == "FINISHED"
    _assert_complete(client, hung, monkeypatch, uri)
    steps = sorted(m.step for m in client.get_metric_history(hung.run_id, "objective"))
    assert steps == [*range(0, 2500, 3), 2500]
    assert client.get_run(hung.run_id).data.params["metric_every"] == "3"
    full = get_history_frame(hung.run_id, tracking_uri=uri)
    assert full["epoch"].tolist() == list(range(2501))
