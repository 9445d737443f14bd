"""Compare runs: filter the MLflow runs, overlay curves, see what differs, sweep λ, seeds."""

import streamlit as st

from lossesbox.app.widgets import page_setup, preload

page_setup("Compare runs")
preload()  # every heavy import, once per server, in this thread: no import race

import numpy as np
import pandas as pd

from lossesbox.app.runs import (
    differing_params,
    group_by_all_but_seed,
    histories_wide,
    lambda_sweep_frame,
    metric_summary,
    parent_run_ids,
    runs_table,
)
from lossesbox.app.widgets import (
    PERSIST,
    friendly_errors,
    mlflow_ui_command,
    mlflow_ui_url,
    tracking_uri,
)
from lossesbox.charts import lambda_sweep_chart, runs_overlay_chart, spread_chart

st.title("Compare runs")

CREATE_RUNS = (
    "python -m lossesbox sweep --dataset wine --losses mse,exp_mse,cross_entropy \\\n"
    "    --lams 1e-4,1e-3,1e-2,1e-1 --seeds 0,1,2 --validation-fraction 0.2"
)
SPREAD_METRICS = (
    "test_accuracy",
    "val_accuracy",
    "train_accuracy",
    "test_log_loss",
    "objective",
    "wrong_way_share",
    "weight_norm",
)
SWEEP_METRICS = ("test_accuracy", "val_accuracy", "train_accuracy", "test_log_loss")
X_MODES = {"epoch": "epoch", "log": "log epoch", "fraction": "fraction"}
DEFAULT_METRICS = ["objective", "val_accuracy", "train_accuracy", "wrong_way_share"]


@st.cache_data(ttl=10, show_spinner="Reading the runs from MLflow…")
def load_runs(uri: str) -> pd.DataFrame:
    from lossesbox.tracking import list_runs

    return list_runs(tracking_uri=uri)


@st.cache_data(ttl=60, max_entries=32, show_spinner="Loading metric histories…")
def load_histories(uri: str, run_ids: tuple[str, ...]) -> pd.DataFrame:
    from lossesbox.tracking import get_histories

    return get_histories(list(run_ids), tracking_uri=uri)


def unique(values) -> list:
    return sorted(
        {v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))}, key=str
    )


c1, c2 = st.columns([5, 1])
c1.caption(f"Store: `{tracking_uri()}` · also browse it with `{mlflow_ui_command()}`")
if c2.button("Refresh", key="cr_refresh", help="Read the store again (new runs)"):
    load_runs.clear()
    load_histories.clear()

# --- Runs kept in the local spool (the store was down or hung while they ran) -------------
with friendly_errors("Reading the local spool"):
    from lossesbox.tracking import describe_spools, spool_root, sync_spools

    spooled = describe_spools(tracking_uri())
    if len(spooled):
        with st.container(border=True):
            st.warning(
                f"**{len(spooled)} run(s) not delivered** to the MLflow store yet (it was down "
                f"or hung while they ran); kept in `{spool_root(tracking_uri())}`. **Sync** sends "
                "them (the same as `python -m lossesbox sync`); a run whose process still "
                "trains is skipped."
            )
            st.dataframe(spooled.drop(columns="path"), hide_index=True, width="stretch")
            if st.button("Sync", key="cr_sync", type="primary"):
                with st.spinner("Sending the spooled runs…"):
                    results = sync_spools(tracking_uri())
                st.session_state["cr_synced"] = [(r.outcome, r.line()) for r in results]
                load_runs.clear()
                load_histories.clear()
                st.rerun()  # list what is left, show the delivered runs below
    for outcome, line in st.session_state.pop("cr_synced", []):
        (st.success if outcome == "delivered" else st.warning)(line)

runs = None
with friendly_errors(
    "Reading the MLflow store", "Check MLFLOW_TRACKING_URI (or start the tracking server)."
):
    runs = load_runs(tracking_uri())

if runs is not None and len(runs) == 0:
    st.info(
        "No runs yet. Train one on the **Train** page, or create a small λ sweep over three "
        "losses and three seeds from a terminal:"
    )
    st.code(CREATE_RUNS, language="bash")
elif runs is not None:
    parents = parent_run_ids(runs)
    table = runs_table(runs)
    # --- Filters -----------------------------------------------------------------------------
    with st.expander("Filters", expanded=True):
        f = st.columns(6)
        experiments = f[0].multiselect(
            "Experiment", unique(table["experiment"]), key="cr_f_exp", persist_state=PERSIST
        )
        datasets = f[1].multiselect(
            "Dataset", unique(table["dataset"]), key="cr_f_data", persist_state=PERSIST
        )
        models = f[2].multiselect(
            "Model", unique(table["model"]), key="cr_f_model", persist_state=PERSIST
        )
        losses = f[3].multiselect(
            "Loss", unique(table["loss"]), key="cr_f_loss", persist_state=PERSIST
        )
        solvers = f[4].multiselect(
            "Solver", unique(table["solver"]), key="cr_f_solver", persist_state=PERSIST
        )
        statuses = f[5].multiselect(
            "Status", unique(table["status"]), key="cr_f_status", persist_state=PERSIST
        )
        g = st.columns([3, 1])
        search = g[0].text_input("Search run names", "", key="cr_f_search", persist_state=PERSIST)
        hide_parents = g[1].toggle(
            "Hide sweep/study parents", value=True, key="cr_f_parents", persist_state=PERSIST
        )
    keep = pd.Series(True, index=table.index)
    for column, chosen in (
        ("experiment", experiments),
        ("dataset", datasets),
        ("model", models),
        ("loss", losses),
        ("solver", solvers),
        ("status", statuses),
    ):
        if chosen:
            keep &= table[column].isin(chosen)
    if search.strip():
        keep &= table["run"].str.contains(search.strip(), case=False, regex=False)
    if hide_parents:
        keep &= ~table.index.isin(parents)
    shown = table[keep]
    picked = st.dataframe(
        shown.drop(columns=["start_time"]).assign(started=shown["start_time"]),
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        key="cr_table",
        column_config={
            "lam": st.column_config.NumberColumn("λ", format="%.2g"),
            "learning_rate": st.column_config.NumberColumn("lr", format="%.3g"),
            "max_epochs": st.column_config.NumberColumn("epochs", format="%d"),
            "seed": st.column_config.NumberColumn("seed", format="%d"),
            **{m: st.column_config.NumberColumn(m, format="%.4f") for m in SPREAD_METRICS},
            "started": st.column_config.DatetimeColumn(
                "started (UTC)", format="YYYY-MM-DD HH:mm:ss"
            ),
        },
    )
    st.caption(
        f"{len(shown)} of {len(table)} runs. `weight_norm` is ‖W‖_F, recovered from the final "
        "penalty (λ/2)‖W‖² when no `weight_norm` metric was logged."
    )

    # --- Selection -------------------------------------------------------------------------------
    # Runs are picked by ticking table rows, or by name here; both count.
    labels = dict(zip(shown.index, shown["run"], strict=True))
    ticked = [shown.index[i] for i in picked.selection.rows if i < len(shown)]
    stored = [r for r in st.session_state.get("cr_selected", []) if r in labels]
    if stored != st.session_state.get("cr_selected"):
        st.session_state["cr_selected"] = stored  # runs filtered away drop out of the selection
    named = st.multiselect(
        "Runs to compare (tick rows in the table, or choose them by name)",
        list(labels),
        format_func=labels.get,
        key="cr_selected",
        persist_state=PERSIST,
        placeholder="Choose runs by name",
    )
    selected = list(dict.fromkeys([*ticked, *named]))
    if selected:
        experiment_ids = dict(zip(runs["run_id"], runs["experiment_id"], strict=True))
        links = " · ".join(
            f"[{labels[r].split(' · ')[-1]}]({mlflow_ui_url(str(experiment_ids[r]), r)})"
            for r in selected
        )
        st.caption(f"In the MLflow UI: {links}")

    tab_curves, tab_params, tab_sweep, tab_seeds = st.tabs(
        ["Curves", "Parameters and metrics", "λ sweep", "Spread over seeds"]
    )
    hist = pd.DataFrame(columns=["run_id", "key", "step", "value"])
    if selected:
        with friendly_errors("Loading the selected runs' histories"):
            hist = load_histories(tracking_uri(), tuple(selected))
    keys = sorted(set(hist["key"])) if len(hist) else []
    max_epoch = int(hist["step"].max()) if len(hist) else 0

    with tab_curves:
        if not selected:
            st.info("Select runs above to overlay their curves.")
        elif not keys:
            st.warning("The selected runs have no per-epoch metrics.")
        else:
            c = st.columns([2, 3, 1, 2])
            default = "objective" if "objective" in keys else keys[0]
            metric = c[0].selectbox("Metric", keys, index=keys.index(default), key="cr_metric")
            x_mode = c[1].segmented_control(
                "x axis",
                list(X_MODES),
                default="epoch",
                format_func=X_MODES.get,
                key="cr_xmode",
                persist_state=PERSIST,
                help="Runs of very different lengths: a log axis, or each run's epochs as a "
                "fraction of its own length.",
            )
            log_y = c[2].toggle("log y", value=False, key="cr_logy", persist_state=PERSIST)
            marker_disabled = (x_mode or "epoch") == "fraction"
            epoch = c[3].slider(
                "Epoch marker",
                0,
                max(max_epoch, 1),
                max_epoch,
                key="cr_epoch",
                disabled=marker_disabled,
            )
            wide = histories_wide(hist)
            wide["run"] = wide["run_id"].map(labels)
            with friendly_errors("Drawing the curves"):
                st.altair_chart(
                    runs_overlay_chart(
                        wide,
                        metric,
                        log_y=log_y,
                        epoch=None if marker_disabled else epoch,
                        x=x_mode or "epoch",
                    )
                )

    with tab_params:
        if not selected:
            st.info("Select runs above to compare their parameters and metrics.")
        else:
            show_all = st.toggle(
                "Show all parameters", value=False, key="cr_allparams", persist_state=PERSIST
            )
            params = differing_params(runs, selected, all_params=show_all)
            if len(params) == 0:
                st.caption("The selected runs have identical parameters.")
            else:
                st.dataframe(params.astype(str))
            if keys:
                c = st.columns([3, 1])
                chosen = c[0].multiselect(
                    "Metrics",
                    keys,
                    default=[m for m in DEFAULT_METRICS if m in keys],
                    key="cr_metrics",
                )
                at_epoch = c[1].number_input(
                    "Values at epoch", 0, max(max_epoch, 0), max_epoch // 2, key="cr_at_epoch"
                )
                summary = metric_summary(hist, chosen, epoch=int(at_epoch), labels=labels)
                if len(summary):
                    st.dataframe(
                        summary,
                        hide_index=True,
                        column_config={
                            "last": st.column_config.NumberColumn(format="%.5g"),
                            "best": st.column_config.NumberColumn(format="%.5g"),
                            f"at epoch {int(at_epoch)}": st.column_config.NumberColumn(
                                format="%.5g"
                            ),
                        },
                    )
                    st.caption(
                        "Best = highest accuracy, lowest value otherwise; 'at epoch' is the last "
                        "value logged at or before that epoch."
                    )

    with tab_sweep:
        sweep = lambda_sweep_frame(runs[runs["run_id"].isin(shown.index)])
        # the metric most λ > 0 runs have (val_accuracy needs a validation split; a run
        # without one must not vanish from the sweep)
        options = [m for m in SWEEP_METRICS if m in sweep and sweep[m].notna().any()]
        have = {m: int(sweep.loc[sweep["lam"] > 0, m].notna().sum()) for m in options}
        best = max(options, key=lambda m: have[m]) if options else "test_accuracy"
        y_metric = (
            st.selectbox(
                "Metric",
                options,
                index=options.index(best),
                key="cr_sweep_metric",
                format_func=lambda m: f"{m} ({have[m]} runs with λ > 0)",
            )
            if options
            else best
        )
        positive = sweep[(sweep["lam"] > 0) & sweep[y_metric].notna()] if options else sweep[:0]
        if positive["lam"].nunique() < 2:
            st.info(
                "The λ-sweep view needs filtered runs with at least two λ > 0 values "
                "(λ = 0 has no place on a log axis). Create some with:"
            )
            st.code(CREATE_RUNS, language="bash")
        else:
            c1, c2 = st.columns(2)
            c1.altair_chart(lambda_sweep_chart(positive, y_metric, y_title=f"final {y_metric}"))
            c2.altair_chart(lambda_sweep_chart(positive, "weight_norm", y_title="‖W‖_F (final)"))
            st.caption(
                "One point per run, lines through the mean per loss. Filter by dataset first: "
                "runs of different datasets are mixed otherwise. Larger λ shrinks ‖W‖."
            )

    with tab_seeds:
        pool = selected if len(selected) >= 2 else list(shown.index)
        groups = group_by_all_but_seed(runs, pool)
        sizes = groups.value_counts()
        repeated = sizes[sizes > 1]
        if len(repeated) == 0:
            st.info(
                "No runs that differ only by their seed among the "
                + ("selected" if len(selected) >= 2 else "filtered")
                + " runs. Train the same settings with several seeds, e.g. `--seeds 0,1,2`."
            )
        else:
            frame = table.loc[groups.index].assign(group=groups.to_numpy())
            frame = frame[frame["group"].isin(repeated.index)]
            candidates = [m for m in SPREAD_METRICS if m in frame and frame[m].notna().any()]
            metric = st.selectbox(
                "Metric", candidates, key="cr_spread_metric", persist_state=PERSIST
            )
            st.altair_chart(spread_chart(frame, metric))
            stats = frame.groupby("group")[metric].agg(["count", "mean", "std", "min", "max"])
            st.dataframe(
                stats,
                column_config={
                    c: st.column_config.NumberColumn(format="%.4f")
                    for c in ("mean", "std", "min", "max")
                },
            )
