"""The MLP from the command line: train logs the architecture and a model that works
through ``mlflow.pyfunc``; sweeps take several architectures; bad values exit 2."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from lossesbox import cli
from lossesbox.experiment import TrainConfig, parse_hidden


def _main(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return int(exc.code)


@pytest.mark.slow
def test_train_mlp_logs_its_architecture_and_a_pyfunc_model(capsys):
    argv = ["--dataset", "wine", "--model", "mlp", "--hidden", "16x8", "--activation", "tanh"]
    argv += ["--solver", "adam", "--lr", "0.01", "--epochs", "30", "--batch-size", "32"]
    assert _main(["train", "--quiet", *argv]) == 0
    out = capsys.readouterr().out
    assert "wine: mlp 16x8 tanh, cross_entropy, adam" in out
    run_id = re.search(r"MLflow run ([0-9a-f]{32}) \(FINISHED\)", out)[1]
    import mlflow

    run = mlflow.MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).get_run(run_id)
    p = run.data.params
    assert (p["model"], p["hidden"], p["activation"], p["n_hidden_layers"], p["init"]) == (
        "mlp",
        "16x8",
        "tanh",
        "2",
        "glorot",
    )
    assert "wrong_way_share.class_2" in run.data.metrics
    from lossesbox.datasets import load_dataset
    from lossesbox.experiment import build_pipeline

    config = TrainConfig(
        dataset="wine",
        model="mlp",
        hidden=(16, 8),
        activation="tanh",
        solver="adam",
        learning_rate=0.01,
        max_epochs=30,
        batch_size=32,
    )
    X_train, X_test, y_train, _ = load_dataset("wine").split(0.25, 0)
    expected = build_pipeline(config).fit(X_train, y_train).predict(X_test)
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    np.testing.assert_array_equal(model.predict(X_test), expected)
    assert run.data.metrics["test_accuracy"] > 0.85


def test_sweep_over_models_and_architectures(capsys):
    argv = ["sweep", "--dataset", "iris", "--models", "linear,mlp", "--hidden", "4,8x4"]
    argv += ["--solver", "adam", "--lr", "0.05", "--epochs", "20", "--no-track"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "mlp 4 relu" in out and "mlp 8x4 relu" in out and "linear" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--hidden", "10"], "add --model mlp"),
        (["--model", "mlp", "--hidden", "10x0"], "positive integers"),
        (["--model", "mlp", "--init", "zeros"], "identical"),
        (["--model", "cnn"], "unknown model"),
        (["--model", "mlp", "--activation", "sigmoid"], "unknown activation"),
    ],
)
def test_bad_mlp_options_are_one_line_usage_errors(argv, message, capsys):
    assert _main(["train", "--no-track", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_hidden_parsing():
    assert parse_hidden("100x100") == (100, 100) and parse_hidden("64") == (64,)
    assert parse_hidden("0") == () and parse_hidden([3, 2]) == (3, 2)
    with pytest.raises(ValueError, match="joined by 'x'"):
        parse_hidden("100,100")


@pytest.mark.slow
def test_study_grid_over_models_solvers_and_learning_rates(tmp_path):
    from lossesbox.study import StudyConfig, run_study

    config = StudyConfig(
        datasets=("iris",),
        models=("linear", "mlp"),
        hidden=("8",),
        losses=("exp_mse",),
        solvers=("adam", "sgd"),
        learning_rates=(0.1,),
        max_epochs=3,
        tol=0,
        repeats=2,
        init="random",
        validation_fraction=0.2,
        reference=False,
    )
    setups = list(config.setups())
    assert setups == [
        "linear adam lr=0.1",
        "linear sgd lr=0.1",
        "mlp8 adam lr=0.1",
        "mlp8 sgd lr=0.1",
    ]
    result = run_study(config, track=False, out=tmp_path / "report")
    assert result.summary.shape[0] == 4 and set(result.summary["setup"]) == set(setups)
    assert (result.summary["n_runs"] == 2).all()
    curves = result.curves
    assert curves["val_accuracy"].between(0, 1).all() and curves["epoch"].max() == 3
    runs = result.runs.set_index("setup")
    # the MLP starts from glorot, never zeros; the linear model from normal, measured at zeros too
    assert runs.loc["mlp8 adam lr=0.1", "wrong_way_init_zeros"].isna().all()
    assert runs.loc["linear adam lr=0.1", "wrong_way_init_zeros"].notna().all()
    command = config.command()
    assert "--models linear,mlp --hidden 8" in command and "--solver adam,sgd" in command
    assert "--lr 0.1" in command and "--validation-fraction 0.2" in command
    report = (tmp_path / "report" / "report.md").read_text()
    assert "mlp8 sgd lr=0.1" in report
    with pytest.raises(ValueError, match="identical"):
        StudyConfig(models=("mlp",), init="zeros")
