"""Every dashboard page driven with Streamlit's AppTest: runs, widgets, results shown.

conftest's autouse fixture points MLflow at a temporary sqlite store, so runs logged by
the pages land there (and are checked there).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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
    assert pages == ["Train", "Gradient_signs", "Compare_runs", "Theory"]
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
