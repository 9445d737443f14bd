"""MLflow tracking of runs (lossesbox.tracking + lossesbox.experiment), against the temporary
sqlite store of the autouse fixture in conftest.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from lossesbox import tracking
from lossesbox.experiment import TrainConfig, build_pipeline, metric_every, run_experiment
from lossesbox.tracking import (
    TrackedRun,
    get_histories,
    get_history_frame,
    list_experiments,
    list_runs,
    mark_stale_runs,
    resolve_tracking_uri,
)


def _client():
    import mlflow

    return mlflow.MlflowClient(resolve_tracking_uri())


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---------------------------------------------------------------- store resolution
def test_default_uri_is_sqlite_under_mlruns_of_cwd(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.chdir(tmp_path)
    uri = resolve_tracking_uri()
    assert uri == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    monkeypatch.delenv("LOSSESBOX_ARTIFACT_ROOT")
    assert tracking.artifact_root() == str(tmp_path / "mlruns")
    assert tracking.ui_command() == (
        "mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1 --port 5000"
    )


def test_explicit_uri_overrides_env_and_http_has_no_local_artifact_root(monkeypatch):
    assert resolve_tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert tracking.artifact_root("http://127.0.0.1:5000") is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////abs/path/x.db")
    assert resolve_tracking_uri() == "sqlite:////abs/path/x.db"


def test_experiment_artifacts_land_under_root_slash_experiment_id(tmp_path, monkeypatch):
    # A sqlite store elsewhere, no override: artifacts go next to the database.
    monkeypatch.delenv("LOSSESBOX_ARTIFACT_ROOT")
    uri = f"sqlite:///{tmp_path}/other/mlflow.db"
    exp_id = tracking.get_or_create_experiment("somewhere", uri)
    exp = _client_for(uri).get_experiment(exp_id)
    assert exp.artifact_location == str(tmp_path / "other" / exp_id)
    # Idempotent: the same name gives the same id.
    assert tracking.get_or_create_experiment("somewhere", uri) == exp_id


def _client_for(uri):
    import mlflow

    return mlflow.MlflowClient(uri)


# ---------------------------------------------------------------- a tracked training run
@pytest.fixture(scope="module")
def _iris():
    from lossesbox.datasets import load_dataset

    return load_dataset("iris")


def test_train_logs_params_metrics_artifacts_and_a_loadable_model(_iris, tmp_path):
    config = TrainConfig(dataset="iris", loss="mse", solver="gd", learning_rate=0.5, max_epochs=30)
    env_before = os.environ["MLFLOW_TRACKING_URI"]
    result = run_experiment(config, dataset=_iris)
    assert result.tracking_error is None
    assert result.run_status == "FINISHED"
    assert os.environ["MLFLOW_TRACKING_URI"] == env_before
    client = _client()
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    exp = client.get_experiment(run.info.experiment_id)
    assert exp.name == "iris"
    # MLflow's UI opens it on runs and charts, not on the GenAI trace view
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    assert exp.artifact_location == os.path.join(
        os.environ["LOSSESBOX_ARTIFACT_ROOT"], exp.experiment_id
    )
    p = run.data.params
    assert p["loss"] == "mse" and p["solver"] == "gd" and float(p["lam"]) == 1e-3
    assert float(p["learning_rate"]) == 0.5 and p["max_epochs"] == "30"
    assert p["standardize"] == "True" and float(p["test_size"]) == 0.25 and p["seed"] == "0"
    assert p["n_samples"] == "150" and p["n_classes"] == "3" and p["n_train"] == "112"
    assert p["class_counts"] == "setosa:50,versicolor:50,virginica:50"
    t = run.data.tags
    assert t["host"] == socket.gethostname() and t["pid"] == str(os.getpid())
    assert t["lossesbox_version"] and "stop_reason" not in t
    # Per-epoch metrics: epoch 0 (initial parameters) .. n_iter, step = epoch.
    n = result.metrics["n_iter"] + 1
    assert len(result.history) == n
    hist = client.get_metric_history(result.run_id, "objective")
    assert sorted(m.step for m in hist) == list(range(n))
    by_step = {m.step: m.value for m in hist}
    np.testing.assert_allclose(
        [by_step[e] for e in range(n)], result.history["objective"].to_numpy(), rtol=1e-12
    )
    for c in range(3):
        assert len(client.get_metric_history(result.run_id, f"wrong_way_share.class_{c}")) == n
    assert "val_accuracy" not in run.data.metrics  # NaN without a validation split: skipped
    assert run.data.metrics["test_accuracy"] == pytest.approx(result.metrics["test_accuracy"])
    # Artifacts.
    names = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"history.csv", "charts"} <= names
    charts = {a.path for a in client.list_artifacts(result.run_id, "charts")}
    assert charts == {"charts/loss_curves.svg", "charts/gradient_signs.svg"}
    # pictures that render offline: SVG with the data drawn in, no script, no CDN
    for name in charts:
        svg = open(client.download_artifacts(result.run_id, name, str(tmp_path))).read()
        assert svg.lstrip().startswith("<svg") and "<script" not in svg and "cdn" not in svg
        assert svg.count("<path") + svg.count("<rect") > 20
    frame = get_history_frame(result.run_id)
    pd.testing.assert_frame_equal(frame, result.history, check_dtype=False)
    # The model: loadable by pyfunc, predicts the in-memory pipeline's labels.
    import mlflow

    X_test = result.dataset.split(0.25, 0)[1]
    model = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/model")
    np.testing.assert_array_equal(model.predict(X_test), result.pipeline.predict(X_test))
    pipeline = tracking.load_model(result.run_id)
    np.testing.assert_allclose(
        pipeline.predict_proba(X_test), result.pipeline.predict_proba(X_test)
    )


def test_an_existing_untagged_experiment_gets_the_experiment_kind_tag():
    from lossesbox.tracking import get_or_create_experiment

    client = _client()
    old = client.create_experiment("made-by-hand")  # as an older lossesbox left it
    assert "mlflow.experimentKind" not in client.get_experiment(old).tags
    assert get_or_create_experiment("made-by-hand") == old
    tags = client.get_experiment(old).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"


def test_csv_run_logs_the_file_name_not_its_path(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=np.where(y, "yes", "no"))
    path = tmp_path / "secret_dir" / "data.csv"
    path.parent.mkdir()
    frame.to_csv(path, index=False)
    result = run_experiment(TrainConfig(csv_path=str(path), target="label", max_epochs=20))
    run = _client().get_run(result.run_id)
    assert run.data.params["dataset.file"] == "data.csv"
    assert run.data.params["dataset.target"] == "label"
    leaked = {k: v for k, v in {**run.data.params, **run.data.tags}.items() if "secret_dir" in v}
    assert leaked == {}


def test_diverging_run_ends_failed_with_reason_and_keeps_its_history(_iris):
    config = TrainConfig(loss="exp_mse", solver="gd", learning_rate=1e8, max_epochs=50)
    result = run_experiment(config, dataset=_iris)
    assert result.status == "diverged"
    run = _client().get_run(result.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["stop_reason"].startswith("diverged: the objective became non-finite")
    assert "learning_rate" in run.data.tags["stop_reason"]
    hist = _client().get_metric_history(result.run_id, "objective")
    assert len(hist) == len(result.history) >= 1


def test_user_stop_is_finished_with_stop_reason_user(_iris):
    def stop_at_3(record):
        return record["epoch"] < 3

    config = TrainConfig(solver="gd", max_epochs=50, tol=0)
    result = run_experiment(config, dataset=_iris, callback=stop_at_3)
    assert result.status == "stopped" and result.stop_reason == "user"
    run = _client().get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["stop_reason"] == "user"
    assert len(_client().get_metric_history(result.run_id, "objective")) == 4  # epochs 0..3


def test_metric_every_caps_the_logged_epochs_at_1000():
    assert [metric_every(n) for n in (1, 200, 1000, 1001, 2500, 20_000)] == [1, 1, 1, 2, 3, 20]


@pytest.mark.parametrize("stop_at", [None, 1234])
def test_long_runs_log_every_kth_epoch_and_the_last_one_history_csv_has_all(_iris, stop_at):
    """2500 epochs: MLflow gets epochs 0, 3, 6, … and the last (by tol=0 or a user stop),
    with the values of the history; history.csv keeps every epoch."""

    def stop(record):
        return stop_at is None or record["epoch"] < stop_at

    config = TrainConfig(solver="gd", max_epochs=2500, tol=0)
    result = run_experiment(config, dataset=_iris, callback=stop)
    last = 2500 if stop_at is None else stop_at
    assert result.history["epoch"].tolist() == list(range(last + 1))
    logged = _client().get_metric_history(result.run_id, "objective")
    steps = sorted(m.step for m in logged)
    assert steps == [*range(0, last, 3), last]  # 2500 and 1234 are not multiples of 3
    by_epoch = result.history.set_index("epoch")["objective"]
    assert all(m.value == pytest.approx(by_epoch[m.step], rel=1e-12) for m in logged)
    run = _client().get_run(result.run_id)
    assert run.data.params["metric_every"] == "3"
    full = tracking.get_history_frame(result.run_id)
    assert full["epoch"].tolist() == list(range(last + 1))


def test_exception_in_training_fails_the_run_and_propagates(_iris):
    def boom(record):
        if record["epoch"] == 2:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_experiment(TrainConfig(solver="gd", max_epochs=20, tol=0), dataset=_iris, callback=boom)
    (run,) = _client().search_runs([tracking.get_or_create_experiment("iris")])
    assert run.info.status == "FAILED"
    assert run.data.tags["stop_reason"] == "error: RuntimeError: boom"
    # Metrics logged before the failure are kept.
    assert len(_client().get_metric_history(run.info.run_id, "objective")) == 2


def test_ctrl_c_marks_the_run_killed_and_reraises(_iris):
    def interrupt(record):
        if record["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(
            TrainConfig(solver="gd", max_epochs=20, tol=0), dataset=_iris, callback=interrupt
        )
    (run,) = _client().search_runs([tracking.get_or_create_experiment("iris")])
    assert run.info.status == "KILLED"
    assert run.data.tags["stop_reason"] == "interrupted (Ctrl-C)"


def test_untracked_run_touches_no_store(_iris, tmp_path):
    result = run_experiment(TrainConfig(max_epochs=5), dataset=_iris, track=False)
    assert result.run_id is None and result.tracking_error is None
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()


# ---------------------------------------------------------------- the run context manager
def test_tracked_run_sends_every_buffered_metric_at_the_end():
    keys = [f"k{i}" for i in range(7)]
    with TrackedRun("buffers", max_pending=50, flush_interval=0.05) as run:
        for epoch in range(300):
            run.log_record({"epoch": epoch, **{k: epoch + i for i, k in enumerate(keys)}})
    assert run.status == "FINISHED" and run.error is None
    long = get_histories([run.run_id])
    assert len(long) == 300 * 7
    k3 = long[long["key"] == "k3"]
    assert k3["step"].tolist() == list(range(300))
    assert k3["value"].tolist() == [e + 3.0 for e in range(300)]


def test_metric_buffer_is_bounded_when_the_store_is_slower_than_training():
    """A slow store makes the producer wait instead of buffering without limit, so
    closing the run (also on Ctrl-C) has at most one backlog left to send."""
    sent: list[list[int]] = []
    high_water = 0

    def slow_send(batch):
        time.sleep(0.02)
        sent.append(list(batch))

    sender = tracking._MetricSender(slow_send, interval=10.0, max_pending=50, bg=True, backlog=200)
    for i in range(100):
        sender.add(list(range(i * 30, (i + 1) * 30)))
        with sender._cond:
            high_water = max(high_water, len(sender._pending))
    t = time.perf_counter()
    sender.close()
    closing = time.perf_counter() - t
    assert high_water < 200 + 30
    assert sender.waited > 0  # the producer did wait for the store
    flat = [v for batch in sent for v in batch]
    assert flat == list(range(3000))  # nothing lost, nothing reordered
    assert closing < 2.0  # at most the bounded backlog was left (one or two sends)


def test_a_hung_store_spills_to_the_spool_after_the_stall_limit_then_reconnects():
    """A store that stops answering holds the producer for the stall limit once; from then
    on values go straight to the spool, until the store answers again."""
    import threading

    release = threading.Event()
    sent: list[int] = []
    spilled: list[int] = []

    def send(batch):
        release.wait(30)  # hung until the test releases it
        sent.extend(batch)

    sender = tracking._MetricSender(
        send,
        interval=0.05,
        max_pending=10,
        bg=True,
        backlog=20,
        spill=spilled.extend,
        stall=0.3,
        reconnect=release.is_set,
    )
    for i in range(100):
        sender.add(list(range(i * 5, (i + 1) * 5)))
    assert sender.offline and isinstance(sender.error, TimeoutError)
    assert sender.waited < 1.5  # held once for the 0.3 s stall limit, not per value
    assert len(spilled) >= 500 - 10 - 20  # at most the batch in flight and a backlog not
    release.set()
    deadline = time.monotonic() + 10
    while sender.offline and time.monotonic() < deadline:  # reconnect after backoff
        time.sleep(0.05)
    assert not sender.offline
    for i in range(100, 110):
        sender.add(list(range(i * 5, (i + 1) * 5)))
    sender.close()
    assert sorted(sent + spilled) == list(range(550))  # each value exactly once
    assert set(range(500, 550)) <= set(sent)  # back online: sent, not spilled


def test_tracked_run_synchronous_mode_and_explicit_finish():
    with TrackedRun("sync", background=False, max_pending=10) as run:
        for epoch in range(25):
            run.log_metrics({"x": epoch * 0.5, "skip": float("nan")}, step=epoch)
        run.finish("FAILED", stop_reason="diverged: test")
    info = _client().get_run(run.run_id)
    assert info.info.status == "FAILED"
    assert info.data.tags["stop_reason"] == "diverged: test"
    assert [m.value for m in _client().get_metric_history(run.run_id, "x")] == [
        e * 0.5 for e in range(25)
    ]
    assert "skip" not in info.data.metrics


def test_other_base_exceptions_end_killed():
    class RerunLike(BaseException):
        pass

    with pytest.raises(RerunLike), TrackedRun("streamlit") as run:
        raise RerunLike
    info = _client().get_run(run.run_id)
    assert info.info.status == "KILLED"
    assert info.data.tags["stop_reason"] == "interrupted (RerunLike)"


# ---------------------------------------------------------------- stale runs
def test_stale_running_runs_of_dead_processes_are_killed_live_ones_kept():
    client = _client()
    exp = tracking.get_or_create_experiment("stale")
    host = socket.gethostname()
    dead = client.create_run(exp, tags={"host": host, "pid": str(_dead_pid())}).info.run_id
    live = client.create_run(exp, tags={"host": host, "pid": str(os.getpid())}).info.run_id
    parent_pid = os.getppid()
    reused = client.create_run(
        exp, tags={"host": host, "pid": str(parent_pid), "pid_start": "12.0"}
    ).info.run_id  # a live PID, but started at another time: the PID was reused
    other = client.create_run(exp, tags={"host": "elsewhere", "pid": "1"}).info.run_id
    untagged = client.create_run(exp).info.run_id
    killed = mark_stale_runs()
    assert sorted(killed) == sorted([dead, reused])
    status = {r: client.get_run(r).info.status for r in (dead, live, reused, other, untagged)}
    assert status == {
        dead: "KILLED",
        live: "RUNNING",
        reused: "KILLED",
        other: "RUNNING",
        untagged: "RUNNING",
    }
    assert "ended while the run was RUNNING" in client.get_run(dead).data.tags["stop_reason"]
    for run_id in (live, other, untagged):
        client.set_terminated(run_id, "FINISHED")


def test_starting_a_run_cleans_up_stale_runs():
    client = _client()
    exp = tracking.get_or_create_experiment("stale2")
    dead = client.create_run(
        exp, tags={"host": socket.gethostname(), "pid": str(_dead_pid())}
    ).info.run_id
    tracking._STALE_CHECKED.clear()
    with TrackedRun("another"):
        pass
    assert client.get_run(dead).info.status == "KILLED"


# ---------------------------------------------------------------- unreachable stores
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(120)
def test_unreachable_server_is_reported_and_training_completes(_iris, monkeypatch):
    # MLflow's own defaults (7 retries, 120 s timeout): the probe must make them irrelevant.
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT")
    uri = f"http://127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    result = run_experiment(TrainConfig(max_epochs=10), dataset=_iris, tracking_uri=uri)
    elapsed = time.perf_counter() - t0
    assert result.run_id is None
    assert result.metrics["test_accuracy"] > 0.8
    assert f"{uri} is unreachable" in result.tracking_error
    assert "python -m lossesbox sync" in result.tracking_error and result.spool
    print(f"unreachable server reported after {elapsed:.2f} s")


@pytest.mark.timeout(60)
def test_reading_an_unreachable_server_says_runs_cannot_be_read(monkeypatch):
    uri = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(tracking.TrackingUnavailable) as info:
        list_runs(tracking_uri=uri)
    msg = str(info.value)
    assert f"{uri} is unreachable" in msg and "runs cannot be read" in msg
    assert "not logged" not in msg and "--no-track" not in msg


def test_a_read_only_store_can_be_read(_iris, tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path}/m.db"
    result = run_experiment(TrainConfig(max_epochs=5), dataset=_iris, tracking_uri=uri)
    real_access = os.access
    # as if the database and its folder were read-only (root ignores chmod)
    monkeypatch.setattr(
        os, "access", lambda path, mode: mode != os.W_OK and real_access(path, mode)
    )
    with pytest.raises(tracking.TrackingUnavailable, match="is not writable; the run was not"):
        tracking.probe_store(uri)
    tracking.probe_store(uri, reading=True)  # reading needs no write access
    assert list_runs(tracking_uri=uri)["run_id"].tolist() == [result.run_id]


def test_short_error_drops_sql_and_background_link():
    exc = RuntimeError(
        "(sqlite3.OperationalError) disk I/O error\n[SQL: INSERT INTO metrics (key, value) "
        "VALUES (?, ?)]\n[parameters: ('objective', 1.0)]\n(Background on this error at: "
        "https://sqlalche.me/e/20/e3q8)"
    )
    assert tracking.short_error(exc) == "disk I/O error"
    assert tracking.short_error(ValueError("x" * 500), 50) == "x" * 49 + "…"
    assert tracking.short_error(RuntimeError("")) == ""
    refused = RuntimeError(
        "API request to http://127.0.0.1:9/api/2.0/mlflow/runs/log-batch failed with exception "
        "HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: /api "
        "(Caused by NewConnectionError('Failed to establish a new connection: [Errno 111] "
        "Connection refused'))"
    )
    assert tracking.short_error(refused) == (
        "request to http://127.0.0.1:9/api/2.0/mlflow/runs/log-batch failed: connection refused"
    )


def test_a_failed_start_keeps_the_whole_run_in_the_spool_and_sync_creates_it(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("(sqlite3.OperationalError) boom\n[SQL: SELECT 1]")

    run = tracking.TrackedRun("x", params={"lam": 0.5})
    with monkeypatch.context() as m:
        m.setattr(tracking._run, "_sqlite_path", lambda uri: None)  # as for a server
        m.setattr(tracking._run, "get_or_create_experiment", boom)
        run.start()
        assert run.run_id is None
        assert run.error.startswith(
            "MLflow tracking failed while starting the run (RuntimeError: boom)"
        )
        assert "no run was created; not delivered; kept in" in run.error
        assert "SQL" not in run.error
        for epoch in range(5):
            run.log_metrics({"objective": 1.0 / (epoch + 1)}, step=epoch)
        run.set_tags({"fit_status": "converged"})
        spool = run.spool.path
        m.setattr(tracking._run, "probe_store", boom)  # the store is still "down" at the end
        run.finish("FINISHED")
    assert run.store_status is None and spool.is_dir()
    [result] = tracking.sync_spools()
    assert result.outcome == "delivered" and result.status == "FINISHED"
    assert not spool.exists()
    runs = list_runs("x")
    assert runs["run_id"].tolist() == [result.run_id]
    assert runs.loc[0, "params.lam"] == "0.5" and runs.loc[0, "tags.fit_status"] == "converged"
    history = get_histories(result.run_id, "objective")
    assert history["step"].tolist() == list(range(5))
    assert tracking.sync_spools() == []  # nothing left to replay


def test_download_artifacts_copies_a_runs_files(_iris, tmp_path):
    result = run_experiment(TrainConfig(max_epochs=5), dataset=_iris)
    path = tracking.download_artifacts(result.run_id, "history.csv", str(tmp_path))
    assert pd.read_csv(path)["epoch"].tolist() == result.history["epoch"].tolist()
    with pytest.raises(ValueError, match=r"has no artifact 'nope\.csv'"):
        tracking.download_artifacts(result.run_id, "nope.csv", str(tmp_path))
    with pytest.raises(ValueError, match=r"has no artifact"):
        tracking.download_artifacts("0" * 32, "history.csv", str(tmp_path))


def test_warm_up_imports_mlflow_without_touching_a_store(tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    tracking.warm_up()
    assert "mlflow.sklearn" in sys.modules
    assert list(cwd.iterdir()) == []


def test_unwritable_sqlite_location_is_reported(_iris, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_experiment(
        TrainConfig(max_epochs=5), dataset=_iris, tracking_uri=f"sqlite:///{blocker}/sub/x.db"
    )
    assert result.run_id is None
    assert "cannot create the MLflow store folder" in result.tracking_error


# ---------------------------------------------------------------- queries
def test_queries_on_a_missing_store_return_empty_frames(tmp_path):
    uri = f"sqlite:///{tmp_path}/nothing/mlflow.db"
    assert list_experiments(uri).empty
    runs = list_runs(tracking_uri=uri)
    assert runs.empty and {"run_id", "status", "experiment"} <= set(runs.columns)
    hist = get_histories(["abc"], tracking_uri=uri)
    assert hist.empty and list(hist.columns) == ["run_id", "key", "step", "value"]
    assert get_history_frame("abc", tracking_uri=uri).empty
    assert mark_stale_runs(uri) == []
    assert not (tmp_path / "nothing").exists()  # queries create nothing


def test_queries_on_an_empty_store_return_empty_frames():
    tracking.get_or_create_experiment("empty")
    assert set(list_experiments()["name"]) == {"empty", "Default"}
    assert list_runs("empty").empty
    assert list_runs(["no such experiment"]).empty
    assert get_histories([]).empty


def test_list_runs_and_get_histories_describe_the_runs(_iris):
    a = run_experiment(TrainConfig(loss="mse", max_epochs=15), dataset=_iris)
    b = run_experiment(TrainConfig(loss="hinge", max_epochs=15), dataset=_iris, experiment="other")
    runs = list_runs()
    assert set(runs["run_id"]) == {a.run_id, b.run_id}
    row = runs.set_index("run_id").loc[a.run_id]
    assert row["experiment"] == "iris" and row["status"] == "FINISHED"
    assert row["params.loss"] == "mse"
    assert row["metrics.test_accuracy"] == pytest.approx(a.metrics["test_accuracy"])
    assert row["tags.host"] == socket.gethostname()
    assert isinstance(row["start_time"], pd.Timestamp)
    assert list_runs("other")["run_id"].tolist() == [b.run_id]
    assert list_runs(filter="params.loss = 'hinge'")["run_id"].tolist() == [b.run_id]
    long = get_histories([b.run_id, a.run_id], keys=["objective", "train_accuracy"])
    assert list(long.columns) == ["run_id", "key", "step", "value"]
    assert long["run_id"].unique().tolist() == [b.run_id, a.run_id]
    got = long[(long["run_id"] == a.run_id) & (long["key"] == "objective")]
    np.testing.assert_allclose(got["value"], a.history["objective"], rtol=1e-12)
    assert got["step"].tolist() == a.history["epoch"].tolist()


def test_build_pipeline_has_the_scaler_only_when_standardizing():
    assert [n for n, _ in build_pipeline(TrainConfig()).steps] == ["scaler", "clf"]
    assert [n for n, _ in build_pipeline(TrainConfig(standardize=False)).steps] == ["clf"]
    clf = build_pipeline(TrainConfig(loss="hinge", lam=0.5, seed=3)).steps[-1][1]
    assert (clf.loss, clf.lam, clf.random_state) == ("hinge", 0.5, 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"loss": "nope"}, "nope"),
        ({"lam": -1.0}, "lam must be a number ≥ 0"),
        ({"solver": "newton"}, "solver must be one of"),
        ({"max_epochs": 0}, "epochs must be ≥ 1"),
        ({"test_size": 1.0}, "test_size must be a fraction"),
        ({"dataset": "mnist"}, "unknown dataset 'mnist'"),
        ({"csv_path": "/no/such/file.csv"}, "CSV file not found"),
    ],
)
def test_config_validation_names_the_bad_value(change, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**change).validate()
