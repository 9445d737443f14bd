"""``python -m lossesbox``: fast help, one-line usage errors (exit 2), train end to end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lossesbox import cli

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _run(*argv: str, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lossesbox", *argv],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=cwd,
        timeout=timeout,
    )


def _client():
    import mlflow

    return mlflow.MlflowClient(os.environ["MLFLOW_TRACKING_URI"])


# ---------------------------------------------------------------- help
@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["sweep", "--help"]])
def test_help_imports_no_heavy_module(argv, tmp_path):
    """--help must not import scikit-learn, scipy, mlflow, pandas (the 1-s budget)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lossesbox", *argv],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: python -m lossesbox" in proc.stdout
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert not imported & {"sklearn", "scipy", "mlflow", "pandas", "streamlit", "altair"}


def test_top_level_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("train", "sweep", "ui"):
        assert re.search(rf"^\s+{name}\s", out, re.M)


def test_both_spellings_and_comma_lists_parse_to_the_same_grid():
    a = cli.build_parser(["sweep"]).parse_args(
        ["sweep", "--dataset", "iris,wine", "--loss", "mse", "--lam", "1e-3,1e-2", "--seed", "0"]
    )
    b = cli.build_parser(["sweep"]).parse_args(
        ["sweep", "--datasets", "iris,wine", "--losses", "mse", "--lams", "1e-3,1e-2", "--seeds=0"]
    )
    assert (a.datasets, a.losses, a.lams, a.seeds) == (b.datasets, b.losses, b.lams, b.seeds)
    assert a.datasets == ["iris", "wine"] and a.lams == [1e-3, 1e-2]
    configs = cli.configs_from_args(a)
    assert [(c.dataset, c.lam) for c in configs] == [
        ("iris", 1e-3),
        ("iris", 1e-2),
        ("wine", 1e-3),
        ("wine", 1e-2),
    ]
    c = cli.build_parser(["train"]).parse_args(
        ["train", "--learning-rate", "0.5", "--batch-size", "full", "--no-standardize"]
    )
    (config,) = cli.configs_from_args(c)
    assert (config.learning_rate, config.batch_size, config.standardize) == (0.5, None, False)
    d = cli.build_parser(["sweep"]).parse_args(["sweep", "--losses", "all"])
    from lossesbox import LOSSES

    assert d.losses == list(LOSSES)


# ---------------------------------------------------------------- usage errors
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--loss", "nope"], "unknown loss 'nope'"),
        (["train", "--lam", "-1"], "--lam must be ≥ 0"),
        (["train", "--lam", "abc"], "--lam must be a number"),
        (["train", "--lr", "0"], "--lr must be > 0"),
        (["train", "--epochs", "0"], "--epochs must be ≥ 1"),
        (["train", "--solver", "newton"], "unknown solver 'newton'"),
        (["train", "--csv", "missing.csv"], "CSV file not found: missing.csv"),
        (["train", "--dataset", "bogus"], "unknown dataset 'bogus'"),
        (["train", "--loss", "mse,hinge"], "train takes one --loss"),
        (["train", "--test-size", "1.5"], "--test-size must be a fraction"),
        (["train", "--target", "y"], "--target needs --csv FILE"),
        (["train", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["sweep", "--backend", "spark"], "invalid choice: 'spark'"),
        (["sweep", "--jobs", "0"], "--jobs must not be 0"),
        (["sweep", "--seeds", "1,,2"], "empty item"),
        (["bogus"], "invalid choice: 'bogus'"),
    ],
)
def test_usage_errors_are_one_line_with_exit_status_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()  # nothing was logged


def test_bad_csv_content_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,label\n1,x,0\n2,y,1\n3,z,0\n4,w,1\n")
    code = cli.main(["train", "--csv", str(path), "--target", "label", "--categorical", "error"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "'b'" in err  # the non-numeric column is named


def test_usage_error_in_a_real_process_has_no_traceback(tmp_path):
    proc = _run("train", "--loss", "nope", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- train
def test_train_end_to_end_logs_a_run_and_prints_how_to_view_it(tmp_path):
    proc = _run(
        "train",
        "--dataset",
        "wine",
        "--loss",
        "exp_mse",
        "--solver",
        "adam",
        "--lr",
        "0.01",
        "--epochs",
        "40",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    run_id = re.search(r"MLflow run ([0-9a-f]{32}) \(FINISHED\) in experiment 'wine'", out)[1]
    accuracy = float(re.search(r"test_accuracy ([0-9.]+)", out)[1])
    assert "view it: mlflow ui --backend-store-uri " in out
    assert "epoch" in proc.stderr  # the progress bar
    run = _client().get_run(run_id)
    assert run.info.status == "FINISHED"
    p = run.data.params
    assert (p["loss"], p["solver"], p["learning_rate"], p["max_epochs"]) == (
        "exp_mse",
        "adam",
        "0.01",
        "40",
    )
    assert run.data.metrics["test_accuracy"] == pytest.approx(accuracy, abs=5e-4)
    history = _client().get_metric_history(run_id, "objective")
    assert len(history) == int(run.data.metrics["n_iter"]) + 1
    # The logged model predicts what a fresh fit predicts (same seed, same data).
    import mlflow

    from lossesbox.datasets import load_dataset
    from lossesbox.experiment import TrainConfig, build_pipeline

    config = TrainConfig(
        dataset="wine", loss="exp_mse", solver="adam", learning_rate=0.01, max_epochs=40
    )
    data = load_dataset("wine")
    X_train, X_test, y_train, _ = data.split(0.25, 0)
    expected = build_pipeline(config).fit(X_train, y_train).predict(X_test)
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    np.testing.assert_array_equal(model.predict(X_test), expected)


def test_train_diverging_exits_1_and_the_run_is_failed(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--loss", "exp_mse", "--solver", "gd", "--lr", "1e8", "--quiet"]
    code = cli.main(argv)
    out = capsys.readouterr().out
    assert code == 1
    assert "diverged" in out and "try a smaller --lr" in out
    run_id = re.search(r"MLflow run ([0-9a-f]{32}) \(FAILED\)", out)[1]
    run = _client().get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["stop_reason"].startswith("diverged: ")


def test_train_no_track_and_csv(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 2))
    frame = pd.DataFrame(X, columns=["u", "v"]).assign(kind=np.where(X[:, 0] > 0, "a", "b"))
    frame.to_csv(tmp_path / "points.csv", index=False)
    code = cli.main(
        ["train", "--csv", str(tmp_path / "points.csv"), "--target", "kind", "--no-track"]
    )
    out = capsys.readouterr().out
    assert code == 0
    # first what is done to the table, then the result
    assert out.startswith(
        "csv:points.csv: what is done to the table\n- target 'kind': chosen by you (--target)\n"
        "- 2 numeric column(s), standardized unless --no-standardize: 'u', 'v'\n"
        "csv:points.csv: cross_entropy, lbfgs"
    )
    assert "not tracked (--no-track)" in out
    assert not Path(os.environ["LOSSESBOX_ARTIFACT_ROOT"], "mlflow.db").exists()


def test_ui_runs_streamlit_on_localhost(capsys):
    assert cli.main(["ui", "--print-command", "--port", "8765"]) == 0
    out = capsys.readouterr().out.split()
    assert out[1:4] == ["-m", "streamlit", "run"]
    assert Path(out[4]) == ROOT / "dashboard.py"
    assert out[5:9] == ["--server.address", "127.0.0.1", "--server.port", "8765"]


# ---------------------------------------------------------------- interruption
def _default_sigint() -> None:
    """Runs in the child before exec: take Ctrl-C (SIGINT) the default way even when the
    test runner itself ignores it (a background job of a non-interactive shell does), so
    the child's Python turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_long_training(tmp_path) -> tuple[subprocess.Popen, str]:
    """A CLI training that runs for minutes; returns it once its run is RUNNING with metrics."""
    import time

    from lossesbox.tracking import list_runs

    argv = "train --dataset digits --solver gd --epochs 100000 --tol 0 --quiet".split()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lossesbox", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=tmp_path,
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        runs = list_runs("digits")
        if len(runs) and "metrics.objective" in runs and runs["metrics.objective"].notna().all():
            return proc, runs["run_id"].iloc[0]
        time.sleep(0.5)
    proc.kill()
    raise AssertionError("the training never showed up in MLflow")


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("signum", "code", "reason", "said"),
    [
        (2, 130, "interrupted (Ctrl-C)", "interrupted (the MLflow run is marked KILLED)"),
        (15, 143, "interrupted (SIGTERM)", "terminated by SIGTERM (the MLflow run is marked"),
    ],
)
def test_ctrl_c_or_kill_marks_the_cli_run_killed_and_keeps_its_metrics(
    tmp_path, signum, code, reason, said
):
    proc, run_id = _start_long_training(tmp_path)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err and said in err
    run = _client().get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["stop_reason"] == reason
    assert len(_client().get_metric_history(run_id, "objective")) >= 1


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_hard_killed_run_is_marked_killed_by_the_next_start(tmp_path):
    from lossesbox import tracking

    proc, run_id = _start_long_training(tmp_path)
    proc.kill()  # SIGKILL: no finally block runs, the run stays RUNNING
    proc.communicate(timeout=60)
    assert _client().get_run(run_id).info.status == "RUNNING"
    tracking._STALE_CHECKED.clear()
    with tracking.TrackedRun("later"):
        pass
    run = _client().get_run(run_id)
    assert run.info.status == "KILLED"
    assert f"process {proc.pid}" in run.data.tags["stop_reason"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--experiment", "   "], "--experiment must not be blank"),
        (["--experiment", "x" * 600], "--experiment must be at most 500 characters"),
        (["--seed", "1099511627776"], "--seed must be ≤ 4294967295"),
        (["--test-size", "0.99"], "choose another --test-size"),
    ],
)
def test_out_of_range_values_are_usage_errors_before_training(capsys, args, message):
    try:
        code = cli.main(["train", "--epochs", "2", *args])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "LOSSESBOX_DEBUG" not in err
    assert err.count("\n") == 1  # one line


def test_csv_of_a_directory_says_it_is_a_directory(capsys, tmp_path):
    assert cli.main(["train", "--csv", str(tmp_path), "--target", "y"]) == 2
    err = capsys.readouterr().err
    assert f"--csv {tmp_path} is a directory; give a CSV file" in err


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the point
def test_a_signal_swallowed_by_a_weakref_callback_still_stops_training(monkeypatch):
    """Python drops an exception raised inside a weakref callback ("Exception ignored"),
    and a signal handler can run there (SQLAlchemy registers such callbacks): a clean-clone
    run once trained on after SIGTERM until its 120 s timeout. The signal is remembered and
    raised again at the next epoch."""
    import gc
    import weakref

    from lossesbox import cli

    monkeypatch.setattr(cli, "_SIGNALLED", None)
    cli._raise_if_signalled()  # nothing received: no exception

    class Thing:
        pass

    def swallowing(ref):
        cli._on_signal(15, None)  # raises _Terminated: Python prints and drops it

    thing = Thing()
    ref = weakref.ref(thing, swallowing)
    del thing
    gc.collect()
    assert ref() is None and cli._SIGNALLED == 15
    with pytest.raises(cli._Terminated) as info:
        cli._raise_if_signalled()
    assert info.value.code == 143
    monkeypatch.setattr(cli, "_SIGNALLED", 2)
    with pytest.raises(KeyboardInterrupt):
        cli._raise_if_signalled()


@pytest.mark.parametrize(
    ("module", "runner", "argv", "signum", "code"),
    [
        (
            "lossesbox.study.run",
            "_run_task",
            ["study", "--datasets", "iris", "--losses", "mse,exp_mse,hinge", "--repeats", "2"],
            15,
            143,
        ),
        ("lossesbox.sweep", "run_point", ["sweep", "--losses", "mse,exp_mse,hinge"], 2, 130),
    ],
)
def test_a_study_or_sweep_stops_between_runs_after_a_swallowed_signal(
    monkeypatch, tmp_path, module, runner, argv, signum, code
):
    """A study and a sweep check the remembered signal after every run, as train does
    every epoch: with the signal received (and its exception dropped by a callback) they
    stop after the first run instead of running the whole grid (3 losses here, ×2 repeats
    plus reference fits for the study)."""
    import importlib

    from lossesbox import cli

    runs = importlib.import_module(module)  # the module (lossesbox.study.run is also a function)
    finished = []
    real = getattr(runs, runner)

    def run_then_signal(*args, **kwargs):
        out = real(*args, **kwargs)
        finished.append(out)
        cli._SIGNALLED = signum  # as _on_signal leaves it when its exception was dropped
        return out

    monkeypatch.setattr(runs, runner, run_then_signal)
    argv = [*argv, "--epochs", "5", "--no-track", "--quiet"]
    if argv[0] == "study":
        argv += ["--out", str(tmp_path / "r")]
    assert cli.main(argv) == code
    assert len(finished) == 1


def test_a_dropped_signal_exception_is_not_printed_as_a_traceback(monkeypatch):
    """While a command runs, Python's "Exception ignored ... Traceback" for the dropped
    signal exception is kept off stderr (the exception comes again at the next epoch);
    any other unraisable exception still reaches the previous hook."""
    import types

    from lossesbox import cli

    seen = []
    monkeypatch.setattr(cli, "_previous_unraisablehook", seen.append)
    monkeypatch.setattr(cli, "_SIGNALLED", 15)

    def unraisable(exc):
        return types.SimpleNamespace(exc_type=type(exc), exc_value=exc, exc_traceback=None)

    cli._quiet_unraisable(unraisable(cli._Terminated(143)))
    cli._quiet_unraisable(unraisable(KeyboardInterrupt()))
    assert seen == []
    other = unraisable(ValueError("x"))
    cli._quiet_unraisable(other)
    assert seen == [other]
    monkeypatch.setattr(cli, "_SIGNALLED", None)  # no signal received: printed as usual
    term = unraisable(cli._Terminated(143))
    cli._quiet_unraisable(term)
    assert seen == [other, term]
