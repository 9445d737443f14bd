"""Reliability: whatever a user feeds the tool or however a run ends, they get a clear
message and lose nothing already computed (issue 6).

Sections: divergence and numerics; safe dashboard defaults; tracking failures (diverged
runs, unreachable or read-only stores, logged parameters); interruption (Ctrl-C,
SIGKILL, live processes left alone); concurrent writers. Bad-input fuzzing lives in
``tests/test_fuzz.py``, the trainer's descent property in
``tests/test_properties_trainer.py``.

The MLflow store is checked with plain ``sqlite3`` queries on the database file, not
through the code under test.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import tomllib
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from lossesbox import LinearSoftmaxClassifier

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def iris_std():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# =========================================================================== divergence


@pytest.mark.parametrize(
    ("solver", "loss", "lr", "extra"),
    [
        ("gd", "mse", 20.0, {}),
        ("gd", "exp_mse", 10.0, {}),
        ("momentum", "mse", 30.0, {}),
        ("sgd", "mse", 5.0, {"batch_size": 16}),
        ("adam", "exp_mse", 100.0, {}),
    ],
)
def test_huge_learning_rate_stops_as_diverged_at_epoch_k_keeping_epoch_k_minus_1(
    iris_std, solver, loss, lr, extra
):
    X, y = iris_std
    clf = LinearSoftmaxClassifier(
        loss=loss, solver=solver, learning_rate=lr, random_state=0, **extra
    )
    with pytest.warns(RuntimeWarning) as caught:
        clf.fit(X, y)
    k = len(clf.history_)  # epochs 0..k-1 recorded; epoch k was the non-finite one
    assert clf.status_ == "diverged" and clf.n_iter_ == k - 1 >= 0
    message = str(caught[0].message)
    assert message == clf.stop_reason_
    assert f"non-finite at epoch {k}; kept the parameters of epoch {k - 1}" in message
    assert f"Try a smaller learning_rate (now {lr})" in message
    # what is kept really is epoch k-1: its objective, recomputed from coef_/intercept_
    assert all(math.isfinite(r["objective"]) for r in clf.history_)
    assert clf.objective(X, y) == pytest.approx(clf.history_[-1]["objective"], rel=1e-9)
    assert np.isfinite(clf.coef_).all() and np.isfinite(clf.predict_proba(X)).all()


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_lambda_zero_on_separable_data_grows_weights_but_never_overflows(solver):
    """λ = 0 on separable data has no minimizer (‖W‖ → ∞, J → 0): finite, no warnings."""
    X = np.array([[-3.0, 0.1], [-2.0, -0.4], [-1.0, 0.3], [1.0, 0.2], [2.0, -0.1], [3.0, 0.0]])
    y = np.array([0, 0, 0, 1, 1, 1])
    clf = LinearSoftmaxClassifier(lam=0.0, solver=solver, learning_rate=50.0, max_epochs=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / invalid-value warnings either
        clf.fit(X, y)
    assert clf.status_ in ("converged", "max_epochs")
    J = np.array([r["objective"] for r in clf.history_])
    assert np.isfinite(J).all() and J[-1] < 1e-3 * J[0]
    assert np.abs(clf.coef_).max() > 5.0  # the weights did run away ...
    P = clf.predict_proba(X)
    assert np.isfinite(P).all() and np.all(P.max(axis=1) > 0.99)  # ... saturating softmax
    assert clf.score(X, y) == 1.0


def test_lambda_zero_with_huge_margins_saturates_to_exactly_zero_loss():
    """Scores of order 1e6: softmax underflows to exact 0/1, CE and its gradient to 0."""
    X = np.array([[-1.0], [-2.0], [1.0], [2.0]]) * 1e3
    y = np.array([0, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = LinearSoftmaxClassifier(lam=0.0, solver="gd", learning_rate=1e3).fit(X, y)
    assert clf.status_ == "converged"
    assert clf.history_[-1]["objective"] == 0.0 and clf.history_[-1]["grad_norm"] == 0.0


def test_exp_mse_overflow_is_divergence_not_nan(iris_std):
    from lossesbox.losses import LOSSES

    X, y = iris_std
    Y = np.eye(3)[y]
    clf = LinearSoftmaxClassifier(loss="exp_mse", solver="gd", learning_rate=10.0)
    with pytest.warns(RuntimeWarning, match=r"non-finite at epoch 2"):
        clf.fit(X, y)
    assert clf.status_ == "diverged" and len(clf.history_) == 2
    # the step it refused (epoch 1 -> 2), done by hand: the objective is +inf, never NaN
    W, b = clf.coef_, clf.intercept_
    G = LOSSES["exp_mse"].gradient(X @ W.T + b, Y)
    W2 = W - 10.0 * (G.T @ X / len(y) + 1e-3 * W)
    b2 = b - 10.0 * G.mean(axis=0)
    with np.errstate(over="ignore"):
        v = LOSSES["exp_mse"].loss(X @ W2.T + b2, Y)
    assert np.isposinf(v.mean()) and not np.isnan(v).any()


def test_lbfgs_line_search_failure_is_not_reported_as_converged():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3)) * 1e50
    y = np.array([0, 1] * 10)
    with pytest.warns(RuntimeWarning, match="could not take a single step"):
        clf = LinearSoftmaxClassifier().fit(X, y)
    assert clf.status_ == "diverged"
    assert clf.n_iter_ == 0
    assert "standardize the features" in clf.stop_reason_


# =========================================================================== safe defaults


def _streamlit_config() -> dict:
    with open(ROOT / ".streamlit" / "config.toml", "rb") as f:
        return tomllib.load(f)


def test_streamlit_config_binds_localhost_limits_uploads_keeps_xsrf_and_no_telemetry():
    from lossesbox.datasets import MAX_BYTES

    cfg = _streamlit_config()
    server = cfg["server"]
    assert server["address"] == "127.0.0.1"
    assert server["enableXsrfProtection"] is True
    assert cfg["browser"]["gatherUsageStats"] is False
    size = server["maxUploadSize"]
    assert isinstance(size, int) and 1 <= size <= 200  # MB; Streamlit's default is 200
    # whatever the uploader accepts, the CSV loader checks with its own clear message
    assert size * 1_000_000 >= MAX_BYTES
    assert cfg["client"]["showErrorDetails"] in ("none", "type")  # no traceback in the page


def test_every_streamlit_config_key_is_a_real_option():
    """A misspelt key (``enableXSRFProtection``) would be silently ignored."""
    from streamlit import config

    options = config.get_config_options()
    keys = [f"{section}.{key}" for section, values in _streamlit_config().items() for key in values]
    assert keys and [k for k in keys if k not in options] == []


def test_streamlit_really_reads_the_safe_defaults():
    code = textwrap.dedent(
        """
        import json
        from streamlit import config
        config.get_config_options(force_reparse=True)
        keys = ["server.address", "server.maxUploadSize", "server.enableXsrfProtection",
                "browser.gatherUsageStats", "client.showErrorDetails"]
        print(json.dumps({k: config.get_option(k) for k in keys}))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    cfg = _streamlit_config()
    assert got == {
        "server.address": "127.0.0.1",
        "server.maxUploadSize": cfg["server"]["maxUploadSize"],
        "server.enableXsrfProtection": True,
        "browser.gatherUsageStats": False,
        "client.showErrorDetails": cfg["client"]["showErrorDetails"],
    }


def test_ui_command_binds_localhost():
    out = subprocess.run(
        [sys.executable, "-m", "lossesbox", "ui", "--print-command", "--headless"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    argv = out.stdout.split()
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert "0.0.0.0" not in out.stdout


# =========================================================================== tracking store
# (tests/test_tracking.py covers a closed port in-process, a file blocking the store folder,
# diverged runs ending FAILED and CSV paths logged by name; these add what a user meets.)


def _db() -> str:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    assert uri.startswith("sqlite:///")
    return uri[len("sqlite:///") :]


def _query(sql: str, *args) -> list[tuple]:
    """Read the test's MLflow sqlite store directly (read-only, not through MLflow)."""
    con = sqlite3.connect(f"file:{_db()}?mode=ro", uri=True, timeout=60)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def _run_status(run_id: str) -> str:
    return _query("select status from runs where run_uuid = ?", run_id)[0][0]


def _tags(run_id: str) -> dict[str, str]:
    return dict(_query("select key, value from tags where run_uuid = ?", run_id))


def _steps(run_id: str, key: str = "objective") -> list[int]:
    rows = _query(
        "select step from metrics where run_uuid = ? and key = ? order by step", run_id, key
    )
    return [r[0] for r in rows]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env_without_http_overrides() -> dict[str, str]:
    """The user's situation: MLflow's own HTTP defaults (7 retries, 120 s timeout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_HTTP_REQUEST")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.mark.timeout(180)
def test_a_hanging_server_is_given_up_on_after_the_probe_timeout(monkeypatch):
    """A server that accepts connections but never answers (overloaded, half-dead proxy)."""
    from lossesbox.experiment import TrainConfig, run_experiment

    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT")
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(8)  # never accept()ed, never answered
        uri = f"http://127.0.0.1:{black_hole.getsockname()[1]}"
        t0 = time.monotonic()
        result = run_experiment(TrainConfig(max_epochs=10), tracking_uri=uri)
        elapsed = time.monotonic() - t0
    assert result.run_id is None and result.status in ("converged", "max_epochs")
    assert result.metrics["test_accuracy"] > 0.8
    assert result.tracking_error.startswith(f"MLflow tracking server {uri} is unreachable (timed")
    assert "no run was created; not delivered; kept in" in result.tracking_error
    assert "mlflow server --host 127.0.0.1" in result.tracking_error
    assert result.spool and result.run_status is None
    assert elapsed < 90, elapsed  # one 3 s probe, not MLflow's ~4-minute retry storm


@pytest.mark.timeout(300)
def test_cli_with_a_down_server_still_trains_and_says_how_to_fix_it_without_the_password(
    tmp_path,
):
    port = _free_port()
    cwd = tmp_path / "work"
    cwd.mkdir()
    env = _env_without_http_overrides()
    env["MLFLOW_TRACKING_URI"] = f"http://alice:hunter2@127.0.0.1:{port}"
    out = subprocess.run(
        [sys.executable, "-m", "lossesbox", "train", "--epochs", "20", "--quiet"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr
    assert "test_accuracy" in out.stdout and "Traceback" not in out.stderr
    assert (
        f"warning: MLflow tracking server http://***@127.0.0.1:{port} is unreachable "
        "([Errno 111] Connection refused); no run was created; not delivered; kept in "
    ) in out.stderr
    assert "run `python -m lossesbox sync` once the server is back" in out.stderr
    assert "hunter2" not in out.stdout + out.stderr
    assert list(cwd.iterdir()) == []  # no silent fallback store in the working directory
    [spool] = Path(env["LOSSESBOX_SPOOL_DIR"]).iterdir()  # the run, kept for `sync`
    assert "hunter2" not in (spool / "run.json").read_text()


def test_a_live_server_behind_credentials_in_the_uri_counts_as_reachable():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from lossesbox.tracking import probe_store

    class Unauthorized(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Unauthorized)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        probe_store(f"http://alice:hunter2@127.0.0.1:{server.server_port}")  # no exception
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_read_only_store_folder_is_reported_and_training_completes():
    """``/proc/self`` is read-only even for root (a chmod-ed folder would not be)."""
    from lossesbox.experiment import TrainConfig, run_experiment

    result = run_experiment(TrainConfig(max_epochs=10), tracking_uri="sqlite:////proc/self/x.db")
    assert result.run_id is None and result.metrics["test_accuracy"] > 0.8
    assert result.tracking_error == (
        "the MLflow store /proc/self/x.db is not writable; the run was not logged. Choose a "
        "writable place with --tracking-uri sqlite:///path/to/mlflow.db (or "
        "MLFLOW_TRACKING_URI), or use --no-track."
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores chmod")
def test_a_chmod_read_only_folder_is_reported(tmp_path):
    from lossesbox.experiment import TrainConfig, run_experiment

    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = run_experiment(TrainConfig(max_epochs=5), tracking_uri=f"sqlite:///{folder}/m.db")
    finally:
        folder.chmod(0o755)
    assert result.run_id is None and "is not writable; the run was not logged" in (
        result.tracking_error
    )


def test_a_store_path_that_is_not_a_database_is_reported_and_left_untouched(tmp_path):
    from lossesbox.experiment import TrainConfig, run_experiment

    notes = tmp_path / "notes.db"
    notes.write_text("my notes, not a database\n")
    result = run_experiment(TrainConfig(max_epochs=5), tracking_uri=f"sqlite:///{notes}")
    assert result.run_id is None and result.metrics["test_accuracy"] > 0.8
    assert "file is not a database" in result.tracking_error
    assert "--no-track" in result.tracking_error
    assert notes.read_text() == "my notes, not a database\n"


def test_logged_params_tags_and_names_hold_no_paths_or_secrets(tmp_path, monkeypatch):
    import pandas as pd

    from lossesbox.experiment import TrainConfig, run_experiment

    secret = "s3cr3t-Token-8f2a"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", secret)
    folder = tmp_path / "home" / "alice" / "private project"
    folder.mkdir(parents=True)
    X, y = load_iris(return_X_y=True)
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"]).assign(species=y)
    frame.to_csv(folder / "flowers.csv", index=False)
    monkeypatch.chdir(folder)
    result = run_experiment(
        TrainConfig(csv_path=str(folder / "flowers.csv"), target="species", max_epochs=10)
    )
    run = result.run_id
    params = dict(_query("select key, value from params where run_uuid = ?", run))
    tags = _tags(run)
    (name,) = _query("select name from runs where run_uuid = ?", run)[0]
    assert params["dataset.file"] == "flowers.csv"
    values = {**{f"param {k}": v for k, v in params.items()}, **tags, "run name": name}
    forbidden = [secret, str(tmp_path), "alice", "private project", os.path.expanduser("~")]
    leaks = {k: v for k, v in values.items() if any(f in v for f in forbidden)}
    absolute = {k: v for k, v in values.items() if os.path.isabs(v)}
    assert leaks == {} and absolute == {}


# =========================================================================== interruption
# (tests/test_cli.py covers Ctrl-C/SIGTERM of `python -m lossesbox train` and a SIGKILLed
# training marked KILLED by the next start; this adds real sibling processes and checks
# that no metric queued before the interruption is lost and a live run is not touched.)

LOGGER = textwrap.dedent(
    """
    import os, sys, time
    from lossesbox.tracking import TrackedRun

    experiment, stop_file = sys.argv[1], sys.argv[2]
    logged = -1  # the last step whose log_record returned
    try:
        with TrackedRun(experiment, flush_interval=0.05, max_pending=20) as run:
            print(run.run_id, flush=True)
            while not os.path.exists(stop_file):
                step = logged + 1
                run.log_record({"epoch": step, "objective": 1.0 / (step + 1)})
                logged = step
                time.sleep(0.01)
    except KeyboardInterrupt:
        print(logged, flush=True)
        sys.exit(130)
    print(logged, flush=True)
    """
)


def _default_sigint() -> None:
    """Runs in the child before exec: take Ctrl-C (SIGINT) the default way even when the
    test runner itself ignores it (a background job of a non-interactive shell does), so
    the child's Python turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_logger(name: str, stop_file: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", LOGGER, name, str(stop_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env_without_http_overrides(),
        preexec_fn=_default_sigint,
    )


def _wait_for_steps(run_id: str, n: int, procs, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            assert p.poll() is None, p.communicate()
        if len(_steps(run_id)) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never logged {n} steps")


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_interrupted_runs_keep_every_metric_and_live_siblings_are_left_alone(tmp_path):
    from lossesbox import tracking

    stop = tmp_path / "stop"
    procs = {name: _start_logger(name, stop) for name in ("ctrl_c", "sigkill", "live")}
    try:
        run_ids = {name: p.stdout.readline().strip() for name, p in procs.items()}
        assert all(len(r) == 32 for r in run_ids.values()), run_ids
        for run_id in run_ids.values():
            _wait_for_steps(run_id, 20, procs.values())

        # Ctrl-C: the run ends KILLED and every step queued before it is in the store
        procs["ctrl_c"].send_signal(signal.SIGINT)
        out, err = procs["ctrl_c"].communicate(timeout=60)
        assert procs["ctrl_c"].returncode == 130, err
        last = int(out.strip().splitlines()[-1])
        assert _run_status(run_ids["ctrl_c"]) == "KILLED"
        assert _tags(run_ids["ctrl_c"])["stop_reason"] == "interrupted (Ctrl-C)"
        # every step whose log_record returned is stored; the one Ctrl-C cut short may or
        # may not have been queued (e.g. cut while waiting on a full buffer: it was not)
        stored = _steps(run_ids["ctrl_c"])
        assert stored == list(range(len(stored))) and len(stored) in (last + 1, last + 2)

        # SIGKILL: nothing runs in the process; the run stays RUNNING with what was sent
        procs["sigkill"].kill()
        procs["sigkill"].communicate(timeout=60)
        kept = _steps(run_ids["sigkill"])
        assert _run_status(run_ids["sigkill"]) == "RUNNING"
        assert kept == list(range(len(kept))) and len(kept) >= 20

        # the next start marks it KILLED (deletes nothing) and leaves the live run alone
        live_before = len(_steps(run_ids["live"]))
        tracking._STALE_CHECKED.clear()
        with tracking.TrackedRun("next-start") as later:
            pass
        assert later.error is None
        assert _run_status(run_ids["sigkill"]) == "KILLED"
        reason = _tags(run_ids["sigkill"])["stop_reason"]
        assert reason.startswith(f"killed: process {procs['sigkill'].pid} on ")
        assert _steps(run_ids["sigkill"]) == kept
        assert _run_status(run_ids["live"]) == "RUNNING"

        # the live process carries on logging and ends normally, with all its steps
        _wait_for_steps(run_ids["live"], live_before + 10, [procs["live"]])
        stop.touch()
        out, err = procs["live"].communicate(timeout=60)
        assert procs["live"].returncode == 0, err
        last = int(out.strip().splitlines()[-1])
        assert _run_status(run_ids["live"]) == "FINISHED"
        assert _steps(run_ids["live"]) == list(range(last + 1))
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.communicate()


# =========================================================================== concurrency

TRAINER = textwrap.dedent(
    """
    import json, math, sys
    import lossesbox.experiment as experiment
    from lossesbox.datasets import load_dataset
    from lossesbox.tracking import TrackedRun, is_epoch_metric

    # Store concurrency is the subject: skip the model and chart artifacts (seconds of
    # serialization per run that never touch the database).
    experiment._chart_files = lambda *args, **kwargs: {}
    TrackedRun.log_model = lambda self, *args, **kwargs: None

    worker, n_runs = int(sys.argv[1]), int(sys.argv[2])
    iris = load_dataset("iris")
    out = []
    for r in range(n_runs):
        config = experiment.TrainConfig(solver="gd", max_epochs=3, tol=0.0, seed=r)
        res = experiment.run_experiment(
            config, dataset=iris, experiment="crowd", tags={"worker": worker}
        )
        history = res.history.to_dict("records")
        n_values = sum(
            1
            for rec in history
            for k, v in rec.items()
            if is_epoch_metric(k) and not (isinstance(v, float) and math.isnan(v))
        ) + sum(1 for k in experiment._LOGGED_FINAL if math.isfinite(res.metrics[k]))
        out.append({
            "run_id": res.run_id, "error": res.tracking_error, "status": res.run_status,
            "objective": [rec["objective"] for rec in history], "n_values": n_values,
        })
    print(json.dumps(out))
    """
)

READER = textwrap.dedent(
    """
    import sys, time
    from lossesbox.tracking import get_histories, list_runs

    deadline = time.monotonic() + float(sys.argv[1])
    reads = 0
    while time.monotonic() < deadline:
        runs = list_runs("crowd")  # what the Compare-runs page asks for
        if len(runs):
            get_histories(runs["run_id"].tolist()[:5], keys=["objective"])
        reads += 1
    print(reads)
    """
)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_four_processes_times_fifty_runs_into_one_sqlite_store_lose_nothing():
    n_workers, n_runs = 4, 50
    env = _env_without_http_overrides()

    def spawn(*argv):
        return subprocess.Popen(
            [sys.executable, "-c", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    writers = [spawn(TRAINER, str(w), str(n_runs)) for w in range(n_workers)]
    reader = spawn(READER, "30")
    results = []
    try:
        for w in writers:
            out, err = w.communicate(timeout=540)
            assert w.returncode == 0, err
            assert "locked" not in err.lower(), err
            results.extend(json.loads(out.strip().splitlines()[-1]))
        out, err = reader.communicate(timeout=120)
        assert reader.returncode == 0 and "locked" not in err.lower(), err
        assert int(out.strip()) >= 1
    finally:
        for p in [*writers, reader]:
            if p.poll() is None:
                p.kill()
                p.communicate()

    assert len(results) == n_workers * n_runs
    assert [r for r in results if r["error"] is not None or r["status"] != "FINISHED"] == []
    rows = _query(
        "select r.run_uuid, r.status, count(m.key) from runs r join experiments e "
        "on r.experiment_id = e.experiment_id left join metrics m on m.run_uuid = r.run_uuid "
        "where e.name = 'crowd' group by r.run_uuid"
    )
    in_store = {run: (status, n) for run, status, n in rows}
    assert set(in_store) == {r["run_id"] for r in results}
    for r in results:
        assert in_store[r["run_id"]] == ("FINISHED", r["n_values"]), r["run_id"]
        values = _query(
            "select step, value from metrics where run_uuid = ? and key = 'objective' "
            "order by step",
            r["run_id"],
        )
        assert values == list(enumerate(r["objective"]))


# =========================================================================== dashboard
# (tests/test_dashboard.py covers untracked divergence, Stop, and four bad uploads; these
# add tracked divergence, an unreachable store, and the rest of the bad-file zoo.)


def _train_page():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "pages" / "1_Train.py"), default_timeout=60).run()


def _train_and_wait(at, timeout: float = 300):
    at.button(key="tr_train").click().run()
    job = at.session_state["train_job"]
    assert job.wait(timeout), "training did not finish"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.slow
def test_train_page_divergence_is_logged_failed_and_the_page_says_what_to_do():
    at = _train_page()
    at.selectbox(key="tr_loss").set_value("mse")
    at.selectbox(key="tr_solver").set_value("gd").run()
    at.select_slider(key="tr_lr").set_value(1000.0)
    at.number_input(key="tr_epochs").set_value(50)
    _train_and_wait(at)
    result = at.session_state["last_result"]
    assert result.status == "diverged" and result.run_status == "FAILED"
    k = len(result.history)
    (error,) = [e.value for e in at.error]
    assert error.startswith(f"**Training diverged** at epoch {k}: the objective became non-finite")
    assert "logged as FAILED" in error
    assert "learning_rate" not in error and error.count("Try") == 1  # said once, in UI words
    assert "Try a smaller learning rate (now 1000; try 100)" in error
    assert _run_status(result.run_id) == "FAILED"
    assert _steps(result.run_id) == list(range(k))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_train_page_with_an_unreachable_store_trains_and_warns_not_logged(monkeypatch):
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT")
    uri = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    at = _train_page()
    at.number_input(key="tr_epochs").set_value(20)
    _train_and_wait(at)
    assert not at.error, [e.value for e in at.error]
    assert float(next(m.value for m in at.metric if m.label == "Test accuracy")) > 0.8
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith("Training finished but the run was **not delivered** to MLflow: ")
    assert "Sync" in warning
    assert f"MLflow tracking server {uri} is unreachable" in warning


_BAD_UPLOADS = [
    ("empty.csv", b"", "file is empty"),
    ("header.csv", b"a,b,label\n", "has a header but no data rows"),
    ("one_row.csv", b"a,b,label\n1,2,x\n", "has only 1 data row"),
    ("dupes.csv", b"a,a,label\n1,2,x\n3,4,y\n1,2,x\n3,4,y\n", "duplicated column names: 'a'"),
    ("inf.csv", b"a,b,label\n1,inf,x\n3,4,y\n1,2,x\n3,4,y\n", "missing or infinite values"),
    ("latin1.csv", "a,label\n1,caf\xe9\n".encode("latin-1"), "not a UTF-8 text CSV"),
    ("utf16.csv", "a,b,label\n1,2,x\n".encode("utf-16"), "UTF-16"),
    ("nul.csv", b"a,b\x00,label\n1,2,x\n", "NUL bytes"),
    ("book.csv", b"PK\x03\x04\x14\x00\x06\x00" + bytes(64), "xlsx"),
    ("model.csv", b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.", "pickle"),
    ("ragged.csv", b"a,b,label\n1,2,x\n3,4,y,9\n", "Expected 3 fields in line 3, saw 4"),
    (
        "wide.csv",
        ",".join(f"c{i}" for i in range(100_001)).encode() + b"\n" + b"1," * 100_000 + b"x\n",
        "more than the limit of 10,000",
    ),
]


@pytest.mark.slow
def test_train_page_every_bad_upload_is_an_error_naming_the_problem_and_train_is_off():
    at = _train_page()
    at.radio(key="tr_source").set_value("Upload a CSV").run()
    for name, content, words in _BAD_UPLOADS:
        at.file_uploader(key="tr_upload").set_value((name, content, "text/csv")).run()
        assert not at.exception, (name, [e.value for e in at.exception])
        errors = " ".join(e.value for e in at.error)
        assert f"Reading {name}" in errors and words in errors, (name, errors)
        assert at.button(key="tr_train").disabled, name


@pytest.mark.slow
def test_train_page_a_feature_picked_as_target_is_an_error_not_a_crash():
    rows = "".join(f"{i * 0.37:.2f},{i % 3},{'ab'[i % 2]}\n" for i in range(30))
    at = _train_page()
    at.radio(key="tr_source").set_value("Upload a CSV").run()
    at.file_uploader(key="tr_upload").set_value(
        ("m.csv", f"x,k,label\n{rows}".encode(), "text/csv")
    )
    at.run()
    assert not at.error and not at.button(key="tr_train").disabled
    at.selectbox(key="tr_target_m.csv").set_value("x").run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "looks continuous" in errors and "pick a column of labels" in errors
    assert at.button(key="tr_train").disabled


@pytest.mark.parametrize("run_id", [None, "0" * 32])
def test_the_ending_message_claims_a_logged_run_only_when_there_is_one(run_id):
    import pandas as pd

    from lossesbox.app.results import ending_message
    from lossesbox.experiment import TrainConfig

    history = pd.DataFrame({"epoch": range(8)})
    common = dict(config=TrainConfig(solver="gd", learning_rate=3.0), history=history)
    diverged = SimpleNamespace(
        status="diverged", stop_reason="Diverged: at epoch 8.", run_id=run_id, **common
    )
    stopped = SimpleNamespace(status="stopped", stop_reason="user", run_id=run_id, **common)
    level, text = ending_message(diverged)
    assert level == "error" and "after epoch 7 are kept" in text
    assert text.count("Try") == 1 and "learning_rate" not in text
    assert "Try a smaller learning rate (now 3; try 0.3)" in text
    assert ("logged as FAILED" in text) == (run_id is not None)
    level, text = ending_message(stopped)
    assert level == "info" and text.startswith("Stopped by you after epoch 7")
    assert ("logged as FINISHED" in text) == (run_id is not None)


@pytest.mark.parametrize("store", ["not-a-database", "server-down"])
@pytest.mark.parametrize(
    ("page", "what"),
    [("pages/3_Compare_runs.py", "Reading the MLflow store"), ("pages/5_Study.py", "studies")],
)
def test_pages_reading_a_broken_store_show_an_error_not_a_traceback(
    store, page, what, tmp_path, monkeypatch
):
    from streamlit.testing.v1 import AppTest

    if store == "not-a-database":
        (tmp_path / "notes.db").write_text("not a database\n")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'notes.db'}")
        expected = "file is not a database"
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_free_port()}")
        expected = "is unreachable"
    at = AppTest.from_file(str(ROOT / page), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and what in errors[0] and expected in errors[0], errors
