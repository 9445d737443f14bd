"""lossesbox dashboard: ``streamlit run dashboard.py``.

The entry script: the sidebar navigation (Home, then every ``pages/N_Title.py`` in N
order) and the Home page itself — what the tool is, the objective and every loss at a
glance, links to the pages, and where runs are stored. Home is drawn with numpy and
``lossesbox.losses`` only; then :func:`lossesbox.app.widgets.preload` imports the rest
(scikit-learn, MLflow) while a person reads it.
"""

import re
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
LINKS = {
    "pages/1_Train.py": ("Train a model live", ":material/model_training:"),
    "pages/2_Gradient_signs.py": (
        "Gradient signs: right way or wrong way?",
        ":material/swap_vert:",
    ),
    "pages/3_Compare_runs.py": ("Compare tracked runs", ":material/compare_arrows:"),
    "pages/4_Theory.py": ("Theory, with live numeric checks", ":material/functions:"),
    "pages/5_Study.py": ("Study: every loss on every dataset", ":material/science:"),
}
"""Home's links (Material icons ship with Streamlit: no emoji font needed)."""


def home() -> None:
    """The Home page."""
    from lossesbox.app.widgets import page_setup

    page_setup("Home")
    st.title("lossesbox")

    from lossesbox import LOSSES, __version__
    from lossesbox.app.widgets import mlflow_ui_base, mlflow_ui_command, preload, tracking_uri

    st.markdown(
        "Classification losses on a **regularized linear softmax classifier**: train one live, "
        "watch which way each loss pushes every class's score, compare runs tracked in MLflow, "
        "and check the maths behind it with your own numbers."
    )

    for path, (label, icon) in LINKS.items():
        st.page_link(path, label=label, icon=icon)

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
        r"$-\eta\,\partial L/\partial s$: for a **wrong** class a negative gradient pushes "
        "its score **up** (the wrong way) — the question the Gradient signs page makes visible."
    )

    st.header("The losses")
    # one card per row: the hinge and focal gradients are wider than half the page
    for name, loss in LOSSES.items():
        with st.container(border=True):
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


def page_number(path: Path) -> int:
    match = re.match(r"(\d+)_", path.name)
    return int(match.group(1)) if match else 1_000


pages = [st.Page(home, title="Home", icon=":material/home:", default=True)]
for path in sorted((HERE / "pages").glob("*.py"), key=lambda p: (page_number(p), p.name)):
    link = LINKS.get(f"pages/{path.name}")
    pages.append(st.Page(f"pages/{path.name}", icon=link[1] if link else None))
st.navigation(pages).run()
