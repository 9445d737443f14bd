"""Theory: the seeds' derivations, each with a live numeric check the user can change."""

import streamlit as st

from lossesbox.app.widgets import page_setup, preload

page_setup("Theory")
preload()  # every heavy import, once per server, in this thread: no import race

import numpy as np
import pandas as pd

from lossesbox import LOSSES
from lossesbox.app.theory import (
    gradient_check,
    information_check,
    objective_check,
    parse_vector,
    softmax_check,
)
from lossesbox.app.widgets import PERSIST, friendly_errors
from lossesbox.landscape import SEED_PROBABILITIES, SEED_TRUE_CLASS, sample_gradients

st.title("Theory, checked live")
st.markdown(
    "The derivations from the three seed notes, written once with consistent notation. "
    "Every section ends with a check: change the numbers and watch both sides agree. "
    "Natural logarithms throughout; $0\\log 0 = 0$."
)


def fmt(values) -> str:
    return ", ".join(f"{v:.4g}" for v in np.asarray(values, dtype=float))


# --- 1. Entropy, cross-entropy, KL -------------------------------------------------------
st.header("1 · Entropy, cross-entropy and KL divergence")
st.latex(r"H(P) = -\sum_x p(x)\log p(x)")
st.latex(r"H(P,Q) = -\sum_x p(x)\log q(x)")
st.latex(
    r"\mathrm{KL}(P\|Q) = \sum_x p(x)\log\frac{p(x)}{q(x)}"
    r" = \sum_x p(x)\log p(x) - \sum_x p(x)\log q(x) = -H(P) + H(P,Q)"
)
st.markdown(
    "so $H(P,Q) = H(P) + \\mathrm{KL}(P\\|Q)$. For a one-hot P, $H(P) = 0$ and the "
    "cross-entropy loss equals the KL divergence: $-\\log q_{true}$."
)
c1, c2 = st.columns(2)
p_text = c1.text_input("P (true distribution)", "0.5, 0.3, 0.2", key="th_p", persist_state=PERSIST)
q_text = c2.text_input(
    "Q (predicted distribution)", "0.2, 0.5, 0.3", key="th_q", persist_state=PERSIST
)
normalise = st.checkbox(
    "Normalise my entries to sum to 1", value=False, key="th_norm", persist_state=PERSIST
)
with friendly_errors("Check of H(P,Q) = H(P) + KL", "Enter non-negative numbers summing to 1."):
    p = parse_vector(p_text, "P")
    q = parse_vector(q_text, "Q")
    if p.size != q.size:
        raise ValueError(f"P has {p.size} entries and Q has {q.size}; they must match")
    if normalise:
        if (p < 0).any() or (q < 0).any() or p.sum() <= 0 or q.sum() <= 0:
            raise ValueError("entries must be non-negative with a positive sum to normalise")
        p, q = p / p.sum(), q / q.sum()
    info = information_check(p, q)
    m = st.columns(4)
    m[0].metric("H(P)", f"{info['H_P']:.6f}")
    m[1].metric("KL(P‖Q)", f"{info['KL']:.6f}")
    m[2].metric("H(P) + KL", f"{info['H_P_plus_KL']:.6f}")
    m[3].metric("H(P,Q)", f"{info['H_PQ']:.6f}", help="scipy-based library value")
    if np.isfinite(info["H_PQ"]):
        st.success(
            f"H(P,Q) − (H(P) + KL) = {info['gap']:.2e}; direct sums give "
            f"H(P) = {info['H_P_direct']:.6f}, KL = {info['KL_direct']:.6f}, "
            f"H(P,Q) = {info['H_PQ_direct']:.6f}."
        )
    else:
        st.warning("Q puts zero mass where P has mass: H(P,Q) = KL(P‖Q) = +∞ (H(P) is finite).")
    from lossesbox.charts import distribution_bars

    st.altair_chart(distribution_bars({"P": p, "Q": q}))

# --- 2. Softmax --------------------------------------------------------------------------
st.header("2 · Softmax turns scores into a distribution")
st.latex(
    r"\hat y_j = \operatorname{softmax}(\mathbf{s})_j = \frac{e^{s_j}}{\sum_k e^{s_k}}"
    r" = \frac{e^{s_j - c}}{\sum_k e^{s_k - c}}\ \text{ for any } c"
)
st.markdown(
    "Adding the same constant to every score changes nothing, which is how it is computed "
    "stably (subtract the largest score first). The log-softmax is "
    r"$\log\hat y_j = s_j - \log\sum_k e^{s_k}$."
)
c1, c2 = st.columns([3, 1])
s_text = c1.text_input("Scores s", "2.0, 1.0, 0.1, 800", key="th_s", persist_state=PERSIST)
shift = c2.number_input("Shift c", value=-5.0, step=1.0, key="th_shift", persist_state=PERSIST)
with friendly_errors("Softmax check"):
    s = parse_vector(s_text, "scores")
    sm = softmax_check(s, shift)
    st.write(f"softmax(s) = ({fmt(sm['p'])}), sum = {sm['sum']:.12f}")
    st.write(
        f"softmax(s + c) differs by at most {sm['max_shift_diff']:.1e}; "
        f"log-softmax = ({fmt(sm['log_softmax'])})"
    )
    if not sm["direct_finite"]:
        st.info(
            "The naive formula e^s / Σe^s overflows for these scores (NaN/inf); the "
            "max-shifted one above does not."
        )

# --- 3. The cross-entropy gradient (the seed's question) ---------------------------------
st.header("3 · The gradient of cross-entropy is ŷ − y")
st.markdown(
    "The seed's question: with a one-hot y, are the wrong-class entries of the gradient zero? "
    "No. With true class k, $L = -\\log\\hat y_k = -s_k + \\log\\sum_j e^{s_j}$, and the "
    "log-sum-exp term depends on **every** score:"
)
st.latex(
    r"\frac{\partial L}{\partial s_j} = -\mathbb{1}[j = k] + \frac{e^{s_j}}{\sum_l e^{s_l}}"
    r" = \hat y_j - y_j"
)
st.markdown(
    "Only the $-s_k$ term vanishes for $j \\ne k$; the wrong classes keep $\\hat y_j > 0$, "
    "so cross-entropy always pushes them **down**."
)
c1, c2 = st.columns([3, 1])
yhat_text = c1.text_input(
    "ŷ (predicted probabilities)", fmt(SEED_PROBABILITIES), key="th_yhat", persist_state=PERSIST
)
with friendly_errors("Cross-entropy gradient check", "ŷ must be positive and sum to 1."):
    yhat = parse_vector(yhat_text, "ŷ")
    if (yhat <= 0).any() or abs(yhat.sum() - 1) > 1e-6:
        raise ValueError(f"ŷ must be positive and sum to 1 (sum is {yhat.sum():.6g})")
    k_true = c2.selectbox(
        "True class (0-based)",
        list(range(yhat.size)),
        index=min(SEED_TRUE_CLASS, yhat.size - 1),
        key="th_true",
    )
    scores = np.log(yhat)
    check = gradient_check("cross_entropy", scores, k_true)
    y = np.eye(yhat.size)[k_true]
    table = pd.DataFrame(
        {
            "ŷ": yhat,
            "y": y,
            "ŷ − y": yhat - y,
            "∂L/∂s (library)": check["analytic"],
            "central difference": check["finite_difference"],
        }
    )
    st.dataframe(table.style.format("{:.6f}"))
    st.caption(
        f"Scores s = log ŷ (softmax(log ŷ) = ŷ). Largest gap between the library's gradient "
        f"and central differences: {check['abs_error'].max():.1e}."
    )

# --- 4. Every loss's gradient -------------------------------------------------------------
st.header("4 · Gradients of the other losses")
for name, loss in LOSSES.items():
    with st.expander(f"`{name}`", expanded=name in ("mse", "softmax_mse", "exp_mse")):
        st.latex(loss.formula)
        st.latex(loss.gradient_formula)
        if name == "softmax_mse":
            st.markdown(
                "With $p = \\operatorname{softmax}(s)$ and $\\partial p_i/\\partial s_j = "
                "p_i(\\mathbb{1}[i=j] - p_j)$, the chain rule gives the vector form above. "
                "(The seed's closing vector form mixes the index j with a vector; this is the "
                "corrected one.) Its wrong-class entries can be negative."
            )
        st.caption(loss.reference)
c1, c2, c3 = st.columns([1, 3, 1])
g_loss = c1.selectbox("Loss", list(LOSSES), index=1, key="th_gloss", persist_state=PERSIST)
g_text = c2.text_input("Scores s", "0.5, -1.2, 2.0, 0.3", key="th_gs", persist_state=PERSIST)
with friendly_errors("Gradient check"):
    gs = parse_vector(g_text, "scores")
    g_true = c3.number_input(
        "True class", min_value=0, max_value=gs.size - 1, value=min(2, gs.size - 1), key="th_gt"
    )
    check = gradient_check(g_loss, gs, int(g_true))
    st.dataframe(
        check.style.format(
            {"analytic": "{:.8f}", "finite_difference": "{:.8f}", "abs_error": "{:.1e}"}
        )
    )
    if LOSSES[g_loss].smooth:
        st.caption("Central differences with h = 1e-6 agree to about 1e-9 for smooth losses.")
    else:
        st.caption("Hinge is not smooth: at a kink (margin exactly 0) the two can differ.")

# --- 5. The sign argument -----------------------------------------------------------------
st.header("5 · The sign argument")
st.markdown(
    "Gradient descent moves score $s_j$ by $-\\eta\\,\\partial L/\\partial s_j$. For a **wrong** "
    "class ($y_j = 0$):"
)
st.latex(
    r"\text{CE: } \hat y_j > 0 \qquad"
    r"\text{MSE: } \tfrac{2}{K}s_j \ (< 0 \text{ when } s_j < 0) \qquad"
    r"\text{exp\_mse: } \tfrac{2}{K}e^{2s_j} > 0"
)
st.markdown(
    "So MSE on raw scores pushes a wrong class's score **up** whenever it is already below 0 "
    "(it pulls every score towards its target 0, not down), while the seed's variant "
    "`exp_mse` never does. Slide a wrong-class score and watch the signs."
)
sj = st.slider(
    "Wrong-class score s₀ (others fixed at 0, true class 2)",
    -4.0,
    4.0,
    -1.0,
    0.1,
    key="th_sj",
    persist_state=PERSIST,
)
with friendly_errors("Sign check"):
    frame = sample_gradients([sj, 0.0, 0.0, 0.0], 2)
    frame = frame[frame["class_index"] == 0][["loss", "gradient", "sign"]]
    st.dataframe(frame.style.format({"gradient": "{:.5f}"}), hide_index=True)

# --- 6. The regularized objective and λ ----------------------------------------------------
st.header("6 · The regularized objective and its gradient")
st.latex(
    r"J(W,b) = \frac1N\sum_{i=1}^N L(\mathbf{s}_i,\mathbf{y}_i) + \frac\lambda2\lVert W\rVert_F^2,"
    r"\qquad \mathbf{s}_i = W\mathbf{x}_i + \mathbf{b}"
)
st.latex(
    r"\frac{\partial J}{\partial W_{m,n}} = \frac1N\sum_i \frac{\partial L_i}{\partial s_{m,i}}"
    r"\,x_{n,i} + \lambda W_{m,n},\qquad \nabla_W J = \tfrac1N G^\top X + \lambda W,"
    r"\qquad \nabla_b J = \tfrac1N G^\top\mathbf{1}"
)
st.markdown(
    "Shapes: X is N×D, W is **K×D** (one row per class; the seed writes “C×N”, a typo — N "
    "counts samples, not features), G = ∂L/∂S is N×K. The seed writes the **sum** "
    "$\\sum_i L_i + \\frac{\\lambda_{sum}}2\\|W\\|^2$; dividing it by N gives J with "
    "$\\lambda = \\lambda_{sum}/N$. Same minimizer: **λ_sum = N·λ**. This tool uses the mean."
)
cols = st.columns(5)
o_loss = cols[0].selectbox("Loss", list(LOSSES), key="th_oloss", persist_state=PERSIST)
o_n = cols[1].number_input("N samples", 1, 500, 20, key="th_on", persist_state=PERSIST)
o_d = cols[2].number_input("D features", 1, 10, 3, key="th_od", persist_state=PERSIST)
o_k = cols[3].number_input("K classes", 2, 10, 4, key="th_ok", persist_state=PERSIST)
o_lam = cols[4].number_input(
    "λ", 0.0, 100.0, 0.1, step=0.05, format="%.4f", key="th_olam", persist_state=PERSIST
)
with friendly_errors("Objective check"):
    obj = objective_check(o_loss, int(o_n), int(o_d), int(o_k), float(o_lam))
    m = st.columns(4)
    m[0].metric("J (mean form)", f"{obj['J']:.6f}")
    m[1].metric("max |∇W − finite diff.|", f"{obj['max_error_W']:.1e}")
    m[2].metric("N·J", f"{obj['N_times_J']:.6f}")
    m[3].metric(f"J_sum with λ_sum = N·λ = {obj['lam_sum']:.4g}", f"{obj['J_sum']:.6f}")
    st.caption(
        f"W is {obj['W_shape'][0]}×{obj['W_shape'][1]} (K×D), X is "
        f"{obj['X_shape'][0]}×{obj['X_shape'][1]}. The seed's sum-form gradient equals N × the "
        f"mean-form gradient up to {obj['max_error_sum_vs_mean']:.1e}; the bias gradient matches "
        f"finite differences up to {obj['max_error_b']:.1e}."
    )
