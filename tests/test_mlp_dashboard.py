"""The Train page with an MLP (AppTest): model choice, hidden sizes, a logged MLP run that
Compare runs lists by model; a bad architecture is a message, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30


def _app(path: str) -> AppTest:
    return AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT)


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.slow
def test_train_page_trains_an_mlp_and_compare_runs_lists_it():
    at = _app("pages/1_Train.py").run()
    _no_errors(at)
    at.radio(key="tr_model").set_value("mlp").run()
    assert at.selectbox(key="tr_init_mlp").options == ["glorot", "normal"]
    at.text_input(key="tr_hidden").input("16x8")
    at.selectbox(key="tr_act").set_value("tanh")
    at.selectbox(key="tr_solver").set_value("adam").run()
    at.select_slider(key="tr_lr").set_value(0.01)
    at.number_input(key="tr_epochs").set_value(20)
    at.button(key="tr_train").click().run()
    _no_errors(at)
    assert at.session_state["train_job"].wait(300), "training did not finish"
    at.run(timeout=TIMEOUT)
    _no_errors(at)
    result = at.session_state["last_result"]
    assert result.config.model == "mlp" and result.config.hidden == (16, 8)
    assert [W.shape for W in result.estimator.coefs_] == [(4, 16), (16, 8), (8, 3)]
    assert any("MLP `16x8` tanh" in c.value for c in at.caption)
    assert len(result.history) == 21 and result.metrics["test_accuracy"] > 0.8

    compare = _app("pages/3_Compare_runs.py").run()
    assert not compare.exception
    models = compare.multiselect(key="cr_f_model").options
    assert "mlp 16x8 tanh" in models


def test_train_page_bad_hidden_sizes_is_a_message():
    at = _app("pages/1_Train.py").run()
    at.radio(key="tr_model").set_value("mlp").run()
    at.text_input(key="tr_hidden").input("16x0")
    at.button(key="tr_train").click().run()
    assert not at.exception
    assert any("hidden sizes" in e.value for e in at.error), [e.value for e in at.error]
