"""Gradient signs: which way each loss pushes every class's score, per epoch and per sample."""

import streamlit as st

from lossesbox.app.widgets import page_setup, preload

page_setup("Gradient signs")
preload()  # every heavy import, once per server, in this thread: no import race

import numpy as np
import pandas as pd

from lossesbox import LOSSES
from lossesbox.app.theory import parse_vector
from lossesbox.app.widgets import (
    LAST_RESULT,
    PERSIST,
    TRAIN_JOB,
    collect_finished_job,
    friendly_errors,
    model_inputs,
    tracking_uri,
)
from lossesbox.charts import (
    class_columns,
    landscape_chart,
    sample_gradient_chart,
    sign_heatmap,
    sign_lines,
    training_curves,
)
from lossesbox.landscape import (
    SEED_PROBABILITIES,
    SEED_TRUE_CLASS,
    arrow_frame,
    landscape_frame,
    loss_landscape,
    sample_gradients,
)

collect_finished_job()

st.title("Gradient signs")
st.markdown(
    "Gradient descent moves score $s_c$ by $-\\eta\\,\\partial L/\\partial s_c$. For a **wrong** "
    "class a positive gradient pushes its score down (the **right way**), a negative one "
    "pushes it **up** (the **wrong way**), an exact zero does nothing. For the true class it "
    "is the reverse. The seed's claim: `mse` on raw scores pushes wrong-class scores up "
    "whenever they are below 0, and its variant `exp_mse` never does."
)
KIND_LABELS = {
    "wrong_way_share": "wrong class pushed up (wrong way)",
    "wrong_zero_share": "wrong class: gradient exactly 0",
    "true_wrong_way_share": "true class pushed down (wrong way)",
}


def share_views(history: pd.DataFrame, class_names, key: str) -> None:
    """Heatmap (epoch × class), per-class lines and the overall shares of one history."""
    if not class_columns(history, "wrong_way_share"):
        st.warning("This history has no per-class gradient-sign metrics.")
        return
    kind = st.segmented_control(
        "Share",
        list(KIND_LABELS),
        default="wrong_way_share",
        format_func=KIND_LABELS.get,
        key=f"{key}_kind",
        persist_state=PERSIST,
    )
    kind = kind or "wrong_way_share"
    with st.container(key=f"signs_heatmap_{key}"):
        st.altair_chart(sign_heatmap(history, kind, class_names))
    c1, c2 = st.columns(2)
    c1.altair_chart(sign_lines(history, class_names, kind=kind, title="Per class"))
    c2.altair_chart(sign_lines(history, title="Overall (classes weighted by counts)"))
    last = history.iloc[-1]
    classes = class_columns(history, "wrong_way_share")
    names = [str(class_names[c]) if class_names is not None else str(c) for c in classes]
    table = pd.DataFrame(
        {
            kind_label: [last.get(f"{kind_}.class_{c}", np.nan) for c in classes]
            for kind_, kind_label in KIND_LABELS.items()
        },
        index=pd.Index(names, name="class"),
    )
    st.caption(f"At the last epoch ({int(last['epoch'])}):")
    st.dataframe(table.style.format("{:.3f}"))


@st.cache_data(show_spinner=False, max_entries=64)
def load_history(uri: str, run_id: str) -> pd.DataFrame:
    """A run's full history: its history.csv artifact (every key, per-class shares
    included), else its logged metrics pivoted to one row per epoch."""
    from lossesbox.app.runs import histories_wide
    from lossesbox.tracking import get_histories, get_history_frame

    frame = get_history_frame(run_id, tracking_uri=uri)
    if len(frame) == 0:
        long = get_histories([run_id], tracking_uri=uri)
        frame = histories_wide(long).drop(columns="run_id", errors="ignore")
    return frame.sort_values("epoch").reset_index(drop=True) if len(frame) else frame


def class_names_of(result):
    dataset = getattr(result, "dataset", None)
    return list(dataset.class_names) if dataset is not None else None


tab_run, tab_pair, tab_sample = st.tabs(
    ["A trained model", "Two losses side by side", "One sample and the loss landscape"]
)

# --- A trained model ------------------------------------------------------------------------
with tab_run:
    source = st.radio(
        "Gradient signs of",
        ["Last model trained on the Train page", "A run logged in MLflow"],
        horizontal=True,
        key="gs_source",
        persist_state=PERSIST,
    )
    if source.startswith("Last"):
        result = st.session_state.get(LAST_RESULT)
        if st.session_state.get(TRAIN_JOB) is not None:
            st.info(
                "A training run is still going on the Train page; "
                "its shares appear here when it ends."
            )
        if result is None:
            st.info(
                "No model trained in this session yet. Train one on the **Train** page "
                "(or load a logged run above)."
            )
        else:
            cfg = result.config
            from lossesbox.experiment import format_hidden

            model = (
                f"MLP `{format_hidden(cfg.hidden)}` {cfg.activation} (signs at its output scores), "
                if getattr(cfg, "model", "linear") == "mlp"
                else ""
            )
            st.markdown(
                f"{model}`{cfg.loss}` on **{result.dataset.name}**, λ = {cfg.lam:g}, "
                f"solver `{cfg.solver}`, "
                f"{len(result.history) - 1} epochs, status **{result.status}**."
            )
            share_views(result.history, class_names_of(result), "gs_last")
    else:
        with friendly_errors("Loading runs from MLflow", "Check MLFLOW_TRACKING_URI."):
            from lossesbox.app.runs import class_names_from_params, run_label
            from lossesbox.tracking import list_runs

            runs = list_runs(tracking_uri=tracking_uri())
            if len(runs) == 0:
                st.info(
                    "No runs in the MLflow store yet. Train one on the Train page or run "
                    "`python -m lossesbox train --dataset wine --loss exp_mse`."
                )
            else:
                labels = {row["run_id"]: run_label(row) for _, row in runs.iterrows()}
                run_id = st.selectbox(
                    "Run", list(labels), format_func=labels.get, key="gs_run", persist_state=PERSIST
                )
                with st.spinner("Loading the run's history…"):
                    history = load_history(tracking_uri(), run_id)
                if len(history) == 0:
                    st.warning("This run has no per-epoch history.")
                else:
                    row = runs.set_index("run_id").loc[run_id]
                    names = class_names_from_params(row)
                    if names is not None and len(names) != len(class_columns(history)):
                        names = None
                    share_views(history, names, "gs_mlflow")

# --- Two losses side by side -----------------------------------------------------------------
with tab_pair:
    st.markdown(
        "Train two losses on the same data, split, initialization and solver budget, and compare "
        "how their wrong-class gradients behave epoch by epoch."
    )
    from lossesbox.app.pair import PAIR_DATASETS, PairSettings, train_pair

    c = st.columns(4)
    dataset = c[0].selectbox(
        "Dataset", PAIR_DATASETS, index=1, key="gs_p_data", persist_state=PERSIST
    )
    loss_a = c[1].selectbox(
        "Loss A", list(LOSSES), index=list(LOSSES).index("mse"), key="gs_p_a", persist_state=PERSIST
    )
    loss_b = c[2].selectbox(
        "Loss B",
        list(LOSSES),
        index=list(LOSSES).index("exp_mse"),
        key="gs_p_b",
        persist_state=PERSIST,
    )
    pair_model, pair_hidden, pair_activation = model_inputs(
        st.columns(4)[:3],
        "gs_p",
        help="The MLP puts hidden layers before the same K output scores; the signs are "
        "those of the output scores. Both losses start from the same weights.",
    )
    init = c[3].selectbox(
        "Initialization",
        ["normal", "zeros"] if pair_model == "linear" else ["glorot", "normal"],
        key=f"gs_p_init_{pair_model}",
        persist_state=PERSIST,
        help="From zeros every score starts equal and mse's wrong-class gradients are exactly 0 "
        "(linear only: an MLP from zeros cannot learn). glorot: scikit-learn's MLP start.",
    )
    c = st.columns(4)
    solver = c[0].selectbox(
        "Solver",
        ["gd", "momentum", "adam", "sgd", "lbfgs"],
        key="gs_p_solver",
        persist_state=PERSIST,
    )
    lr = c[1].select_slider(
        "Learning rate",
        [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
        value=0.1,
        key="gs_p_lr",
        persist_state=PERSIST,
    )
    epochs = c[2].number_input("Epochs", 1, 2000, 100, key="gs_p_epochs", persist_state=PERSIST)
    lam = c[3].select_slider(
        "λ", [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1], value=1e-3, key="gs_p_lam", persist_state=PERSIST
    )
    track = st.checkbox(
        "Log both runs to MLflow", value=True, key="gs_p_track", persist_state=PERSIST
    )
    if st.button("Train both", type="primary", key="gs_p_train"):
        with friendly_errors(
            "Training the two losses", "Try a smaller learning rate or fewer epochs."
        ):
            from lossesbox.experiment import parse_hidden

            settings = PairSettings(
                dataset=dataset,
                losses=(loss_a, loss_b),
                solver=solver,
                learning_rate=float(lr),
                max_epochs=int(epochs),
                lam=float(lam),
                init=init,
                model=pair_model,
                hidden=parse_hidden(pair_hidden),
                activation=pair_activation,
            )
            with st.spinner(f"Training {loss_a} and {loss_b} on {dataset}…"):
                st.session_state["gs_pair"] = train_pair(settings, track=track)
    pair = st.session_state.get("gs_pair")
    if pair:
        cols = st.columns(len(pair))
        for i, (col, res) in enumerate(zip(cols, pair, strict=True)):
            with col:
                st.subheader(f"`{res.config.loss}`")
                m = st.columns(2)
                m[0].metric("test accuracy", f"{res.metrics.get('test_accuracy', np.nan):.3f}")
                m[1].metric(
                    "wrong way (last epoch)", f"{res.history['wrong_way_share'].iloc[-1]:.3f}"
                )
                kind = "linear"
                if getattr(res.config, "model", "linear") == "mlp":
                    from lossesbox.experiment import format_hidden

                    kind = f"MLP {format_hidden(res.config.hidden)} {res.config.activation}"
                st.caption(f"{kind} · {len(res.history) - 1} epochs · status **{res.status}**")
                if res.status == "diverged":  # the reason says when, and what to try
                    st.error(f"`{res.config.loss}` — {res.stop_reason}")
                if res.run_id:
                    st.caption(f"run `{res.run_id}`")
                elif getattr(res, "tracking_error", None):
                    st.warning(f"Not logged: {res.tracking_error}")
                with st.container(key=f"signs_heatmap_pair_{i}"):
                    st.altair_chart(
                        sign_heatmap(res.history, "wrong_way_share", class_names_of(res))
                    )
        both = pd.concat(
            [
                r.history.assign(loss=r.config.loss)[["epoch", "loss", "wrong_way_share"]]
                for r in pair
            ]
        )
        wide = both.pivot_table(
            index="epoch", columns="loss", values="wrong_way_share"
        ).reset_index()
        st.altair_chart(
            training_curves(
                wide,
                [r.config.loss for r in pair],
                title="Share of wrong-class gradients pushing the wrong way",
                y_title="share",
                y_domain=(0.0, 1.0),
            )
        )

# --- One sample and the landscape ------------------------------------------------------------
with tab_sample:
    st.markdown(
        "Type a score vector (or probabilities ŷ, then s = log ŷ, so softmax(s) = ŷ) and a true "
        "class. Preloaded with the seed's example: ŷ = (.1, .2, .1, .4, .2), true class index 3, "
        "where cross-entropy's gradient is ŷ − y = (.1, .2, .1, −.6, .2)."
    )
    c1, c2, c3 = st.columns([1, 3, 1])
    mode = c1.radio("Input", ["probabilities ŷ", "scores s"], key="gs_mode", persist_state=PERSIST)
    default = ", ".join(f"{v:g}" for v in SEED_PROBABILITIES)
    text = c2.text_input("Values (comma-separated)", default, key="gs_vec", persist_state=PERSIST)
    scores = None
    with friendly_errors("Reading the sample"):
        values = parse_vector(text, "values", max_len=12)
        if mode.startswith("prob"):
            if (values <= 0).any():
                raise ValueError("probabilities must be > 0 (their log are the scores)")
            values = values / values.sum()
            base = np.log(values)
        else:
            base = values
        true_class = c3.selectbox(
            "True class",
            list(range(base.size)),
            index=min(SEED_TRUE_CLASS, base.size - 1),
            key="gs_true",
        )
        scores = base
        if st.toggle("Slide the scores instead", value=False, key="gs_use_sliders"):
            slide_cols = st.columns(min(base.size, 6))
            scores = np.array(
                [
                    slide_cols[cidx % len(slide_cols)].slider(
                        f"s{cidx}",
                        -8.0,
                        8.0,
                        float(np.clip(np.round(s0, 2), -8, 8)),
                        0.01,
                        key=f"gs_slide_{text}_{mode}_{cidx}",
                    )
                    for cidx, s0 in enumerate(base)
                ]
            )
    if scores is not None:
        frame = sample_gradients(scores, true_class)
        st.write(
            "Scores s = (" + ", ".join(f"{v:.4f}" for v in scores) + f"), true class {true_class}"
        )
        with st.container(key="signs_sample"):
            st.altair_chart(sample_gradient_chart(frame))
        values_table = frame.pivot_table(
            index="loss", columns="class_index", values="gradient", sort=False
        )
        values_table.columns = [f"∂L/∂s{c}" for c in values_table.columns]
        values_table.insert(0, "loss value", frame.groupby("loss", sort=False)["value"].first())
        st.dataframe(values_table.style.format("{:.4f}"))

        st.subheader("Loss landscape over two scores")
        st.markdown(
            "The loss as the two chosen scores vary (the others fixed at the values above), "
            "white arrows the gradient-descent direction, **red tint where a wrong-class score on "
            "an axis is pushed up**. For `mse` that is the half-plane s_j < 0; for `exp_mse` it "
            "never appears. The cross marks the current sample."
        )
        k = scores.size
        c = st.columns(5)
        wrong = [c_ for c_ in range(k) if c_ != true_class]
        ax_i = c[0].selectbox("x axis: score", list(range(k)), index=wrong[0], key="gs_ax_i")
        ax_j = c[1].selectbox("y axis: score", list(range(k)), index=true_class, key="gs_ax_j")
        span = c[2].slider(
            "Range", -8.0, 8.0, (-4.0, 4.0), 0.5, key="gs_span", persist_state=PERSIST
        )
        log_color = c[3].toggle(
            "log colour scale", value=True, key="gs_logc", persist_state=PERSIST
        )
        arrows_on = c[4].toggle("arrows", value=True, key="gs_arrows", persist_state=PERSIST)
        c1, c2 = st.columns(2)
        la = c1.selectbox(
            "Left loss",
            list(LOSSES),
            index=list(LOSSES).index("mse"),
            key="gs_la",
            persist_state=PERSIST,
        )
        lb = c2.selectbox(
            "Right loss",
            list(LOSSES),
            index=list(LOSSES).index("exp_mse"),
            key="gs_lb",
            persist_state=PERSIST,
        )
        for col, loss_name in ((c1, la), (c2, lb)):
            with col, friendly_errors(f"Landscape of {loss_name}"):
                land = loss_landscape(
                    loss_name, scores, true_class, ax_i, ax_j, lo=span[0], hi=span[1], n=41
                )
                grid = landscape_frame(land)
                arrows = arrow_frame(land, every=4) if arrows_on else None
                col.altair_chart(
                    landscape_chart(
                        grid,
                        arrows,
                        x_title=f"s{ax_i}",
                        y_title=f"s{ax_j}",
                        title=f"{loss_name}",
                        log_color=log_color,
                        marker=(float(scores[ax_i]), float(scores[ax_j])),
                        height=360,
                    )
                )
                share = float(grid["pushed_up"].mean())
                if share > 0:
                    col.caption(f"A wrong-class score is pushed up on {share:.0%} of this grid.")
                else:
                    col.caption(
                        "No wrong-class score on these axes is pushed up anywhere on this grid."
                    )
