"""The loss study: grid, measurements, aggregation, MLflow nesting, report, CLI and page.

One tracked tiny study (2 datasets × 3 losses × 2 repeats) is shared by most tests; the
values it must produce come from the maths (sign claims), from scikit-learn (the reference
row at the same optimum) and from recomputing the aggregates by hand.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lossesbox import study
from lossesbox.diagnostics import gradient_signs
from lossesbox.study import REFERENCE, StudyConfig

TINY = StudyConfig(
    datasets=("iris", "breast_cancer"),
    losses=("mse", "exp_mse", "cross_entropy"),
    repeats=2,
    seed=3,
    max_epochs=150,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny study, tracked in its own temporary sqlite store."""
    root = tmp_path_factory.mktemp("study")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("LOSSESBOX_ARTIFACT_ROOT", str(root / "artifacts"))
        calls = []
        result = study.run_study(
            TINY,
            experiment="tiny-study",
            out=root / "report",
            progress=lambda done, total, row: calls.append((done, total, row["loss"])),
        )
        yield {"result": result, "uri": uri, "root": root, "progress": calls}


# ------------------------------------------------------------------ pure pieces


def test_epochs_to_fraction_hand_values():
    history = pd.DataFrame(
        {
            "epoch": [0, 1, 2, 3, 4],
            "train_accuracy": [0.3, 0.5, 0.9, 0.96, 1.0],
            "seconds": [0.0, 0.1, 0.2, 0.3, 0.4],
        }
    )
    assert study.epochs_to_fraction(history) == (3.0, 0.3)  # first ≥ 0.95 · 1.0
    assert study.epochs_to_fraction(history, 0.9) == (2.0, 0.2)
    # a non-finite last record: the last finite accuracy is the final one
    history.loc[5] = [5, np.nan, 0.5]
    assert study.epochs_to_fraction(history) == (3.0, 0.3)
    # never better than the initialization: epoch 0
    flat = pd.DataFrame({"epoch": [0, 1], "train_accuracy": [0.5, 0.5], "seconds": [0, 1]})
    assert study.epochs_to_fraction(flat) == (0.0, 0.0)
    nothing = study.epochs_to_fraction(pd.DataFrame({"epoch": [0], "train_accuracy": [np.nan]}))
    assert all(math.isnan(v) for v in nothing)


def test_aggregate_mean_std_and_failures_by_hand():
    runs = pd.DataFrame(
        {
            "dataset": ["d"] * 4,
            "lam": [1e-3] * 4,
            "loss": ["mse", "mse", "mse", "exp_mse"],
            "repeat": [0, 1, 2, 0],
            "status": ["converged", "diverged", "error", "max_epochs"],
            "test_accuracy": [0.9, 0.5, np.nan, 0.8],
            "wrong_way_final": [0.3, 0.4, np.nan, 0.0],
        }
    )
    summary = study.aggregate(runs)
    mse = summary.set_index("loss").loc["mse"]
    assert mse["n_runs"] == 3 and mse["n_failed"] == 2
    assert mse["statuses"] == "converged:1 diverged:1 error:1"
    # the failed-but-finite repeat is included, the NaN one is not
    assert mse["test_accuracy_mean"] == pytest.approx(0.7)
    assert mse["test_accuracy_std"] == pytest.approx(np.std([0.9, 0.5], ddof=1))
    one = summary.set_index("loss").loc["exp_mse"]
    assert one["n_failed"] == 0 and one["test_accuracy_mean"] == 0.8
    assert math.isnan(one["test_accuracy_std"])  # one repeat: no spread
    assert math.isnan(one["epochs_mean"])  # a metric missing from the runs


def test_config_validation_names_the_problem():
    with pytest.raises(ValueError, match=r"unknown loss.*'nope'.*valid: cross_entropy"):
        StudyConfig(losses=("nope",))
    with pytest.raises(ValueError, match=r"repeats must be an integer >= 1"):
        StudyConfig(repeats=0)
    with pytest.raises(ValueError, match="test_size"):
        StudyConfig(test_size=1.5)
    with pytest.raises(ValueError, match="reference row"):
        StudyConfig(losses=(REFERENCE,))
    with pytest.raises(ValueError, match="csv_path and target"):
        StudyConfig(datasets=("csv",))
    assert StudyConfig().losses == tuple(__import__("lossesbox").LOSSES)
    assert StudyConfig(datasets="iris, wine").datasets == ("iris", "wine")
    assert StudyConfig(seed=4, repeats=3).seeds() == [4, 5, 6]


def test_mse_wrong_way_share_at_init_zeros_is_exactly_zero_and_normal_is_not():
    """From W = 0 every score is 0: mse's wrong-class gradient (2/K)·s_j is exactly 0.
    From W ~ N(0, 0.01²), about half the wrong-class scores are negative: pushed up."""
    from sklearn.preprocessing import StandardScaler

    from lossesbox.datasets import load_dataset
    from lossesbox.estimator import LinearSoftmaxClassifier

    ds = load_dataset("wine")
    X = StandardScaler().fit_transform(ds.X)
    est = LinearSoftmaxClassifier(loss="mse", random_state=0)
    zeros = study._init_record(est, X, ds.y, "zeros")
    normal = study._init_record(est, X, ds.y, "normal")
    assert zeros["wrong_way_share"] == 0.0
    assert zeros["wrong_zero_share"] == 1.0
    assert all(zeros[f"wrong_way_share.class_{c}"] == 0.0 for c in range(3))
    assert 0.2 < normal["wrong_way_share"] < 0.8
    # independent check: the signs of (2/K)·s at the initial weights the estimator drew
    fitted = LinearSoftmaxClassifier(loss="mse", random_state=0, init="normal")
    fitted.set_params(callback=lambda record: False).fit(X, ds.y)
    S = fitted.scores(X)
    expected = gradient_signs(S, np.eye(3)[ds.y], "mse").wrong_way_share
    assert normal["wrong_way_share"] == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(np.mean(S[np.eye(3)[ds.y] == 0] < 0), abs=1e-12)


# ------------------------------------------------------------------ the tiny study


@pytest.mark.slow
def test_tiny_study_table_rows_and_columns(tiny):
    summary = tiny["result"].summary
    expected = [
        (d, loss)
        for d in ("iris", "breast_cancer")
        for loss in ("mse", "exp_mse", "cross_entropy", REFERENCE)
    ]
    assert list(zip(summary["dataset"], summary["loss"], strict=True)) == expected
    for metric in study.METRICS:
        assert f"{metric}_mean" in summary.columns and f"{metric}_std" in summary.columns
    assert (summary["n_runs"] == 2).all()
    assert (summary["n_failed"] == 0).all()
    assert (summary["lam"] == 1e-3).all()
    runs = tiny["result"].runs
    assert len(runs) == 2 * 4 * 2
    assert sorted(runs["seed"].unique()) == [3, 4]
    assert tiny["progress"][-1][:2] == (16, 16)
    assert [c[0] for c in tiny["progress"]] == list(range(1, 17))


@pytest.mark.slow
def test_tiny_study_means_and_stds_match_the_repeats(tiny):
    result = tiny["result"]
    for _, row in result.summary.iterrows():
        reps = result.runs[
            (result.runs["dataset"] == row["dataset"]) & (result.runs["loss"] == row["loss"])
        ]
        for metric in ("test_accuracy", "test_log_loss", "wrong_way_final", "epochs"):
            values = reps[metric].to_numpy(dtype=float)
            assert row[f"{metric}_mean"] == pytest.approx(values.mean(), rel=1e-12, abs=1e-15)
            assert row[f"{metric}_std"] == pytest.approx(values.std(ddof=1), rel=1e-9, abs=1e-15)


@pytest.mark.slow
def test_tiny_study_reference_row_matches_cross_entropy_optimum(tiny):
    """Same objective, same split: our cross_entropy and scikit-learn's LogisticRegression at
    C = 1/(λN) (iris, K=3) or 2/(λN) (breast_cancer, K=2) give the same predictions."""
    runs = tiny["result"].runs.set_index(["dataset", "loss", "repeat"])
    for dataset in ("iris", "breast_cancer"):
        for r in (0, 1):
            ours = runs.loc[(dataset, "cross_entropy", r)]
            ref = runs.loc[(dataset, REFERENCE, r)]
            assert ref["status"] == "converged"
            assert ours["test_accuracy"] == ref["test_accuracy"]
            assert ours["test_log_loss"] == pytest.approx(ref["test_log_loss"], rel=2e-3)
            assert ref["wrong_way_final"] == 0.0
            assert ours["test_accuracy_vs_reference"] == 0.0
            mse = runs.loc[(dataset, "mse", r)]
            assert mse["test_accuracy_vs_reference"] == mse["test_accuracy"] - ref["test_accuracy"]
    n_train = {"iris": 105, "breast_cancer": 398}
    for dataset, k_factor in (("iris", 1.0), ("breast_cancer", 2.0)):
        C = runs.loc[(dataset, REFERENCE, 0), "C"]
        assert C == pytest.approx(k_factor / (1e-3 * n_train[dataset]))


@pytest.mark.slow
def test_tiny_study_wrong_way_shares_follow_the_maths(tiny):
    runs = tiny["result"].runs
    by_loss = {loss: part for loss, part in runs.groupby("loss")}
    for loss in ("exp_mse", "cross_entropy"):
        part = by_loss[loss]
        for col in (
            "wrong_way_init_zeros",
            "wrong_way_init_normal",
            "wrong_way_max",
            "wrong_way_final",
        ):
            assert (part[col] == 0.0).all(), (loss, col)
    mse = by_loss["mse"]
    assert (mse["wrong_way_init_zeros"] == 0.0).all()  # all scores 0: gradient exactly 0
    assert (mse["wrong_way_init_normal"] > 0.1).all()
    assert (mse["wrong_way_final"] > 0.1).all()
    assert (mse["wrong_way_max"] >= mse["wrong_way_final"]).all()
    per_class = tiny["result"].per_class
    exp_rows = per_class[per_class["loss"] == "exp_mse"]
    assert len(exp_rows) == 2 * 3 * (3 + 2)  # repeats × stages × classes (iris 3 + bc 2)
    assert (exp_rows["wrong_way_share"] == 0.0).all()
    final_mse = per_class[(per_class["loss"] == "mse") & (per_class["stage"] == "final")]
    assert (final_mse["wrong_way_share"] > 0).any()
    # per-class shares weighted by class counts give the overall share (breast_cancer, K=2)
    history = tiny["result"].history
    assert {"epoch", "wrong_way_share", "wrong_way_share.class_0"} <= set(history.columns)
    curves = tiny["result"].curves
    assert curves.groupby(["dataset", "loss"])["epoch"].min().eq(0).all()


@pytest.mark.slow
def test_tiny_study_mlflow_parent_and_children(tiny):
    from lossesbox import tracking

    result = tiny["result"]
    runs = tracking.list_runs("tiny-study", tracking_uri=tiny["uri"])
    parent = runs[runs["run_id"] == result.run_id]
    assert len(parent) == 1 and parent["status"].iloc[0] == "FINISHED"
    assert parent["tags.lossesbox.kind"].iloc[0] == "study"
    children = runs[runs["parent_run_id"] == result.run_id]
    assert len(children) == 16 and len(runs) == 17
    assert set(children["run_id"]) == set(result.runs["run_id"])
    assert (children["status"] == "FINISHED").all()
    assert set(children["tags.loss"]) == {"mse", "exp_mse", "cross_entropy", REFERENCE}
    assert parent["metrics.iris/exp_mse/wrong_way_final_mean"].iloc[0] == 0.0
    # the report is the study run's artifact and reads back identically
    loaded = study.load_study(result.run_id, tracking_uri=tiny["uri"])
    pd.testing.assert_frame_equal(loaded.summary, pd.read_csv(result.files["summary"]))
    assert loaded.config == result.config
    assert (loaded.out_dir / "report.html").exists()
    listed = study.list_studies(tiny["uri"])
    assert list(listed["run_id"]) == [result.run_id]


@pytest.mark.slow
def test_tiny_study_report_files(tiny):
    result = tiny["result"]
    files = result.files
    for part in ("markdown", "html", "summary", "runs", "per_class", "history", "meta"):
        assert files[part].exists() and files[part].stat().st_size > 0, part
    md = files["markdown"].read_text()
    assert TINY.command() in md
    assert "| iris | exp_mse |" in md and f"| breast_cancer | {REFERENCE} |" in md
    assert "0/2" in md
    mse_line = next(line for line in md.splitlines() if line.startswith("| iris | mse |"))
    assert "| 0.000 (all exactly 0) |" in mse_line  # mse from W = 0: every gradient is 0
    exp_line = next(line for line in md.splitlines() if line.startswith("| iris | exp_mse |"))
    assert "(all exactly 0)" not in exp_line
    html = files["html"].read_text()
    assert html.count("vegaEmbed('#chart") >= 5
    assert "<table" in html
    try:
        import vl_convert  # noqa: F401
    except ImportError:
        pass
    else:  # self-contained: the Vega bundle is inline, charts also as SVG
        assert "cdn.jsdelivr" not in html and "<script src" not in html
        assert (result.out_dir / "charts" / "test_accuracy.svg").exists()
        assert "![Test accuracy](charts/test_accuracy.svg)" in md
    csv = pd.read_csv(files["summary"])
    assert list(csv["loss"]) == list(result.summary["loss"])
    assert np.allclose(csv["test_accuracy_mean"], result.summary["test_accuracy_mean"])
    meta = json.loads(files["meta"].read_text())
    assert meta["command"] == TINY.command() and meta["run_id"] == result.run_id
    assert study.load_report(result.out_dir).config == TINY


@pytest.mark.slow
def test_same_seed_gives_the_same_table(tiny, tmp_path):
    """Reproducibility: rerunning (untracked) gives identical numbers except wall time."""
    again = study.run_study(TINY, track=False, out=tmp_path / "again")
    assert again.run_id is None
    timing = [c for c in again.summary.columns if c.startswith(study.TIMING_COLUMNS)]
    pd.testing.assert_frame_equal(
        again.summary.drop(columns=timing), tiny["result"].summary.drop(columns=timing)
    )
    cols = ["test_accuracy", "test_log_loss", "wrong_way_final", "epochs", "epochs_to_95"]
    pd.testing.assert_frame_equal(again.runs[cols], tiny["result"].runs[cols])


def test_divergence_is_counted_not_hidden(tmp_path):
    """exp_mse with plain gradient descent and a huge step overflows (e^s = inf)."""
    config = StudyConfig(
        datasets=("iris",),
        losses=("exp_mse", "cross_entropy"),
        repeats=2,
        solver="gd",
        learning_rate=1e8,
        max_epochs=5,
        reference=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the study must not leak warnings
        result = study.run_study(config, track=False, out=tmp_path)
    summary = result.summary.set_index("loss")
    assert summary.loc["exp_mse", "n_failed"] == 2
    assert summary.loc["exp_mse", "statuses"] == "diverged:2"
    assert result.n_failed == int(summary["n_failed"].sum()) >= 2
    exp_runs = result.runs[result.runs["loss"] == "exp_mse"]
    assert exp_runs["stop_reason"].str.contains("Diverged").all()
    # the failed runs still have their (last finite) numbers in the table
    assert np.isfinite(exp_runs["test_accuracy"]).all()
    assert REFERENCE not in set(result.summary["loss"])
    md = result.files["markdown"].read_text()
    assert "| iris | exp_mse |" in md and "| 2/2 |" in md
    assert "exp_mse: 2 of 2 failed (first: Diverged" in md
    assert "cross_entropy: 2 of 2 reached the iteration cap" in md


def test_an_exception_in_a_run_is_counted(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr("lossesbox.experiment.run_experiment", boom)
    config = StudyConfig(datasets=("iris",), losses=("mse",), repeats=1, reference=False)
    result = study.run_study(config, track=False, out=tmp_path)
    row = result.runs.iloc[0]
    assert row["status"] == "error" and "simulated failure" in row["stop_reason"]
    assert result.summary["n_failed"].iloc[0] == 1


def test_history_is_a_study_setting_for_mini_batch_runs():
    assert StudyConfig().history == "exact"
    with pytest.raises(ValueError, match=r"history must be one of exact, running; got 'sometimes'"):
        StudyConfig(history="sometimes")
    config = StudyConfig(solvers=("lbfgs", "gd", "sgd", "adam"), history="running")
    assert [config.history_for(s) for s in config.solvers] == [
        "exact",
        "exact",
        "running",
        "running",
    ]
    full_batch = StudyConfig(solver="adam", batch_size=None, history="running")
    assert full_batch.history_for("adam") == "exact"  # its one pass per epoch is exact
    # the study file (study.json / MLflow params) keeps it; files from before it read as exact
    assert StudyConfig.from_dict(config.to_dict()) == config
    old = {k: v for k, v in config.to_dict().items() if k != "history"}
    assert StudyConfig.from_dict(old).history == "exact"
    assert "--history running" in config.command()
    assert "--history" not in StudyConfig().command()


@pytest.mark.slow
def test_study_history_running_logs_it_and_changes_only_the_records(tmp_path, capsys):
    """``--history running`` from the command line: every adam run records running
    statistics (run parameter, runs.csv), lbfgs stays exact; against the same study with
    exact history, epoch 0 is identical, later records differ, and the training is the
    same (identical final test numbers: the same parameters)."""
    from lossesbox import cli, tracking

    common = dict(
        datasets=("iris",),
        losses=("cross_entropy",),
        repeats=1,
        seed=0,
        learning_rates=(0.01,),
        batch_size=32,
        max_epochs=6,
        tol=0.0,
        reference=False,
    )
    argv = ["study", "--datasets", "iris", "--losses", "cross_entropy", "--repeats", "1"]
    argv += ["--solver", "lbfgs,adam", "--lr", "0.01", "--batch-size", "32", "--epochs", "6"]
    argv += ["--tol", "0", "--no-reference", "--history", "running", "--experiment", "hist"]
    assert cli.main([*argv, "--out", str(tmp_path / "running"), "--quiet"]) == 0
    assert "report:" in capsys.readouterr().out
    runs = pd.read_csv(tmp_path / "running" / "runs.csv").set_index("setup")
    assert dict(runs["history"]) == {"linear lbfgs": "exact", "linear adam lr=0.01": "running"}
    logged = tracking.list_runs("hist")
    parent = logged[logged["tags.lossesbox.kind"] == "study"].iloc[0]
    assert parent["params.history"] == "running"
    assert "--history running" in parent["params.command"]
    children = logged[logged["parent_run_id"] == parent["run_id"]].set_index("params.solver")
    assert children.loc["adam", "params.history"] == "running"
    assert children.loc["lbfgs", "params.history"] == "exact"
    meta = json.loads((tmp_path / "running" / "study.json").read_text())
    assert "--history running" in meta["command"]
    assert "history `running`" in (tmp_path / "running" / "report.md").read_text()

    exact = study.run_study(
        StudyConfig(solvers=("adam",), **common), track=False, out=tmp_path / "exact"
    )
    assert list(exact.runs["history"]) == ["exact"]
    adam = "linear adam lr=0.01"
    curves = pd.read_csv(tmp_path / "running" / "history.csv")
    running = curves[curves["setup"] == adam].set_index("epoch")
    exact_curves = exact.history.set_index("epoch")
    assert list(running.index) == list(exact_curves.index) == list(range(7))
    cols = ["objective", "train_accuracy", "wrong_way_share", "true_wrong_way_share"]
    pd.testing.assert_frame_equal(running.loc[[0], cols], exact_curves.loc[[0], cols])
    assert (running.loc[1:, "objective"] != exact_curves.loc[1:, "objective"]).all()
    # epoch 1's running objective averages batches from W = 0 on: above the exact one
    assert running.loc[1, "objective"] > exact_curves.loc[1, "objective"]
    same = ["test_accuracy", "test_log_loss", "epochs", "status"]
    assert runs.loc[adam, same].tolist() == exact.runs.iloc[0][same].tolist()


# ------------------------------------------------------------------ command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lossesbox")
    study.add_parser(parser.add_subparsers(dest="command"))
    return parser


def test_cli_registers_study_table_driven(capsys):
    from lossesbox import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["study", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--datasets", "--losses", "--lam", "--repeats", "--out", "--no-track", "--jobs"):
        assert option in text
    assert "--history {exact,running}" in text and "lagging by up to one epoch" in text


def test_cli_usage_errors_exit_2_with_one_line(capsys):
    from lossesbox import cli

    assert cli.main(["study", "--losses", "mse,nope", "--no-track"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown loss(es) 'nope'" in err
    assert cli.main(["study", "--datasets", "iris,nowhere", "--no-track"]) == 2
    assert "unknown dataset(s) 'nowhere'" in capsys.readouterr().err
    assert cli.main(["study", "--lam", "x"]) == 2
    assert "--lam must be a comma list of numbers" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # argparse's choices, as train's --history
        cli.main(["study", "--history", "sometimes"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--history" in err and "'exact', 'running'" in err


def test_cli_defaults_are_the_documented_study():
    args = _parser().parse_args(["study"])
    config = study.config_from_args(args)
    assert config == StudyConfig()
    assert config.datasets == ("iris", "wine", "breast_cancer", "digits")
    assert config.solver == "lbfgs" and config.max_epochs == 500 and config.repeats == 5
    assert args.track and args.jobs == 1 and args.out is None
    spelled = _parser().parse_args(
        ["study", "--dataset", "iris", "--loss", "mse,hinge", "--lams", "1e-2,1e-3"]
    )
    config = study.config_from_args(spelled)
    assert config.losses == ("mse", "hinge") and config.lams == (1e-2, 1e-3)
    # the command written into the report parses back to the same study
    tokens = config.command().split()[4:]
    assert study.config_from_args(_parser().parse_args(["study", *tokens])) == config


def test_cli_bad_values_raise_value_errors():
    with pytest.raises(ValueError, match="--lam must be a comma list of numbers"):
        study.config_from_args(_parser().parse_args(["study", "--lam", "abc"]))
    with pytest.raises(ValueError, match="unknown loss"):
        study.config_from_args(_parser().parse_args(["study", "--losses", "mse,foo"]))


def test_cli_run_untracked(tmp_path, capsys):
    out = tmp_path / "rep"
    args = _parser().parse_args(
        [
            "study",
            "--datasets", "iris",
            "--losses", "mse,exp_mse",
            "--repeats", "2",
            "--epochs", "20",
            "--no-track",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert args._run is study.run
    assert study.run(args) == 0
    printed = capsys.readouterr().out
    assert "| iris | mse |" in printed and f"| iris | {REFERENCE} |" in printed
    assert str(out / "report.md") in printed
    assert (out / "results.csv").exists()


@pytest.mark.slow
def test_parallel_jobs_give_the_same_numbers(tmp_path):
    config = StudyConfig(datasets=("iris",), losses=("mse", "exp_mse"), repeats=2, max_epochs=40)
    serial = study.run_study(config, track=False, out=tmp_path / "a")
    parallel = study.run_study(config, track=False, out=tmp_path / "b", jobs=2)
    cols = ["dataset", "loss", "repeat", "test_accuracy", "wrong_way_final", "epochs"]
    pd.testing.assert_frame_equal(serial.runs[cols], parallel.runs[cols])


# ------------------------------------------------------------------ dashboard page


PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "5_Study.py")


def _page():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(PAGE, default_timeout=180)


def test_study_page_with_an_empty_store_says_how_to_start():
    at = _page().run()
    assert not at.exception
    assert any("No study in the MLflow store yet" in i.value for i in at.info)
    assert [b.label for b in at.get("form_submit_button")] == ["Run study"]
    assert not at.dataframe  # nothing to show yet


@pytest.mark.slow
def test_study_page_shows_a_finished_study(tiny, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tiny["uri"])
    at = _page().run()
    assert not at.exception, at.exception
    result = tiny["result"]
    assert at.selectbox(key="st_study").value == result.run_id
    table = at.dataframe[0].value
    assert list(table["loss"]) == list(result.summary["loss"])
    assert table.loc[table["loss"] == "exp_mse", "wrong-way, end"].eq("0.000 ± 0.000").all()
    assert [m.label for m in at.metric][:2] == ["Training runs", "Failed (diverged or error)"]
    assert at.metric[0].value == "12" and at.metric[1].value == "0"
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(specs) >= 5
    assert "sklearn_logreg" in json.dumps(specs[0])
    assert TINY.command() in at.code[0].value


@pytest.mark.slow
def test_study_page_launches_a_small_study():
    from lossesbox import tracking

    at = _page().run()
    at.multiselect(key="st_datasets").set_value(["iris"])
    at.multiselect(key="st_losses").set_value(["mse", "exp_mse"])
    at.number_input(key="st_repeats").set_value(1)
    at.number_input(key="st_epochs").set_value(20)
    at.get("form_submit_button")[0].click()
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("finished" in s.value for s in at.success)
    studies = study.list_studies()
    assert len(studies) == 1 and studies["status"].iloc[0] == "FINISHED"
    children = tracking.list_runs(parent_run_id=studies["run_id"].iloc[0])
    assert len(children) == 3  # mse, exp_mse and the reference, one repeat
    assert at.selectbox(key="st_study").value == studies["run_id"].iloc[0]
    table = at.dataframe[0].value
    assert list(table["loss"]) == ["mse", "exp_mse", REFERENCE]


def test_table_defaults_match_load_csv_and_the_cli():
    """``StudyConfig.command`` leaves out table options at their defaults: the literal
    copy must agree with ``lossesbox.data.preprocessing`` and the command line."""
    import argparse

    from lossesbox.cli import add_table_arguments
    from lossesbox.data.preprocessing import CATEGORICAL, DEFAULT_MAX_CATEGORIES, IMPUTE
    from lossesbox.study.config import TABLE_DEFAULTS

    assert TABLE_DEFAULTS == {
        "impute": IMPUTE[0],
        "categorical": CATEGORICAL[0],
        "max_categories": DEFAULT_MAX_CATEGORIES,
    }
    parser = argparse.ArgumentParser()
    add_table_arguments(parser.add_argument_group("table"))
    parsed = vars(parser.parse_args([]))
    assert {k: parsed[k] for k in TABLE_DEFAULTS} == TABLE_DEFAULTS
