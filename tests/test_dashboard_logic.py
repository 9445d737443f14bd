"""The dashboard's pure helpers: landscapes, theory checks, charts, live jobs, run tables.

Values are checked against hand-worked numbers and independent formulas.
"""

from __future__ import annotations

import json
import threading
import time

import altair as alt
import numpy as np
import pandas as pd
import pytest

from lossesbox import LOSSES, charts
from lossesbox.app import runs as runs_mod
from lossesbox.app.live import TrainingJob
from lossesbox.app.theory import (
    gradient_check,
    information_check,
    objective_check,
    parse_vector,
    softmax_check,
)
from lossesbox.landscape import (
    SEED_PROBABILITIES,
    SEED_TRUE_CLASS,
    arrow_frame,
    landscape_frame,
    loss_landscape,
    sample_gradients,
    sign_label,
)

SEED_SCORES = np.log(SEED_PROBABILITIES)


# --------------------------------------------------------------------------- landscape
def test_seed_example_cross_entropy_gradient_and_signs():
    frame = sample_gradients(SEED_SCORES, SEED_TRUE_CLASS)
    ce = frame[frame["loss"] == "cross_entropy"].sort_values("class_index")
    np.testing.assert_allclose(ce["gradient"], [0.1, 0.2, 0.1, -0.6, 0.2], atol=1e-12)
    np.testing.assert_allclose(ce["value"], -np.log(0.4), atol=1e-12)
    assert set(ce["sign"]) == {"right way"}
    assert ce.loc[ce["class_index"] == 3, "role"].item() == "true"
    # mse on these negative scores pushes every wrong class up: gradient (2/K) s_j < 0
    mse = frame[(frame["loss"] == "mse") & (frame["role"] == "wrong")]
    np.testing.assert_allclose(mse["gradient"], 2 / 5 * SEED_SCORES[mse["class_index"]], atol=1e-12)
    assert set(mse["sign"]) == {"wrong way"}
    # exp_mse: (2/K) e^{2 s_j} = (2/5) ŷ_j² > 0 for wrong classes
    em = frame[(frame["loss"] == "exp_mse") & (frame["role"] == "wrong")]
    expected = 2 / 5 * np.square(np.array(SEED_PROBABILITIES)[em["class_index"]])
    np.testing.assert_allclose(em["gradient"], expected, atol=1e-12)
    assert set(em["sign"]) == {"right way"}
    assert set(frame["loss"]) == set(LOSSES)


@pytest.mark.parametrize(
    ("g", "is_true", "label"),
    [
        (0.3, False, "right way"),
        (-0.3, False, "wrong way"),
        (0.0, False, "zero"),
        (-0.3, True, "right way"),
        (0.3, True, "wrong way"),
        (0.0, True, "zero"),
    ],
)
def test_sign_label(g, is_true, label):
    assert sign_label(g, is_true) == label


def test_sample_gradients_rejects_bad_input():
    with pytest.raises(ValueError, match="true class"):
        sample_gradients([0.0, 1.0], 2)
    with pytest.raises(ValueError, match="finite"):
        sample_gradients([0.0, np.inf], 0)
    with pytest.raises(ValueError, match="at least 2"):
        sample_gradients([0.0], 0)


def test_mse_landscape_marks_exactly_the_negative_half_plane():
    land = loss_landscape("mse", SEED_SCORES, 3, 0, 3, lo=-4, hi=4, n=41)
    grid = landscape_frame(land)
    # axis 0 is a wrong class: pushed up exactly where s_0 < 0; axis 3 is the true class
    np.testing.assert_array_equal(grid["pushed_up"], grid["x"] < 0)
    assert not grid["up_y"].any()
    # the loss on the grid equals the formula (1/K)||y - s||²
    k = 5
    s = np.tile(SEED_SCORES, (len(grid), 1))
    s[:, 0], s[:, 3] = grid["x"], grid["y"]
    y = np.eye(k)[3]
    np.testing.assert_allclose(grid["loss"], ((y - s) ** 2).sum(axis=1) / k, rtol=1e-12)


def test_exp_mse_landscape_never_pushes_a_wrong_score_up():
    land = loss_landscape("exp_mse", SEED_SCORES, 3, 0, 1, lo=-6, hi=3, n=31)
    assert not land.pushed_up.any()
    assert (land.grad_x > 0).all() and (land.grad_y > 0).all()


def test_landscape_two_wrong_axes_marks_each():
    land = loss_landscape("mse", SEED_SCORES, 3, 0, 1, lo=-2, hi=2, n=21)
    grid = landscape_frame(land)
    np.testing.assert_array_equal(grid["up_x"], grid["x"] < 0)
    np.testing.assert_array_equal(grid["up_y"], grid["y"] < 0)


def test_arrows_point_along_minus_the_gradient():
    land = loss_landscape("cross_entropy", SEED_SCORES, 3, 0, 3, n=21)
    arrows = arrow_frame(land, every=5, length=0.8)
    assert len(arrows) > 0
    for _, a in arrows.iterrows():
        i = int(np.argmin(np.abs(land.xs - a["x"])))
        j = int(np.argmin(np.abs(land.ys - a["y"])))
        d = -np.array([land.grad_x[j, i], land.grad_y[j, i]])
        v = np.array([a["x2"] - a["x"], a["y2"] - a["y"]])
        np.testing.assert_allclose(v / np.linalg.norm(v), d / np.linalg.norm(d), atol=1e-9)
        # Vega-Lite angle: degrees clockwise from "up"
        expected = np.degrees(np.arctan2(d[0], d[1])) % 360
        assert a["angle"] == pytest.approx(expected)


def test_landscape_rejects_bad_axes():
    with pytest.raises(ValueError, match="different"):
        loss_landscape("mse", SEED_SCORES, 3, 1, 1)
    with pytest.raises(ValueError, match="out of range"):
        loss_landscape("mse", SEED_SCORES, 3, 0, 7)
    with pytest.raises(ValueError, match="lo < hi"):
        loss_landscape("mse", SEED_SCORES, 3, 0, 1, lo=2, hi=1)


# --------------------------------------------------------------------------- theory checks
def test_parse_vector():
    np.testing.assert_array_equal(parse_vector("0.1, 0.2 ;0.7"), [0.1, 0.2, 0.7])
    with pytest.raises(ValueError, match="'x' is not a number"):
        parse_vector("1, x")
    with pytest.raises(ValueError, match="needs 2 to"):
        parse_vector("1")
    with pytest.raises(ValueError, match="finite"):
        parse_vector("1, nan")


def test_information_check_against_hand_values():
    info = information_check([0.5, 0.5], [0.25, 0.75])
    h_p = np.log(2)
    h_pq = -(0.5 * np.log(0.25) + 0.5 * np.log(0.75))
    assert info["H_P"] == pytest.approx(h_p)
    assert info["H_PQ"] == pytest.approx(h_pq)
    assert info["KL"] == pytest.approx(h_pq - h_p)
    assert info["gap"] == pytest.approx(0.0, abs=1e-15)
    assert info["H_PQ_direct"] == pytest.approx(h_pq)
    # one-hot P: H = KL = -log q_true
    one_hot = information_check([0, 1, 0], [0.2, 0.5, 0.3])
    assert one_hot["H_P"] == 0
    assert one_hot["KL"] == pytest.approx(-np.log(0.5))
    assert one_hot["H_PQ"] == pytest.approx(-np.log(0.5))
    with pytest.raises(ValueError):
        information_check([0.5, 0.6], [0.5, 0.5])


def test_softmax_check_shift_invariance_and_overflow():
    sm = softmax_check([1.0, 2.0, 3.0], shift=100.0)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(sm["p"], e / e.sum())
    assert sm["max_shift_diff"] < 1e-15
    assert sm["direct_finite"]
    big = softmax_check([0.0, 1000.0])
    assert not big["direct_finite"]
    np.testing.assert_allclose(big["p"], [0.0, 1.0])


@pytest.mark.parametrize("loss", [name for name, obj in LOSSES.items() if obj.smooth])
def test_gradient_check_agrees_for_smooth_losses(loss):
    table = gradient_check(loss, [0.5, -1.2, 2.0, 0.3], 2)
    assert table["abs_error"].max() < 1e-7


def test_objective_check_gradient_and_lambda_relation():
    out = objective_check("cross_entropy", n=15, d=3, k=4, lam=0.3, seed=1)
    assert out["max_error_W"] < 1e-7
    assert out["max_error_b"] < 1e-7
    assert out["W_shape"] == (4, 3)
    assert out["lam_sum"] == pytest.approx(15 * 0.3)
    assert out["J_sum"] == pytest.approx(out["N_times_J"], rel=1e-12)
    assert out["max_error_sum_vs_mean"] < 1e-12
    with pytest.raises(ValueError, match="lambda"):
        objective_check(lam=-1)


# --------------------------------------------------------------------------- charts
def _history(epochs: int = 6, k: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    h = pd.DataFrame(
        {
            "epoch": np.arange(epochs),
            "objective": np.linspace(1, 0.5, epochs),
            "data_loss": np.linspace(0.9, 0.4, epochs),
            "penalty": np.full(epochs, 0.1),
            "train_accuracy": np.linspace(0.3, 0.9, epochs),
            "val_accuracy": np.full(epochs, np.nan),
            "wrong_way_share": np.linspace(0, 0.3, epochs),
            "wrong_zero_share": np.zeros(epochs),
            "true_wrong_way_share": np.zeros(epochs),
        }
    )
    for c in range(k):
        h[f"wrong_way_share.class_{c}"] = rng.random(epochs)
    return h


def _values(chart) -> list[dict]:
    """Every data row of a chart (Altair moves data to top-level datasets in to_dict)."""
    spec = chart.to_dict()
    out = [row for rows in spec.get("datasets", {}).values() for row in rows]

    def collect(node):
        if isinstance(node, dict):
            if "values" in node and isinstance(node["values"], list):
                out.extend(node["values"])
            for key, v in node.items():
                if key not in ("legend", "axis"):  # their "values" are ticks, not data
                    collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    collect(spec)
    return out


def test_training_curves_drop_nan_and_keep_values():
    h = _history()
    values = _values(charts.accuracy_curves(h))
    assert {v["metric"] for v in values} == {"train_accuracy"}  # val is all NaN here
    assert [v["value"] for v in values] == pytest.approx(list(h["train_accuracy"]))
    json.dumps(charts.training_curves(h).to_dict())  # valid JSON (no NaN)


def test_curve_frame_and_data_free_spec_for_live_redraws():
    h = _history(epochs=4)
    long = charts.curve_frame(h, charts.CURVE_STYLES["accuracy"]["metrics"])
    assert list(long["metric"]) == ["train_accuracy"] * 4  # all-NaN val_accuracy dropped
    np.testing.assert_allclose(long["value"], h["train_accuracy"])
    spec = charts.curve_spec("loss")
    assert "data" not in spec and "datasets" not in spec
    assert spec["encoding"]["x"]["field"] == "epoch"
    full = charts.training_curves(_history(epochs=40)).to_dict()  # > 30 epochs: no points
    assert spec["encoding"] == full["encoding"]
    assert spec["title"] == full["title"] == "Objective J = data loss + penalty"
    spec["title"] = "changed"
    assert charts.curve_spec("loss")["title"] != "changed"  # a fresh dict each time
    with pytest.raises(ValueError, match="style"):
        charts.curve_spec("bogus")


def test_sign_heatmap_has_one_cell_per_epoch_and_class():
    h = _history(epochs=4, k=3)
    values = _values(charts.sign_heatmap(h, class_names=["a", "b", "c"]))
    assert len(values) == 12
    cell = next(v for v in values if v["epoch"] == 2 and v["class"] == "b")
    assert cell["share"] == pytest.approx(h.loc[2, "wrong_way_share.class_1"])
    with pytest.raises(ValueError, match="kind"):
        charts.sign_heatmap(h, "bogus")
    with pytest.raises(ValueError, match="per-class"):
        charts.sign_heatmap(h, "true_wrong_way_share")


@pytest.mark.parametrize("k", [2, 3, 10, 20, 26])
def test_sign_heatmap_gives_every_class_a_labelled_row_of_at_least_12_px(k):
    """The spec the browser draws: plot height ≥ 12 px per class row (it is the plot's own
    height: autosize fit-x, so title, axes and legend do not eat into it), every class on
    the axis (labelOverlap off), whole-number epochs, the colour legend spanning 0…1."""
    h = _history(epochs=30, k=k)
    spec = charts.sign_heatmap(h).to_dict()
    assert spec["autosize"] == {"type": "fit-x", "contains": "padding"}
    assert spec["height"] >= 12 * k and spec["height"] >= 150
    y = spec["encoding"]["y"]
    assert y["axis"]["labelOverlap"] is False and len(y["sort"]) == k
    assert spec["encoding"]["x"]["axis"]["format"] == "d"
    legend = spec["encoding"]["color"]["legend"]
    assert legend["values"][0] == 0 and legend["values"][-1] == 1
    assert legend["orient"] == "bottom"  # under the plot: it never squeezes the rows


def test_sample_gradient_chart_labels_every_loss_row():
    from lossesbox.landscape import sample_gradients

    frame = sample_gradients(SEED_SCORES, 3)
    spec = charts.sample_gradient_chart(frame).to_dict()
    n = frame["loss"].nunique()
    assert n == len(LOSSES)
    assert spec["height"] >= 12 * n
    for layer in spec["layer"][:1]:
        assert layer["encoding"]["y"]["axis"]["labelOverlap"] is False


def test_charts_serialize_more_than_5000_rows():
    n = 80
    g = np.linspace(-1, 1, n)
    X, Y = np.meshgrid(g, g)
    grid = pd.DataFrame(
        {
            "x": X.ravel(),
            "y": Y.ravel(),
            "x0": X.ravel() - 0.01,
            "x1": X.ravel() + 0.01,
            "y0": Y.ravel() - 0.01,
            "y1": Y.ravel() + 0.01,
            "predicted": (X.ravel() > 0).astype(int).astype(str),
        }
    )
    points = pd.DataFrame({"x": [0.1], "y": [0.2], "label": ["1"], "split": ["test"]})
    chart = charts.decision_regions_chart(grid, points)
    assert len(_values(chart)) == n * n + 1


def test_confusion_matrix_chart_counts():
    m = np.array([[3, 1], [0, 4]])
    values = _values(charts.confusion_matrix_chart(m, ["no", "yes"]))
    cell = next(v for v in values if v["true"] == "no" and v["predicted"] == "yes")
    assert cell["count"] == 1
    with pytest.raises(ValueError, match="square"):
        charts.confusion_matrix_chart(np.ones((2, 3)))


def test_other_charts_build():
    land = loss_landscape("mse", SEED_SCORES, 3, 0, 3, n=11)
    for chart in (
        charts.landscape_chart(landscape_frame(land), arrow_frame(land, every=2), marker=(0, 0)),
        charts.sample_gradient_chart(sample_gradients(SEED_SCORES, 3)),
        charts.sign_lines(_history()),
        charts.sign_lines(_history(), kind="wrong_way_share"),
        charts.distribution_bars({"P": [0.5, 0.5], "Q": [0.2, 0.8]}),
    ):
        assert isinstance(chart, alt.TopLevelMixin)
        json.dumps(chart.to_dict())


# --------------------------------------------------------------------------- live jobs
def _fake_runner(epochs: int, delay: float = 0.0):
    def run(config, *, dataset=None, track=True, experiment=None, callback=None):
        for e in range(epochs + 1):
            time.sleep(delay)
            if callback({"epoch": e, "objective": 1.0 / (e + 1)}) is False:
                return {"status": "stopped", "epochs": e}
        return {"status": "max_epochs", "epochs": epochs}

    return run


def test_training_job_collects_records_and_result():
    job = TrainingJob("cfg", runner=_fake_runner(5)).start()
    assert job.wait(10)
    assert job.done and job.phase() == "done"
    assert [r["epoch"] for r in job.records()] == list(range(6))
    assert job.result == {"status": "max_epochs", "epochs": 5}
    assert job.error_message is None


def test_training_job_stop_is_seen_by_the_callback():
    job = TrainingJob("cfg", runner=_fake_runner(10_000, delay=0.001)).start()
    deadline = time.time() + 10
    while job.n_records < 3 and time.time() < deadline:
        time.sleep(0.01)
    job.stop()
    assert job.wait(10)
    assert job.result["status"] == "stopped"
    assert job.result["epochs"] < 10_000
    assert job.stop_requested


def test_training_job_reports_errors_instead_of_raising():
    def boom(config, **kwargs):
        raise ValueError("column 'x' is not numeric")

    job = TrainingJob("cfg", runner=boom).start()
    assert job.wait(10)
    assert job.result is None
    assert job.error_message == "column 'x' is not numeric"
    assert "ValueError" in job.error_traceback
    assert all(t.name != "lossesbox-train" for t in threading.enumerate())


# --------------------------------------------------------------------------- run tables
def _runs() -> pd.DataFrame:
    rows = []
    for i, (loss, lam, seed) in enumerate(
        [("mse", 0.01, 0), ("mse", 0.01, 1), ("exp_mse", 0.01, 0), ("mse", 0.1, 0)]
    ):
        rows.append(
            {
                "run_id": f"run{i}",
                "run_name": f"r{i}",
                "experiment": "wine",
                "experiment_id": "1",
                "status": "FINISHED",
                "start_time": pd.Timestamp("2026-01-01", tz="UTC"),
                "params.loss": loss,
                "params.lam": str(lam),
                "params.solver": "lbfgs",
                "params.random_state": str(seed),
                "metrics.test_accuracy": 0.9 + i / 100,
                "metrics.penalty": lam / 2 * 4.0,  # ||W||² = 4
            }
        )
    return pd.DataFrame(rows)


def test_runs_table_and_weight_norm_from_penalty():
    table = runs_mod.runs_table(_runs())
    assert list(table.index) == ["run0", "run1", "run2", "run3"]
    assert table.loc["run2", "loss"] == "exp_mse"
    assert table.loc["run3", "lam"] == pytest.approx(0.1)
    np.testing.assert_allclose(table["weight_norm"], 2.0)
    assert table.loc["run0", "dataset"] == "wine"  # falls back to the experiment name
    direct = runs_mod.weight_norm({"metrics.weight_norm": 3.5, "params.lam": "0"})
    assert direct == 3.5
    assert np.isnan(runs_mod.weight_norm({"params.lam": "0", "metrics.penalty": 0.0}))


def test_differing_params_only_shows_what_differs():
    runs = _runs()
    diff = runs_mod.differing_params(runs, ["run0", "run2"])
    assert list(diff.index) == ["loss"]
    full = runs_mod.differing_params(runs, ["run0", "run2"], all_params=True)
    assert set(full.index) == {"loss", "lam", "solver", "random_state"}


def test_group_by_all_but_seed():
    groups = runs_mod.group_by_all_but_seed(_runs())
    assert groups["run0"] == groups["run1"]
    assert groups["run0"] != groups["run2"]
    assert groups["run0"] != groups["run3"]


def test_metric_summary_best_last_and_at_epoch():
    hist = pd.DataFrame(
        {
            "run_id": ["a"] * 4 + ["a"] * 4,
            "key": ["val_accuracy"] * 4 + ["objective"] * 4,
            "step": [0, 1, 2, 3] * 2,
            "value": [0.5, 0.9, 0.8, 0.85, 2.0, 1.0, 0.7, 0.9],
        }
    )
    summary = runs_mod.metric_summary(hist, ["val_accuracy", "objective"], epoch=2).set_index(
        "metric"
    )
    assert summary.loc["val_accuracy", "best"] == 0.9
    assert summary.loc["val_accuracy", "best epoch"] == 1
    assert summary.loc["val_accuracy", "last"] == 0.85
    assert summary.loc["objective", "best"] == 0.7
    assert summary.loc["objective", "best epoch"] == 2
    assert summary.loc["objective", "at epoch 2"] == 0.7
    wide = runs_mod.histories_wide(hist)
    assert set(wide.columns) == {"run_id", "epoch", "objective", "val_accuracy"}
    assert wide.loc[wide["epoch"] == 3, "objective"].item() == 0.9


def test_run_label():
    label = runs_mod.run_label(_runs().iloc[0])
    assert label == "mse · wine · λ=0.01 · lbfgs · seed 0 · 01-01 00:00:00 · run0"


def test_runs_overlay_chart_x_modes():
    """'fraction' puts every run on 0…1 (a 13-epoch run next to a 200-epoch one);
    'log' uses a symmetric-log epoch axis; the legend lists every run."""
    frame = pd.concat(
        [
            pd.DataFrame(
                {"epoch": range(n + 1), "run": f"r{n}", "objective": np.linspace(1, 0, n + 1)}
            )
            for n in (13, 200)
        ]
    )
    spec = charts.runs_overlay_chart(frame, "objective", x="fraction").to_dict()
    xs = [v["x"] for v in _values(charts.runs_overlay_chart(frame, "objective", x="fraction"))]
    assert min(xs) == 0 and max(xs) == 1 and spec["encoding"]["x"]["field"] == "x"
    log = charts.runs_overlay_chart(frame, "objective", x="log", epoch=5).to_dict()
    assert log["layer"][0]["encoding"]["x"]["scale"]["type"] == "symlog"
    assert log["layer"][0]["encoding"]["color"]["legend"]["symbolLimit"] == 0
    with pytest.raises(ValueError, match="x must be"):
        charts.runs_overlay_chart(frame, "objective", x="bogus")


def _moons_job(**options):
    from lossesbox.datasets import load_dataset
    from lossesbox.experiment import TrainConfig

    dataset = load_dataset("moons", n_samples=120)
    config = TrainConfig(dataset="moons", solver="gd", max_epochs=40, tol=0.0, **options)
    job = TrainingJob(config, dataset, track=False, keep_parameters=True).start()
    assert job.wait(120) and job.error is None, job.error_traceback
    return job


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_snapshots_replay_the_models_own_decision_regions(model):
    """The last snapshot's regions are the fitted pipeline's predictions, cell by cell;
    the epoch-0 snapshot of a zero-initialized linear model predicts one class."""
    from lossesbox.app.replay import RegionGrid, snapshot_at
    from lossesbox.app.results import decision_grid

    job = _moons_job(**({"model": "mlp", "hidden": (8,)} if model == "mlp" else {}))
    snaps = job.snapshots()
    assert sorted(snaps) == list(range(41))
    grid = RegionGrid(job.dataset, job.config, n=30)
    final, _ = decision_grid(job.result, n=30)
    np.testing.assert_array_equal(grid.frame(snaps[40])["predicted"], final["predicted"])
    np.testing.assert_allclose(grid.frame(snaps[40])[["x0", "y1"]], final[["x0", "y1"]])
    if model == "linear":
        assert grid.frame(snaps[0])["predicted"].nunique() == 1
    assert snapshot_at(snaps, 17.5)[0] == 17 and snapshot_at({}, 3) is None


def test_snapshots_are_thinned_evenly_and_keep_the_latest(monkeypatch):
    monkeypatch.setattr(TrainingJob, "MAX_SNAPSHOTS", 8)
    job = _moons_job()
    epochs = sorted(job.snapshots())
    assert len(epochs) <= 9 and epochs[0] == 0 and epochs[-1] == 40
    steps = set(np.diff(epochs[:-1]))
    assert len(steps) == 1  # evenly spaced (then the latest)


def test_the_history_never_holds_parameters():
    job = _moons_job()
    assert all("parameters" not in r for r in job.records())
    assert "parameters" not in job.result.history.columns
