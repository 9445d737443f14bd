"""Every dashboard page driven with Streamlit's AppTest: runs, widgets, results shown.

conftest's autouse fixture points MLflow at a temporary sqlite store, so runs logged by
the pages land there (and are checked there).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lossesbox import LOSSES

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30  # seconds per script run (AppTest's default of 3 s is too tight when shared)


def app(path: str) -> AppTest:
    return AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT)


def charts(at: AppTest) -> list[dict]:
    """Vega-Lite specs of the Altair charts on the page."""
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def chart_data(at: AppTest, title_part: str):
    """The data frame of the first chart whose title contains ``title_part``."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    for c in at.get("vega_lite_chart"):
        if title_part in str(json.loads(c.proto.spec).get("title")):
            frames = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in c.proto.datasets]
            return pd.concat(frames, ignore_index=True)
    raise AssertionError(f"no chart titled like {title_part!r}")


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r}; have {[m.label for m in at.metric]}")


# --------------------------------------------------------------------------- home
def test_home_shows_every_loss_formula_and_links():
    at = app("dashboard.py").run()
    no_errors(at)
    assert at.title[0].value == "lossesbox"
    latex = [el.value.strip("$\n") for el in at.latex]
    for loss in LOSSES.values():
        assert loss.formula in latex
        assert loss.gradient_formula in latex
    assert any(r"\frac{\lambda}{2}" in x for x in latex)  # the objective
    pages = [link.proto.page for link in at.get("page_link")]
    assert pages == ["Train", "Gradient_signs", "Compare_runs", "Theory", "Study"]
    icons = [link.proto.icon for link in at.get("page_link")]
    assert all(i.startswith(":material/") for i in icons), icons  # no emoji font needed
    assert any("mlflow ui" in c.value for c in at.code)


# --------------------------------------------------------------------------- theory
def test_theory_checks_update_with_user_numbers():
    at = app("pages/4_Theory.py").run()
    no_errors(at)
    assert float(metric(at, "H(P) + KL")) == pytest.approx(float(metric(at, "H(P,Q)")))
    at.text_input(key="th_p").set_value("0, 1, 0")
    at.text_input(key="th_q").set_value("0.2, 0.5, 0.3").run()
    no_errors(at)
    assert float(metric(at, "H(P)")) == 0.0
    assert float(metric(at, "KL(P‖Q)")) == pytest.approx(-np.log(0.5), abs=1e-6)
    assert float(metric(at, "H(P,Q)")) == pytest.approx(-np.log(0.5), abs=1e-6)
    # the objective check: J_sum with λ_sum = N·λ equals N·J
    n_times_j = next(m.value for m in at.metric if m.label == "N·J")
    j_sum = next(m.value for m in at.metric if m.label.startswith("J_sum"))
    assert n_times_j == j_sum
    assert float(metric(at, "max |∇W − finite diff.|")) < 1e-6


def test_theory_bad_input_is_an_error_message_not_a_traceback():
    at = app("pages/4_Theory.py").run()
    at.text_input(key="th_p").set_value("0.5, banana").run()
    assert not at.exception
    assert any("banana" in e.value for e in at.error)
    at.text_input(key="th_p").set_value("0.5, 0.6, 0.2").run()
    assert not at.exception
    assert any("sums to" in e.value for e in at.error)
    assert not any("np.float64" in e.value for e in at.error)  # a number, not a repr
    at.checkbox(key="th_norm").check().run()
    no_errors(at)


# --------------------------------------------------------------------------- gradient signs
def test_gradient_signs_explorer_preloaded_with_the_seed_example():
    at = app("pages/2_Gradient_signs.py").run()
    no_errors(at)
    table = at.dataframe[0].value
    ce = table.loc["cross_entropy"]
    np.testing.assert_allclose(
        [ce[f"∂L/∂s{c}"] for c in range(5)], [0.1, 0.2, 0.1, -0.6, 0.2], atol=1e-9
    )
    assert (table.loc["mse", [f"∂L/∂s{c}" for c in (0, 1, 2, 4)]] < 0).all()
    assert (table.loc["exp_mse", [f"∂L/∂s{c}" for c in (0, 1, 2, 4)]] > 0).all()
    specs = charts(at)
    assert len(specs) == 3  # the sign grid and two landscapes
    captions = [c.value for c in at.caption]
    assert any("pushed up on" in c for c in captions)  # mse: the s_0 < 0 half
    assert any("No wrong-class score" in c for c in captions)  # exp_mse: never


def test_gradient_signs_explorer_widgets_and_bad_input():
    at = app("pages/2_Gradient_signs.py").run()
    at.radio(key="gs_mode").set_value("scores s")
    at.text_input(key="gs_vec").set_value("1, -2, 0.5").run()
    no_errors(at)
    at.selectbox(key="gs_true").set_value(0).run()
    table = at.dataframe[0].value
    # mse gradient (2/K)(s - y) with y = e_0
    np.testing.assert_allclose(
        table.loc["mse", ["∂L/∂s0", "∂L/∂s1", "∂L/∂s2"]], np.array([0, -2, 0.5]) * 2 / 3
    )
    at.toggle(key="gs_use_sliders").set_value(True).run()
    no_errors(at)
    at.text_input(key="gs_vec").set_value("1, two").run()
    assert not at.exception
    assert any("'two' is not a number" in e.value for e in at.error)


# --------------------------------------------------------------------------- train
def finish_training(at: AppTest, timeout: float = 300) -> None:
    """Wait for the background training job, then rerun the page as the live fragment's
    final ``st.rerun()`` would (AppTest does not fire ``run_every`` timers)."""
    job = at.session_state["train_job"]
    assert job.wait(timeout), "training did not finish"
    at.run(timeout=TIMEOUT)


def _runs():
    from lossesbox.tracking import list_runs

    return list_runs()


def test_train_page_trains_iris_live_and_logs_the_run():
    at = app("pages/1_Train.py").run()
    no_errors(at)
    assert at.selectbox(key="tr_dataset").value == "iris"
    at.selectbox(key="tr_solver").set_value("gd").run()
    at.select_slider(key="tr_lr").set_value(1.0)
    at.number_input(key="tr_epochs").set_value(15)
    at.button(key="tr_train").click().run()
    no_errors(at)
    assert at.button(key="tr_stop").disabled is False  # live: Stop is clickable
    finish_training(at)
    no_errors(at)
    assert at.button(key="tr_stop").disabled
    assert float(metric(at, "Test accuracy")) > 0.7
    assert metric(at, "Epochs") == "15"
    specs = charts(at)
    titles = [str(s.get("title")) for s in specs]
    assert any("Objective" in t for t in titles)
    assert any("Accuracy" in t for t in titles)
    assert any("Confusion" in t for t in titles)
    # live curves were drawn from the history: epochs 0..15
    result = at.session_state["last_result"]
    assert list(result.history["epoch"]) == list(range(16))
    runs = _runs()
    assert len(runs) == 1
    run = runs.iloc[0]
    assert run["run_id"] == result.run_id
    assert run["status"] == "FINISHED"
    assert run["params.loss"] == "cross_entropy"
    assert any(result.run_id in m.value and "#/experiments/" in m.value for m in at.markdown)


def test_train_page_mini_batch_history_control():
    """The history control is enabled only for sgd/adam; choosing running trains with it
    and logs the run parameter history=running (epoch 0 is exact either way)."""
    at = app("pages/1_Train.py").run()
    no_errors(at)
    control = at.radio(key="tr_history")
    assert control.options == ["exact", "running"] and control.value == "exact"
    assert control.disabled  # lbfgs, the default solver
    assert "lags the exact values by up to one epoch" in control.help
    assert "no extra full pass per epoch" in control.help
    for solver, disabled in (("gd", True), ("momentum", True), ("sgd", False), ("adam", False)):
        at.selectbox(key="tr_solver").set_value(solver).run()
        assert at.radio(key="tr_history").disabled is disabled, solver
    at.radio(key="tr_history").set_value("running")
    at.select_slider(key="tr_lr").set_value(0.01)
    at.number_input(key="tr_batch").set_value(16)
    at.number_input(key="tr_epochs").set_value(5)
    at.button(key="tr_train").click().run()
    finish_training(at)
    no_errors(at)
    result = at.session_state["last_result"]
    assert result.config.history == "running" and result.config.solver == "adam"
    run = _runs().set_index("run_id").loc[result.run_id]
    assert run["params.history"] == "running" and run["params.solver"] == "adam"
    # a full-batch solver ignores the (kept) choice: its run is exact and says so
    at.selectbox(key="tr_solver").set_value("gd").run()
    assert at.radio(key="tr_history").value == "running"
    at.button(key="tr_train").click().run()
    finish_training(at)
    no_errors(at)
    result = at.session_state["last_result"]
    assert result.config.history == "exact"
    assert _runs().set_index("run_id").loc[result.run_id, "params.history"] == "exact"


def test_train_page_stop_button_stops_and_the_run_is_still_logged():
    from lossesbox.app.live import TrainingJob
    from lossesbox.experiment import TrainConfig

    at = app("pages/1_Train.py").run()
    config = TrainConfig(dataset="digits", solver="gd", max_epochs=100_000, tol=0.0)
    job = TrainingJob(config, track=True).start()
    deadline = time.time() + 120
    while job.n_records < 3 and not job.done and time.time() < deadline:
        time.sleep(0.05)
    assert not job.done
    at.session_state["train_job"] = job  # as if Train had been clicked
    at.run()
    no_errors(at)
    (progress,) = at.get("progress")  # the live view: progress bar and curves
    assert progress.text.startswith("Epoch ") and "/100000" in progress.text
    assert len(charts(at)) == 2
    at.button(key="tr_stop").click().run()
    assert job.stop_requested
    finish_training(at)
    no_errors(at)
    assert job.done
    result = at.session_state["last_result"]
    assert result.status == "stopped"
    assert len(result.history) < 100_000
    assert any("Stopped by you" in i.value for i in at.info)
    run = _runs().set_index("run_id").loc[result.run_id]
    assert run["status"] == "FINISHED"
    assert run["tags.stop_reason"] == "user"


def test_train_page_divergence_is_explained():
    at = app("pages/1_Train.py").run()
    at.checkbox(key="tr_track").uncheck()
    at.selectbox(key="tr_loss").set_value("mse")
    at.selectbox(key="tr_solver").set_value("gd").run()
    at.select_slider(key="tr_lr").set_value(1000.0)
    at.number_input(key="tr_epochs").set_value(50)
    at.button(key="tr_train").click().run()
    finish_training(at)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("diverged" in e and "smaller learning rate" in e for e in errors), errors
    assert any("not logged" in c.value.lower() or "Not logged" in c.value for c in at.caption)


def test_train_page_two_feature_data_shows_decision_regions():
    at = app("pages/1_Train.py").run()
    at.selectbox(key="tr_dataset").set_value("moons").run()
    at.number_input(key="tr_opt_moons_n_samples").set_value(120)
    at.checkbox(key="tr_track").uncheck()
    at.button(key="tr_train").click().run()
    finish_training(at)
    no_errors(at)
    regions = chart_data(at, "Decision regions")
    result = at.session_state["last_result"]
    assert result.dataset.n_samples == 120
    # the grid's predictions are the model's, and every data point is drawn on top
    assert set(regions["predicted"].dropna()) <= set(result.dataset.class_names)
    assert regions["split"].notna().sum() == 120
    # the replay: the slider's epoch redraws the regions from that epoch's parameters
    last = int(result.history["epoch"].iloc[-1])
    assert at.slider(key="tr_replay").value == last
    at.slider(key="tr_replay").set_value(0).run()
    no_errors(at)
    start = chart_data(at, "Decision regions at epoch 0 (replay)")
    assert start["predicted"].dropna().nunique() == 1  # zero weights: one class everywhere
    assert any(s.get("layer") and "heatmap" not in str(s) for s in charts(at))


GOOD_CSV = b"x0,x1,label\n" + b"".join(
    f"{i % 7 * 0.3:.2f},{(i * 13) % 5 - 2.0:.2f},{'ab'[i % 2]}\n".encode() for i in range(40)
)


def test_train_page_csv_upload_preview_target_and_bad_files():
    at = app("pages/1_Train.py").run()
    at.radio(key="tr_source").set_value("Upload a CSV").run()
    no_errors(at)
    assert any("Upload a CSV" in i.value for i in at.info)
    at.file_uploader(key="tr_upload").set_value(("points.csv", GOOD_CSV, "text/csv")).run()
    no_errors(at)
    preview = at.dataframe[0].value
    assert list(preview.columns) == ["x0", "x1", "label"]
    assert at.selectbox(key="tr_target_points.csv").value == "label"
    assert any("40 samples × 2 features, 2 classes" in m.value for m in at.markdown)
    # bad files: an error naming the problem, never a traceback
    for name, content, words in [
        ("one_class.csv", b"a,b,label\n1,2,x\n3,4,x\n5,6,x\n", "class"),
        ("inf.csv", b"a,b,label\n1,inf,x\n3,4,y\n5,6,x\n6,7,y\n", "infinite"),
        ("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "PNG"),
    ]:
        at.file_uploader(key="tr_upload").set_value((name, content, "text/csv")).run()
        assert not at.exception, name
        errors = " ".join(e.value for e in at.error)
        assert words.lower() in errors.lower(), (name, errors)
        assert at.button(key="tr_train").disabled


def test_an_uploaded_csv_trains_from_memory_and_logs_its_file_name(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # any file written lands here
    at = app("pages/1_Train.py").run()
    at.radio(key="tr_source").set_value("Upload a CSV").run()
    at.file_uploader(key="tr_upload").set_value(("my points.csv", GOOD_CSV, "text/csv")).run()
    at.button(key="tr_train").click().run()
    finish_training(at)
    no_errors(at)
    result = at.session_state["last_result"]
    assert result.dataset.n_samples == 40 and result.dataset.class_names == ["a", "b"]
    run = _runs().set_index("run_id").loc[result.run_id]
    assert run["params.dataset"] == "csv:my points.csv"
    assert run["params.dataset.file"] == "my points.csv"
    assert run["params.dataset.target"] == "label"
    assert not any(p.name == "lossesbox-uploads" for p in tmp_path.iterdir())
    assert [h.value for h in at.main.header] == ["Result"]
    # a file that cannot be read: its error shows, not the previous file's result under it
    bad = b"a,b,label\n1,2,x\n3,4,x\n"
    at.file_uploader(key="tr_upload").set_value(("one class.csv", bad, "text/csv")).run()
    assert any("class" in e.value for e in at.error)
    assert [h.value for h in at.main.header] == [] and not at.metric


def test_widget_state_survives_page_switches():
    at = app("dashboard.py").run()
    at.switch_page("pages/1_Train.py").run()
    at.selectbox(key="tr_loss").set_value("exp_mse")
    at.select_slider(key="tr_lam").set_value(0.01).run()
    at.switch_page("pages/4_Theory.py").run()
    no_errors(at)
    at.switch_page("pages/1_Train.py").run()
    assert at.selectbox(key="tr_loss").value == "exp_mse"
    assert at.select_slider(key="tr_lam").value == 0.01


# --------------------------------------------------------------------------- logged runs
@pytest.fixture(scope="module")
def logged_store(tmp_path_factory):
    """One store with a few wine runs for the pages that read MLflow: mse and exp_mse at
    two λ, and mse at λ = 1e-3 with two seeds; exp_mse at λ = 0.1 has no validation
    split. Built once per module (a new sqlite store costs seconds)."""
    from lossesbox.experiment import TrainConfig, run_experiment

    root = tmp_path_factory.mktemp("logged")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    mp.setenv("LOSSESBOX_ARTIFACT_ROOT", str(root))
    ids = {}
    try:
        for loss, lam, seed in [
            ("mse", 1e-3, 0),
            ("mse", 1e-3, 1),
            ("exp_mse", 1e-3, 0),
            ("mse", 1e-1, 0),
            ("exp_mse", 1e-1, 0),
        ]:
            config = TrainConfig(
                dataset="wine",
                loss=loss,
                lam=lam,
                seed=seed,
                solver="gd",
                learning_rate=0.1,
                max_epochs=12,
                tol=0.0,
                init="normal",
                # one run without a validation split: the λ sweep must still show it
                validation_fraction=0.0 if (loss, lam) == ("exp_mse", 1e-1) else 0.2,
            )
            result = run_experiment(config)
            assert result.run_id and result.tracking_error is None
            ids[(loss, lam, seed)] = result.run_id
    finally:
        mp.undo()
    return uri, str(root), ids


@pytest.fixture
def use_logged_store(logged_store, monkeypatch):
    uri, root, ids = logged_store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("LOSSESBOX_ARTIFACT_ROOT", root)
    return ids


def test_compare_page_with_an_empty_store_explains_how_to_create_runs():
    at = app("pages/3_Compare_runs.py").run()
    no_errors(at)
    assert any("No runs yet" in i.value for i in at.info)
    assert any("python -m lossesbox sweep" in c.value for c in at.code)


@pytest.mark.parametrize("page", ["pages/3_Compare_runs.py", "pages/5_Study.py"])
def test_reading_pages_with_an_unreachable_server_say_runs_cannot_be_read(page, monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    at = app(page).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert f"127.0.0.1:{port} is unreachable" in errors and "runs cannot be read" in errors
    assert "--no-track" not in errors and "Traceback" not in errors


def test_compare_page_filters_selects_and_compares(use_logged_store):
    ids = use_logged_store
    at = app("pages/3_Compare_runs.py").run()
    no_errors(at)
    table = at.dataframe[0].value
    assert len(table) == 5
    at.multiselect(key="cr_f_loss").set_value(["mse"]).run()
    assert len(at.dataframe[0].value) == 3
    at.multiselect(key="cr_f_loss").set_value([]).run()

    a, b = ids[("mse", 1e-3, 0)], ids[("exp_mse", 1e-3, 0)]
    at.multiselect(key="cr_selected").set_value([a, b]).run()
    no_errors(at)
    # only the differing parameter is listed, unless asked for all
    params = at.dataframe[1].value
    assert list(params.index) == ["loss"]
    at.toggle(key="cr_allparams").set_value(True).run()
    assert {"lam", "solver", "seed", "loss"} <= set(at.dataframe[1].value.index)
    # best value and epoch next to the last value, values at a chosen epoch
    at.number_input(key="cr_at_epoch").set_value(5).run()
    summary = at.dataframe[2].value
    assert {"last", "best", "best epoch", "at epoch 5"} <= set(summary.columns)
    obj = summary[summary["metric"] == "objective"]
    assert len(obj) == 2
    assert (obj["best"] <= obj["last"] + 1e-12).all()
    specs = charts(at)
    titles = " ".join(str(s.get("title")) for s in specs)
    # the λ-sweep view plots the metric every run has, not val_accuracy (one run lacks it)
    assert "final test_accuracy" in titles and "‖W‖_F" in titles
    sweep = chart_data(at, "final test_accuracy")  # the mean lines and one point per run
    assert ((sweep["group"] == "exp_mse") & (sweep["lam"] == 0.1)).sum() == 2
    assert at.selectbox(key="cr_metric").value == "objective"  # the default overlay metric
    overlay = [s for s in specs if s.get("encoding", {}).get("color", {}).get("field") == "run"]
    assert overlay or any("layer" in s for s in specs)
    # spread over seeds: the two mse λ=1e-3 runs differ only by seed
    at.multiselect(key="cr_selected").set_value(
        [ids[("mse", 1e-3, 0)], ids[("mse", 1e-3, 1)]]
    ).run()
    no_errors(at)
    assert any("spread over seeds" in str(s.get("title")) for s in charts(at))


def test_gradient_signs_page_loads_a_logged_run(use_logged_store):
    ids = use_logged_store
    at = app("pages/2_Gradient_signs.py").run()
    at.radio(key="gs_source").set_value("A run logged in MLflow").run()
    no_errors(at)
    at.selectbox(key="gs_run").set_value(ids[("mse", 1e-3, 0)]).run()
    no_errors(at)
    heat = chart_data(at, "pushing the score up (wrong way)")
    assert set(heat["epoch"]) == set(range(13))
    assert set(heat["class"]) == {"class_0", "class_1", "class_2"}  # from class_counts
    from lossesbox.tracking import get_history_frame

    history = get_history_frame(ids[("mse", 1e-3, 0)])
    cell = heat[(heat["epoch"] == 4) & (heat["class"] == "class_1")]["share"].item()
    assert cell == pytest.approx(
        history.loc[history["epoch"] == 4, "wrong_way_share.class_1"].item()
    )
    at.segmented_control(key="gs_mlflow_kind").set_value("true_wrong_way_share").run()
    no_errors(at)


def test_gradient_signs_page_last_model_and_side_by_side():
    from lossesbox.experiment import TrainConfig, run_experiment

    result = run_experiment(
        TrainConfig(dataset="iris", loss="mse", solver="gd", max_epochs=8, init="normal"),
        track=False,
    )
    at = app("pages/2_Gradient_signs.py")
    at.session_state["last_result"] = result
    at.run()
    no_errors(at)
    assert any("`mse` on **iris**" in m.value for m in at.markdown)
    table = at.dataframe[0].value  # last-epoch shares per class, by class name
    assert list(table.index) == ["setosa", "versicolor", "virginica"]
    last = result.history.iloc[-1]
    assert table.iloc[0, 0] == pytest.approx(last["wrong_way_share.class_0"])

    at.selectbox(key="gs_p_data").set_value("iris")
    at.number_input(key="gs_p_epochs").set_value(10)
    at.checkbox(key="gs_p_track").uncheck()
    at.button(key="gs_p_train").click().run(timeout=120)
    no_errors(at)
    pair = at.session_state["gs_pair"]
    assert [r.config.loss for r in pair] == ["mse", "exp_mse"]
    by_loss = {r.config.loss: r.history["wrong_way_share"].to_numpy() for r in pair}
    assert (by_loss["exp_mse"] == 0).all()  # the seed's claim, epoch by epoch
    assert by_loss["mse"].max() > 0
    shown = {m.label: m.value for m in at.metric if m.label == "wrong way (last epoch)"}
    assert shown


def test_two_losses_side_by_side_on_an_mlp():
    """The side-by-side tab trains an MLP too: both losses from the same initial weights,
    the signs at the output scores (exp_mse never pushes a wrong class up there either),
    and a bad hidden-size text is a friendly error, not a traceback."""
    at = app("pages/2_Gradient_signs.py")
    at.run()
    at.selectbox(key="gs_p_data").set_value("iris")
    at.radio(key="gs_p_model").set_value("mlp").run()
    assert at.selectbox(key="gs_p_init_mlp").options == ["glorot", "normal"]
    at.text_input(key="gs_p_hidden").set_value("abc")
    at.checkbox(key="gs_p_track").uncheck()
    at.button(key="gs_p_train").click().run(timeout=120)
    assert any("hidden sizes must be positive integers" in e.value for e in at.error)
    assert "gs_pair" not in at.session_state

    at.text_input(key="gs_p_hidden").set_value("16")
    at.number_input(key="gs_p_epochs").set_value(10)
    at.button(key="gs_p_train").click().run(timeout=120)
    no_errors(at)
    pair = at.session_state["gs_pair"]
    assert [(r.config.model, r.config.hidden, r.config.loss) for r in pair] == [
        ("mlp", (16,), "mse"),
        ("mlp", (16,), "exp_mse"),
    ]
    first = [r.history.iloc[0] for r in pair]
    assert first[0]["train_accuracy"] == first[1]["train_accuracy"]  # same start
    by_loss = {r.config.loss: r.history["wrong_way_share"].to_numpy() for r in pair}
    assert (by_loss["exp_mse"] == 0).all() and by_loss["mse"].max() > 0
    assert any("MLP 16 relu · 10 epochs" in c.value for c in at.caption)


def test_compare_runs_shows_spooled_runs_and_sync_delivers_them(monkeypatch):
    """A run kept in the local spool (its store was down) is listed; Sync delivers it."""
    from lossesbox import tracking

    def down(*args, **kwargs):
        raise RuntimeError("the store is down")

    run = tracking.TrackedRun("spooled", run_name="kept-run", params={"lam": 0.1})
    with monkeypatch.context() as m:
        m.setattr(tracking._run, "_sqlite_path", lambda uri: None)  # behave as for a server
        m.setattr(tracking._run, "get_or_create_experiment", down)
        m.setattr(tracking._run, "probe_store", down)
        run.start()
        for epoch in range(3):
            run.log_metrics({"objective": 1.0 / (epoch + 1)}, step=epoch)
        run.finish("FINISHED")
    assert run.spool is not None
    at = app("pages/3_Compare_runs.py").run()
    assert not at.exception
    assert any("1 run(s) not delivered" in w.value for w in at.warning)
    at.button(key="cr_sync").click().run()
    assert not at.exception
    assert any("delivered" in s.value and "(FINISHED)" in s.value for s in at.success)
    assert tracking.list_runs("spooled")["run_name"].tolist() == ["kept-run"]
    assert not any("not delivered" in w.value for w in at.run().warning)
