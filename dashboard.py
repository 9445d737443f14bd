"""lossesbox dashboard, home page: ``streamlit run dashboard.py``.

What the tool is, the objective and every loss at a glance, links to the pages, and where
runs are stored. Kept light on purpose: the page is drawn with numpy and lossesbox.losses only, then
:func:`lossesbox.app.widgets.preload` imports the rest (scikit-learn, MLflow) while a person
reads it.
"""

import streamlit as st

# The title goes out before anything else is imported (numpy comes with lossesbox): the
# browser shows it while the rest of the page is computed.
st.set_page_config(page_title="Home · lossesbox", page_icon="📉", layout="wide")
st.title("lossesbox")

from lossesbox import LOSSES, __version__  # noqa: E402
from lossesbox.app.widgets import (  # noqa: E402
    mlflow_ui_base,
    mlflow_ui_command,
    preload,
    tracking_uri,
)

st.markdown(
    "Classification losses on a **regularized linear softmax classifier**: train one live, "
    "watch which way each loss pushes every class's score, compare runs tracked in MLflow, "
    "and check the maths behind it with your own numbers."
)

st.page_link("pages/1_Train.py", label="Train a model live", icon="🏋️")
st.page_link("pages/2_Gradient_signs.py", label="Gradient signs: right way or wrong way?", icon="↕️")
st.page_link("pages/3_Compare_runs.py", label="Compare tracked runs", icon="📊")
st.page_link("pages/4_Theory.py", label="Theory, with live numeric checks", icon="📐")

st.header("The objective")
st.latex(
    r"J(W, b) = \frac{1}{N}\sum_{i=1}^{N} L(\mathbf{s}_i, \mathbf{y}_i)"
    r" + \frac{\lambda}{2}\lVert W\rVert_F^2,"
    r"\qquad \mathbf{s}_i = W\mathbf{x}_i + \mathbf{b},\ W \in \mathbb{R}^{K\times D}"
)
st.markdown(
    "The data loss is the **mean** over the N samples; the bias is not penalized. Writing "
    "the sum instead, as one of the seeds does, is the same problem with "
    r"$\lambda_{sum} = N\lambda$. Gradient descent moves each score by "
    r"$-\eta\,\partial L/\partial s$: for a **wrong** class a negative gradient pushes its score "
    "**up** (the wrong way) — the question the Gradient signs page makes visible."
)

st.header("The losses")
names = list(LOSSES)
for start in range(0, len(names), 2):
    cols = st.columns(2)
    for col, name in zip(cols, names[start : start + 2], strict=False):
        loss = LOSSES[name]
        with col.container(border=True):
            st.markdown(f"**`{name}`**" + ("" if loss.smooth else " · not smooth"))
            st.latex(loss.formula)
            st.latex(loss.gradient_formula)
            st.caption(loss.reference)

st.header("Where runs are stored")
st.markdown(
    f"Runs go to the MLflow store `{tracking_uri()}` (set `MLFLOW_TRACKING_URI` to use "
    "another store or a tracking server). Browse them on the Compare runs page or in "
    "MLflow's own UI:"
)
st.code(mlflow_ui_command(), language="bash")
st.caption(
    f"Run links in this dashboard point at {mlflow_ui_base()}/#/experiments/<id>/runs/<run id> "
    "(set `LOSSESBOX_MLFLOW_UI` if your MLflow UI is elsewhere). Create runs from the "
    "command line, e.g. `python -m lossesbox sweep --dataset wine --losses mse,exp_mse`."
)
st.caption(f"lossesbox {__version__}")

# Last, with the page on screen: scikit-learn, the trainer, the charts and MLflow, imported
# once per server in this thread (never in a background thread next to a page's own
# imports), so the first Train click pays for training and logging only. Everything above
# imports numpy and lossesbox.losses only.
preload()
