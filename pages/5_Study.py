"""Study: compare losses over datasets × seeded splits — read a finished study, or run one."""

import streamlit as st

from lossesbox.app.widgets import page_setup, preload

page_setup("Study")
preload()  # every heavy import, once per server, in this thread: no import race


from lossesbox import LOSSES
from lossesbox.app.widgets import (
    PERSIST,
    friendly_errors,
    mlflow_ui_url,
    tracking_uri,
)
from lossesbox.study import (
    DEFAULT_DATASETS,
    REFERENCE,
    StudyConfig,
    headline_table,
    list_studies,
    load_study,
    run_study,
    stop_notes,
)

LAMBDAS = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
MAX_RUNS = 120  # a study launched here stays small; larger ones belong on the command line


@st.cache_data(show_spinner="Reading the study report…", max_entries=8)
def cached_study(run_id: str, uri: str):
    return load_study(run_id, tracking_uri=uri)


st.title("Loss study")
st.markdown(
    "Every dataset × loss trained on repeated seeded stratified splits with the **same "
    "solver budget**, next to scikit-learn's `LogisticRegression` at the equivalent C. "
    "The *wrong-way share* is the share of wrong-class score gradients that push the score "
    "**up** (∂L/∂s_j < 0 for y_j = 0): the seed's complaint about `mse`, which `exp_mse` "
    "is built to avoid. Large studies: `python -m lossesbox study` (see the README)."
)

# --- Run a small study -----------------------------------------------------------------------
with st.expander("Run a small study", expanded=False):
    with st.form("study_form"):
        c1, c2 = st.columns(2)
        datasets = c1.multiselect(
            "Datasets", list(DEFAULT_DATASETS), default=["iris"], key="st_datasets"
        )
        losses = c2.multiselect(
            "Losses", list(LOSSES), default=["mse", "exp_mse", "cross_entropy"], key="st_losses"
        )
        c1, c2, c3, c4 = st.columns(4)
        lam = c1.select_slider(
            "λ", LAMBDAS, value=1e-3, format_func=lambda v: f"{v:g}", key="st_lam"
        )
        repeats = c2.number_input("Repeats (seeds)", 1, 10, 2, key="st_repeats")
        epochs = c3.number_input("L-BFGS iterations", 5, 1000, 100, key="st_epochs")
        track = c4.checkbox("Log to MLflow", value=True, key="st_track")
        submitted = st.form_submit_button("Run study", type="primary")

    if submitted:
        n_runs = len(datasets) * int(repeats) * (len(losses) + 1)
        if not datasets or not losses:
            st.error("Pick at least one dataset and one loss.")
        elif n_runs > MAX_RUNS:
            st.error(
                f"That is {n_runs} runs; the page runs at most {MAX_RUNS}. Use fewer "
                "datasets, losses or repeats, or the command line for a full study."
            )
        else:
            with friendly_errors("The study", "Check the settings and try again."):
                config = StudyConfig(
                    datasets=tuple(datasets),
                    losses=tuple(losses),
                    lams=(float(lam),),
                    repeats=int(repeats),
                    max_epochs=int(epochs),
                )
                bar = st.progress(0.0, text=f"Starting {n_runs} runs…")

                def progress(done: int, total: int, row: dict) -> None:
                    bar.progress(
                        done / total,
                        text=f"{done}/{total}: {row['dataset']} · {row['loss']} · "
                        f"repeat {row['repeat']} ({row['status']})",
                    )

                result = run_study(
                    config, track=track, tracking_uri=tracking_uri(), progress=progress
                )
                bar.progress(1.0, text=f"Done: {n_runs} runs in {result.seconds:.1f} s")
                st.success(
                    f"Study **{result.name}** finished: report in `{result.files['markdown']}`"
                    + (f", MLflow run `{result.run_id}`." if result.run_id else " (not tracked).")
                )
                if result.tracking_error:
                    st.warning(f"Tracking problem: {result.tracking_error}")
                if result.run_id:
                    st.session_state["st_study"] = result.run_id  # show it below
                    st.session_state.pop("study_untracked", None)
                else:
                    st.session_state["study_untracked"] = result

# --- Show a finished study ---------------------------------------------------------------------
st.header("Finished studies")
study = None
with friendly_errors("Listing studies", "Check MLFLOW_TRACKING_URI."):
    studies = list_studies(tracking_uri())
    if studies.empty and "study_untracked" not in st.session_state:
        st.info(
            "No study in the MLflow store yet. Run a small one above, or from a terminal: "
            "`python -m lossesbox study --datasets iris,wine --losses mse,exp_mse,cross_entropy`."
        )
    elif not studies.empty:
        labels = {
            r.run_id: f"{r.run_name} · {r.status} · {str(r.start_time)[:16]}"
            for r in studies.itertuples()
        }
        ids = list(labels)
        if st.session_state.get("st_study") not in ids:
            st.session_state.pop("st_study", None)
        run_id = st.selectbox(
            "Study",
            ids,
            format_func=labels.get,
            key="st_study",
            persist_state=PERSIST,
        )
        study = cached_study(run_id, tracking_uri())
    else:
        study = st.session_state["study_untracked"]
        st.caption("The study you just ran (not tracked in MLflow).")

if study is not None:
    summary = study.summary
    cfg = study.config
    st.code(cfg.command(), language="bash")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Training runs", int(summary.loc[summary["loss"] != REFERENCE, "n_runs"].sum()))
    c2.metric("Failed (diverged or error)", study.n_failed)
    c3.metric("Repeats per cell", cfg.repeats)
    c4.metric("Took", f"{study.seconds:.1f} s")
    if study.run_id:
        row = studies[studies["run_id"] == study.run_id]
        exp_id = row["experiment_id"].iloc[0] if not row.empty else None
        st.caption(
            f"MLflow experiment `{study.experiment}`, study run "
            f"[{study.run_id}]({mlflow_ui_url(exp_id, study.run_id)}); "
            f"each training run is a child run. Solver {cfg.solver}, ≤ {cfg.max_epochs} "
            f"{'iterations' if cfg.solver == 'lbfgs' else 'epochs'}, tol {cfg.tol:g}."
        )

    st.subheader("Results (mean ± std over repeats)")
    st.dataframe(headline_table(summary), hide_index=True, width="stretch")
    notes = stop_notes(study.runs, study.config)
    if notes:
        with st.expander(f"How the runs stopped ({len(notes)} notes)"):
            st.markdown("\n".join(notes))

    from lossesbox import study_charts

    tabs = st.tabs(["Accuracy", "Log-loss", "Wrong-way shares", "Per epoch", "Per class"])
    with tabs[0]:
        st.altair_chart(study_charts.mean_std_chart(summary, "test_accuracy"))
    with tabs[1]:
        st.altair_chart(study_charts.mean_std_chart(summary, "test_log_loss"))
    with tabs[2]:
        st.altair_chart(study_charts.stage_chart(summary[summary["loss"] != REFERENCE]))
    with tabs[3]:
        if study.history.empty:
            st.info("No per-epoch history in this study.")
        else:
            curves = study.curves
            st.altair_chart(study_charts.curves_chart(curves, "wrong_way_share"))
            st.altair_chart(study_charts.curves_chart(curves, "train_accuracy"))
    with tabs[4]:
        pcs = study.per_class_summary
        stage = st.radio(
            "When",
            list(study_charts.STAGE_TITLES),
            format_func=study_charts.STAGE_TITLES.get,
            horizontal=True,
            index=2,
            key="st_stage",
        )
        if (pcs["stage"] == stage).any():
            st.altair_chart(study_charts.per_class_heatmap(pcs, stage))
        else:
            st.info("No per-class values for that stage.")

    with st.expander("Raw tables"):
        st.dataframe(summary, hide_index=True)
        st.dataframe(study.runs, hide_index=True)
    files = study.files
    c1, c2 = st.columns(2)
    if "html" in files and files["html"].exists():
        c1.download_button(
            "Download the HTML report",
            files["html"].read_bytes(),
            file_name=f"{study.name}.html",
            mime="text/html",
        )
    if "summary" in files and files["summary"].exists():
        c2.download_button(
            "Download results.csv",
            files["summary"].read_bytes(),
            file_name=f"{study.name}-results.csv",
            mime="text/csv",
        )
